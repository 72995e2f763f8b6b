import { connect, createServer } from "node:net";

/** Asks the kernel for a free loopback port, releases it and returns it. */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      if (address === null || typeof address === "string") {
        reject(new Error("no port"));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}

/** True when nothing listens on `port` on any interface, so the gateway can bind it. */
export async function portIsFree(port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen(port, () => server.close(() => resolve(true)));
  });
}

/**
 * Connects to `host:port`, optionally writes `send`, and resolves true once the first bytes the
 * server sends start with `expect` (false on any error, a close or after `timeoutMs`).
 */
export async function probe(
  host: string,
  port: number,
  send: string | null,
  expect: string,
  timeoutMs = 1_000,
): Promise<boolean> {
  return await new Promise((resolve) => {
    const socket = connect({ port, host });
    let reply = "";
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("error", () => done(false));
    socket.once("close", () => done(false));
    socket.once("connect", () => {
      if (send !== null) socket.write(send);
    });
    socket.on("data", (chunk) => {
      reply += chunk.toString("utf8");
      if (reply.length >= expect.length || reply.includes("\n")) done(reply.startsWith(expect));
    });
  });
}

/** A Redis answers PING with PONG (not LOADING, not an error). */
export function redisReady(host: string, port: number): Promise<boolean> {
  return probe(host, port, "PING\r\n", "+PONG");
}

/** A NATS server greets every connection with its INFO line. */
export function natsReady(host: string, port: number): Promise<boolean> {
  return probe(host, port, null, "INFO ");
}

/**
 * Polls `check` every `intervalMs` until it returns true, `gone()` returns a reason to give up, or
 * `timeoutMs` passes. Resolves null when ready, else the reason.
 */
export async function waitFor(
  check: () => Promise<boolean>,
  gone: () => string | null,
  timeoutMs: number,
  intervalMs = 100,
): Promise<string | null> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return null;
    const reason = gone() ?? (Date.now() > deadline ? `not ready after ${timeoutMs} ms` : null);
    if (reason !== null) return reason;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** GET `url` and resolve true on a 2xx answer (false on anything else, including no answer). */
export async function httpOk(url: string, timeoutMs = 1_000): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}
