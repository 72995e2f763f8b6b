import { randomInt } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";

/** The lowest port `listenPort` picks from, above the usual fixed ports of local services. */
const FIXED_PORT_MIN = 10_000;
/** How many random ports `listenPort` tries before it falls back to one the kernel picks. */
const FIXED_PORT_ATTEMPTS = 50;

/** Ports `listenPort` returned in this process: none is returned twice, as none is bound yet. */
const handedOut = new Set<number>();

/**
 * A free port for a server that binds it only later: `npm start` picks every server's and role's
 * port before it starts them, and the bench and the tests do the same for theirs. It is drawn
 * below the kernel's ephemeral range (/proc/sys/net/ipv4/ip_local_port_range), from which every
 * `listen(0)` and outgoing connection on this machine takes its ports: a port from inside that
 * range is soon handed to someone else (seen here: an acceptor's port went to another role's
 * connection to Redis, and the acceptor exited with EADDRINUSE; another test's admin server
 * answered the gateway's /readyz). Never the same port twice in one process. Falls back to
 * `freePort` where the range is unknown or starts too low.
 */
export async function listenPort(): Promise<number> {
  const ephemeralMin = ephemeralRangeStart();
  if (ephemeralMin === null || ephemeralMin <= FIXED_PORT_MIN + FIXED_PORT_ATTEMPTS) return await freePort();
  for (let attempt = 0; attempt < FIXED_PORT_ATTEMPTS; attempt++) {
    const port = randomInt(FIXED_PORT_MIN, ephemeralMin);
    if (handedOut.has(port)) continue;
    // Taken before the check, so that concurrent calls cannot both draw it.
    handedOut.add(port);
    if (await isFree(port)) return port;
    handedOut.delete(port);
  }
  return await freePort();
}

function ephemeralRangeStart(): number | null {
  try {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    return Number.isSafeInteger(low) && low > 0 ? low : null;
  } catch {
    return null;
  }
}

/** True when nothing listens on `port` on any interface (as the cluster launcher checks it). */
async function isFree(port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen(port, () => server.close(() => resolve(true)));
  });
}

/** Asks the kernel for a free loopback port, releases it and returns it. */
async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      if (address === null || typeof address === "string") {
        reject(new Error("the kernel gave no port"));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}
