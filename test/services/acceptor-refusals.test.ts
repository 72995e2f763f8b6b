// An acceptor process refuses to vote when its storage cannot be trusted: a Redis that was
// FLUSHALL'd after the acceptor joined is amnesia (at start, or at its next write while running),
// a Redis without AOF is not durable (the log names the setting); either way the process sends
// nothing from that storage and exits non-zero (78).
// Real nats-server and redis-server; the acceptor as a real child process.
import type { Message } from "@paxos/core";
import { BusTransport, Subjects } from "@paxos/wire";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NatsServer, startNats } from "../support/nats-server.ts";
import { type RedisServer, startRedis } from "../support/redis-server.ts";
import { testCredentials } from "../support/test-credentials.ts";
import { killAll } from "./support/processes.ts";
import { connectAs, type ServiceEnv, startAcceptor, waitReady } from "./support/services.ts";

const EXIT_STORAGE_REFUSED = 78;

/** The `msg` of every JSON log line at `level`, one per line. */
function messages(lines: readonly string[], level: string): string {
  return lines
    .flatMap((line) => {
      try {
        const record = JSON.parse(line) as { level?: unknown; msg?: unknown };
        return record.level === level && typeof record.msg === "string" ? [record.msg] : [];
      } catch {
        return [];
      }
    })
    .join("\n");
}

describe("acceptor storage refusals", () => {
  let nats: NatsServer;
  let where: ServiceEnv;
  const servers: RedisServer[] = [];

  beforeAll(async () => {
    const credentials = testCredentials("refusals");
    nats = await startNats({ credentials });
    where = { cluster: "refusals", natsUrl: nats.url, credentials };
  }, 30_000);

  afterAll(async () => {
    await killAll();
    for (const server of servers) await server.stop();
    await nats?.stop();
  });

  it("refuses to vote from a Redis that was FLUSHALL'd, reporting amnesia", async () => {
    const redis = await startRedis();
    servers.push(redis);
    const first = await startAcceptor(where, "a1", redis.url, true);
    await waitReady(first, 15_000);
    expect(await first.proc.stop("SIGTERM")).toBe(0);

    await redis.cli("FLUSHALL");
    const second = await startAcceptor(where, "a1", redis.url, false);
    const code = await second.proc.waitExit(15_000);
    expect(code).toBe(EXIT_STORAGE_REFUSED);
    expect(messages(second.lines, "fatal")).toMatch(/refusing to vote: storage amnesia: /);
    expect(messages(second.lines, "info")).not.toContain("store open: voting");
  }, 30_000);

  it("stops voting, and exits, when its Redis is FLUSHALL'd while it runs", async () => {
    const redis = await startRedis();
    servers.push(redis);
    const acceptor = await startAcceptor(where, "a3", redis.url, true);
    await waitReady(acceptor, 15_000);
    await redis.cli("FLUSHALL");
    // A prepare makes the acceptor write; the write finds the identity gone. The test sends it
    // as a proposer, the one role that may prepare.
    const bus = await connectAs(where, "proposer", "test");
    const transport = new BusTransport({
      bus,
      subjects: new Subjects(where.cluster),
      acceptorIds: ["a1", "a2", "a3"],
      onDrop: () => undefined,
    });
    const proposerId = "px-00000000";
    const promises: Message[] = [];
    transport.subscribe({ role: "proposer", id: proposerId }, (msg) => promises.push(msg));
    try {
      const code = await (async () => {
        const deadline = Date.now() + 10_000;
        for (let round = 1; !acceptor.done && Date.now() < deadline; round++) {
          transport.publish(
            { role: "proposer", id: proposerId },
            { type: "prepare", ballot: { round, proposerId }, fromSlot: 0 },
          );
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        return await acceptor.proc.waitExit(1_000);
      })();
      expect(code).toBe(EXIT_STORAGE_REFUSED);
    } finally {
      await transport.close();
      await bus.close();
    }
    expect(promises).toEqual([]);
    expect(messages(acceptor.lines, "error")).toContain("store write failed");
    expect(messages(acceptor.lines, "fatal")).toMatch(/refusing to vote: storage amnesia: /);
  }, 30_000);

  it("refuses to start on a Redis without AOF, naming the setting", async () => {
    const redis = await startRedis({ aof: false });
    servers.push(redis);
    const acceptor = await startAcceptor(where, "a2", redis.url, true);
    const code = await acceptor.proc.waitExit(15_000);
    expect(code).toBe(EXIT_STORAGE_REFUSED);
    const fatal = messages(acceptor.lines, "fatal");
    expect(fatal).toMatch(/refusing to vote: storage notDurable: .*appendonly is "no", required "yes"/);
  }, 30_000);

  it("votes on that same Redis only in the explicit dev mode, and says so at warn", async () => {
    const redis = servers.at(-1);
    if (redis === undefined) throw new Error("no Redis from the previous test");
    const acceptor = await startAcceptor(where, "a2", redis.url, true, { PAXOS_DEV_UNSAFE_STORAGE: "1" });
    await waitReady(acceptor, 15_000);
    const warnings = messages(acceptor.lines, "warn");
    expect(warnings).toContain("PAXOS_DEV_UNSAFE_STORAGE");
    expect(warnings).toContain("UNSAFE STORAGE");
    expect(await acceptor.proc.stop("SIGTERM")).toBe(0);
  }, 30_000);
});
