// A leader change while every acceptor holds thousands of full-batch slots above a stuck slot
// (issue 7, hole 2: what an older version left behind, with the watermark stuck at slot 0). Each
// promise would carry ~65 MB; answered in ranges that fit one message, phase 1 completes and a
// new leader is elected within seconds, then fills the stuck slot and decides a new value. Real
// processes on a real nats-server and one real redis-server per acceptor.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AcceptedEntry, type ClientRequest, DEFAULT_LIMITS, requestBytes, slotValueBytes } from "@paxos/core";
import { RedisAcceptorStore } from "@paxos/store-redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NatsServer, startNats } from "../support/nats-server.ts";
import { type RedisServer, startRedis } from "../support/redis-server.ts";
import { testCredentials } from "../support/test-credentials.ts";
import { killAll } from "./support/processes.ts";
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

const CLUSTER = "longlog";
/** Slots held above the stuck slot 0 by every acceptor. */
const SLOTS = 2_000;

/** Bytes of each seeded batch: a quarter of the leader's largest, so that seeding stays quick. */
const BATCH_BYTES = 32 * 1024;

/** A large batch: requests of 3-byte characters up to BATCH_BYTES. */
function fullBatch(slot: number): ClientRequest[] {
  const requests: ClientRequest[] = [];
  let bytes = 0;
  for (let i = 0; ; i++) {
    const request = { id: `old-${slot}-${i}`, payload: "漢".repeat(1_300) };
    if (bytes + requestBytes(request) > BATCH_BYTES) return requests;
    bytes += requestBytes(request);
    requests.push(request);
  }
}

/** Writes `SLOTS` accepted full batches in slots 1..SLOTS into the acceptor's Redis, slot 0 empty. */
async function seed(redisUrl: string, acceptorId: string): Promise<void> {
  const store = new RedisAcceptorStore({
    redisUrl,
    cluster: CLUSTER,
    acceptorId,
    allowInit: true,
    unsafeSkipDurabilityChecks: false,
    commandTimeoutMs: 5_000,
  });
  await store.open();
  const ballot = { round: 1, proposerId: "old-00000000" };
  for (let slot = 1; slot <= SLOTS; slot++) {
    const accept: AcceptedEntry = { slot, ballot, value: { kind: "batch", requests: fullBatch(slot) } };
    await store.write({ promised: ballot, accept, chosenBelow: 0 });
  }
  await store.close();
}

describe("a leader change over a long log above a stuck slot", () => {
  let nats: NatsServer;
  let where: ServiceEnv;
  let client: TestClient;
  let dataDir: string;
  const redis: RedisServer[] = [];
  let proposers: ServiceProcess[] = [];
  let acceptors: ServiceProcess[] = [];

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "paxos-longlog-"));
    const credentials = testCredentials(CLUSTER);
    nats = await startNats({ credentials });
    where = { cluster: CLUSTER, natsUrl: nats.url, credentials };
    redis.push(...(await Promise.all(ACCEPTOR_IDS.map(() => startRedis()))));
    const value = { kind: "batch" as const, requests: fullBatch(1) };
    // Large batches indeed: within the leader's limit, and a promise of them all is far beyond one message.
    expect(slotValueBytes(value)).toBeGreaterThan(BATCH_BYTES * 0.9);
    expect(slotValueBytes(value)).toBeLessThan(DEFAULT_LIMITS.batchBytesMax);
    expect(SLOTS * slotValueBytes(value)).toBeGreaterThan(50 * DEFAULT_LIMITS.messageBytesMax);
    await Promise.all(ACCEPTOR_IDS.map((id, i) => seed(redis[i]?.url ?? "", id)));
    acceptors = await Promise.all(ACCEPTOR_IDS.map((id, i) => startAcceptor(where, id, redis[i]?.url ?? "", false)));
    const learner = await startLearner(where, "l1", join(dataDir, "learner-l1"));
    client = await TestClient.connect(where);
    await Promise.all([...acceptors, learner].map((service) => waitReady(service, 60_000)));
  }, 240_000);

  afterAll(async () => {
    await client?.close();
    await killAll();
    for (const server of redis) await server.stop();
    await nats?.stop();
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  });

  it("elects a leader within seconds, and again after the leader is killed -9, then decides a new value", async () => {
    proposers = await Promise.all([startProposer(where, "p1"), startProposer(where, "p2")]);
    let startedMs = Date.now();
    const first = await client.leaderOf(proposers, 30_000).catch((error: unknown) => {
      const tails = [...proposers, ...acceptors].map((p) => `--- ${p.name}\n${p.lines.slice(-15).join("\n")}`);
      throw new Error(`${String(error)}\n${tails.join("\n")}`, { cause: error });
    });
    const firstElectionMs = Date.now() - startedMs;

    await first.proposer.proc.stop("SIGKILL");
    startedMs = Date.now();
    const second = await client.leaderOf(
      proposers.filter((p) => p !== first.proposer),
      30_000,
    );
    const secondElectionMs = Date.now() - startedMs;
    expect(second.id).not.toBe(first.id);
    // A leader timeout (1 s) plus jitter (0.5 s) before the election, then phase 1 over ~65 ranges.
    expect(firstElectionMs).toBeLessThan(15_000);
    expect(secondElectionMs).toBeLessThan(15_000);
    process.stdout.write(`long log: elected in ${firstElectionMs} ms, re-elected in ${secondElectionMs} ms\n`);

    // The new leader fills the stuck slot with a no-op, re-proposes the rest, and decides anew.
    const index = await client.proposeAndWait(proposers, "after-the-change", "new value", 120_000);
    expect(index).toBeGreaterThan(SLOTS);
  }, 240_000);
});
