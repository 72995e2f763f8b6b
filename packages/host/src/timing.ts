import { setTimeout as delay } from "node:timers/promises";

/** Resolves after `ms`; the timer does not keep the process alive. */
export function sleep(ms: number): Promise<void> {
  return delay(ms, undefined, { ref: false });
}

/** A step that did not finish within its bound. */
export class TimeoutError extends Error {
  override readonly name = "TimeoutError";
}

/**
 * Resolves or rejects as `promise` does, or rejects with TimeoutError after `timeoutMs`. The
 * underlying operation is not cancelled: callers must treat its outcome as unknown.
 */
export async function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`${what} took longer than ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
