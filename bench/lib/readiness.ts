import { setTimeout as sleep } from "node:timers/promises";
import { BenchError, logTail, throwIfAborted } from "./bench-errors.ts";
import type { SystemUnderTest } from "./system-under-test.ts";

/** How often readiness is polled. */
const POLL_INTERVAL_MS = 200;

/** One HTTP request and the status that means "yes". */
export interface ExpectedAnswer {
  readonly method: "GET" | "POST";
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly status: number;
}

/** How long to keep asking, and what to call the wait in an error. */
export interface WaitOptions {
  /** Names what did not become ready, e.g. "the gateway did not become ready". */
  readonly what: string;
  readonly timeoutMs: number;
  /** How long one attempt may take. */
  readonly attemptTimeoutMs: number;
  readonly signal: AbortSignal;
}

/**
 * Sends `request` to `system` every 200 ms until it is answered with the expected status.
 * Throws BenchError naming what did not become ready, the URL, the last answer and the system's
 * log (with its last lines) when the system exits or the bound passes; BenchAborted once the
 * signal fires.
 */
export async function waitForAnswer(
  system: SystemUnderTest,
  request: ExpectedAnswer,
  { what, timeoutMs, attemptTimeoutMs, signal }: WaitOptions,
): Promise<void> {
  const url = `${system.baseUrl}${request.path}`;
  const deadline = Date.now() + timeoutMs;
  let last: string;
  for (;;) {
    throwIfAborted(signal);
    try {
      const response = await fetch(url, {
        method: request.method,
        headers: request.headers ?? {},
        ...(request.body === undefined ? {} : { body: request.body }),
        signal: AbortSignal.any([signal, AbortSignal.timeout(attemptTimeoutMs)]),
      });
      await response.body?.cancel();
      if (response.status === request.status) return;
      last = `last answer ${response.status}`;
    } catch (error) {
      throwIfAborted(signal);
      last = `last attempt: ${error instanceof Error ? error.message : String(error)}`;
    }
    const gone = system.exitReason();
    const reason = gone ?? (Date.now() > deadline ? `not within ${timeoutMs / 1000} s (${last})` : null);
    if (reason !== null) {
      const tail = logTail(system.logPath);
      throw new BenchError(
        `${what}: ${request.method} ${url} was not answered ${request.status}: ${reason}.\n` +
          `  Its log: ${system.logPath}` +
          (tail === "" ? "" : `\n  Last lines:\n${tail}`),
      );
    }
    await sleep(POLL_INTERVAL_MS);
  }
}
