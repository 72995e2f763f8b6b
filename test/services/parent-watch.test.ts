// A service started by the launcher stops when the launcher is gone, also while it is still
// starting: an acceptor whose Redis accepts connections but never answers waits in its first
// store open, before it supervises anything, and must not outlive `npm start` (one did, for hours).
import { createServer, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNats, type NatsServer } from "../support/nats-server.ts";
import { listenPort, killAll, startNode } from "./support/processes.ts";

describe("a service whose launcher is gone", () => {
  let nats: NatsServer;
  let silentRedis: Server;
  const sockets: Socket[] = [];
  let redisPort: number;

  beforeAll(async () => {
    nats = await startNats();
    redisPort = await listenPort();
    // Accepts and never answers: the store's first open waits on it.
    silentRedis = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silentRedis.listen(redisPort, "127.0.0.1", resolve));
  });

  afterAll(async () => {
    await killAll();
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => silentRedis.close(() => resolve()));
    await nats.stop();
  });

  it("stops while still opening its store, and says why", async () => {
    const env = {
      PAXOS_CLUSTER: "parent",
      NATS_URL: nats.url,
      PAXOS_DEV_NATS_ANONYMOUS: "1",
      PAXOS_ACCEPTOR_IDS: "a1,a2,a3",
      PAXOS_ACCEPTOR_ID: "a1",
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      PAXOS_ADMIN_PORT: "0",
      LOG_LEVEL: "info",
    };
    // A positive control first: with its real parent named, it keeps waiting on the silent Redis.
    const supervised = startNode("acceptor (parent alive)", "services/acceptor/src/main.ts", {
      ...env,
      PAXOS_PARENT_PID: String(process.pid),
    });
    await expect(supervised.waitExit(3_000)).rejects.toThrow();
    expect(supervised.done).toBe(false);
    // Named parent that is not its parent (as after the launcher died): it stops within seconds.
    const orphan = startNode("acceptor (parent gone)", "services/acceptor/src/main.ts", {
      ...env,
      PAXOS_PARENT_PID: "1",
    });
    expect(await orphan.waitExit(10_000)).toBe(0);
    const output = orphan.lines.join("\n");
    expect(output).toContain("the launcher that started this process is gone");
    // It stopped during its first store open (whose Redis commands time out after 2 s), not after.
    expect(output).not.toContain("store unavailable");
  }, 30_000);
});
