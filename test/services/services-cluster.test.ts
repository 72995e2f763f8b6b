// The role services as real processes on a real nats-server and one real redis-server per
// acceptor: 3 acceptors, 2 proposers and 1 learner choose the values a client proposes through the
// service API, and stay correct and live through kill -9 of an acceptor (which keeps its promise
// across the restart) and of the leading proposer (the other takes over; the log remains).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compareBallots } from "@paxos/core";
import { queryLearners } from "@paxos/wire";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NatsServer, startNats } from "../support/nats-server.ts";
import { type RedisServer, startRedis } from "../support/redis-server.ts";
import { testCredentials } from "../support/test-credentials.ts";
import { eventually, killAll } from "./support/processes.ts";
import {
  ACCEPTOR_IDS,
  type ServiceEnv,
  type ServiceProcess,
  startAcceptor,
  startLearner,
  startProposer,
  TestClient,
  waitReady,
} from "./support/services.ts";

describe("services on nats-server and redis-server", () => {
  let nats: NatsServer;
  let where: ServiceEnv;
  let client: TestClient;
  let dataDir: string;
  const redis = new Map<string, RedisServer>();
  const acceptors = new Map<string, ServiceProcess>();
  let proposers: ServiceProcess[] = [];
  let learner: ServiceProcess;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "paxos-services-"));
    const credentials = testCredentials("svc");
    const [natsServer, ...redisServers] = await Promise.all([
      startNats({ credentials }),
      ...ACCEPTOR_IDS.map(() => startRedis()),
    ]);
    nats = natsServer;
    where = { cluster: "svc", natsUrl: nats.url, credentials };
    ACCEPTOR_IDS.forEach((id, i) => {
      const server = redisServers[i];
      if (server !== undefined) redis.set(id, server);
    });
    const started = await Promise.all([
      ...ACCEPTOR_IDS.map((id) => startAcceptor(where, id, redis.get(id)?.url ?? "", true)),
      startLearner(where, "l1", join(dataDir, "learner-l1")),
      startProposer(where, "p1"),
      startProposer(where, "p2"),
    ]);
    ACCEPTOR_IDS.forEach((id, i) => {
      const acceptor = started[i];
      if (acceptor !== undefined) acceptors.set(id, acceptor);
    });
    const rest = started.slice(ACCEPTOR_IDS.length);
    if (rest[0] === undefined) throw new Error("no learner");
    learner = rest[0];
    proposers = rest.slice(1).filter((p) => p !== undefined);
    client = await TestClient.connect(where);
    await Promise.all([...acceptors.values(), learner].map((service) => waitReady(service, 20_000)));
  }, 30_000);

  afterAll(async () => {
    await client?.close();
    await killAll();
    for (const server of redis.values()) await server.stop();
    await nats?.stop();
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  });

  it("chooses the values proposed through the service API, and the learner reports them", async () => {
    const indexes: number[] = [];
    for (const n of [1, 2, 3]) indexes.push(await client.proposeAndWait(proposers, `a-${n}`, `value ${n}`, 10_000));
    expect(indexes).toEqual([0, 1, 2]);
    const answers = await queryLearners(client.bus, client.subjects, { op: "range", from: 0, limit: 10 }, 300);
    expect(answers).toEqual([
      {
        op: "range",
        entries: [1, 2, 3].map((n, i) => ({
          index: i,
          slot: expect.any(Number) as number,
          requestId: `a-${n}`,
          value: `value ${n}`,
        })),
        next: 3,
      },
    ]);
    const [status] = await queryLearners(client.bus, client.subjects, { op: "status" }, 300);
    expect(status).toMatchObject({ op: "status", learnerId: "l1", nextIndex: 3 });
  }, 30_000);

  it("keeps choosing with an acceptor killed -9, which restarts holding its promise", async () => {
    const a1 = acceptors.get("a1");
    const a1Redis = redis.get("a1");
    if (a1 === undefined || a1Redis === undefined) throw new Error("no a1");
    await eventually(() => (client.statuses.get("a1")?.promised.round ?? 0) > 0, 5_000, "a1 to report a promise");
    const before = client.statuses.get("a1")?.promised;
    if (before === undefined) throw new Error("no status");

    expect(await a1.proc.stop("SIGKILL")).toBe("SIGKILL");
    client.statuses.delete("a1");
    expect(await client.proposeAndWait(proposers, "b-1", "with a1 down", 10_000)).toBe(3);

    const restarted = await startAcceptor(where, "a1", a1Redis.url, false);
    acceptors.set("a1", restarted);
    await waitReady(restarted, 15_000);
    await eventually(() => client.statuses.has("a1"), 5_000, "a status from the restarted a1");
    const after = client.statuses.get("a1")?.promised;
    if (after === undefined) throw new Error("no status");
    expect(compareBallots(after, before)).toBeGreaterThanOrEqual(0);
    expect(client.statuses.get("a1")?.storage).toBe("ok");
    expect(await client.proposeAndWait(proposers, "b-2", "a1 back", 10_000)).toBe(4);
  }, 30_000);

  it("lets the other proposer take over within seconds when the leader is killed -9", async () => {
    const { proposer: leader, id: leaderId } = await client.leaderOf(proposers, 5_000);
    const others = proposers.filter((p) => p !== leader);
    expect(await leader.proc.stop("SIGKILL")).toBe("SIGKILL");
    const killedMs = Date.now();
    const next = await client.leaderOf(others, 8_000);
    expect(next.id).not.toBe(leaderId);
    expect(Date.now() - killedMs).toBeLessThan(5_000);

    const [range] = await queryLearners(client.bus, client.subjects, { op: "range", from: 0, limit: 10 }, 300);
    expect(range).toMatchObject({ op: "range", next: 5 });
    expect(await client.proposeAndWait(others, "c-1", "new leader", 10_000)).toBe(5);
    const [entry] = await queryLearners(client.bus, client.subjects, { op: "entry", index: 0 }, 300);
    expect(entry).toMatchObject({ op: "entry", entry: { index: 0, requestId: "a-1", value: "value 1" } });
  }, 30_000);
});
