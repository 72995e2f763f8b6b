import { connect, createServer } from "node:net";

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
 * server sends start with `expect` (false once they differ from it, on any error, a close or
 * after `timeoutMs`).
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
      // Decided as soon as the reply either holds `expect` or has parted from it.
      if (reply.startsWith(expect)) done(true);
      else if (!expect.startsWith(reply)) done(false);
    });
  });
}

/**
 * A Redis answers PING with PONG (not LOADING, not an error), after accepting `login` (AUTH) when
 * one is given: a Redis whose default user is off answers an anonymous PING with NOAUTH.
 */
export function redisReady(
  host: string,
  port: number,
  login: { readonly user: string; readonly password: string } | null = null,
): Promise<boolean> {
  const ping = respCommand(["PING"]);
  if (login === null) return probe(host, port, ping, "+PONG");
  return probe(host, port, respCommand(["AUTH", login.user, login.password]) + ping, "+OK\r\n+PONG");
}

/** `args` as one command in the Redis protocol (RESP), so that no argument needs quoting. */
function respCommand(args: readonly string[]): string {
  return `*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join("")}`;
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
