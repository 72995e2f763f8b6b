// @paxos/client against a cluster of real processes (nats-server with the cluster's permission
// file, a redis-server per acceptor, 3 acceptors, 2 proposers, 2 learners, 2 REST gateways): the
// client logs in as a gateway user and proposes over NATS. Concurrent proposals get distinct
// indexes and each sits in both learners' logs exactly once; idempotency keys replay (also a key
// first sent through the REST gateway) and refuse another value; the leader stopped, proposals
// ride the failover; both proposers stopped (SIGSTOP), a proposal fails within its timeout, and
// the caller's signal and close() end a waiting one at once; bad credentials and permissions
// fail connect clearly.
import { randomBytes } from "node:crypto";
import { PaxosClient, PaxosClientError, type PaxosClientOptions } from "@paxos/client";
import type { JsonValue } from "@paxos/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { E2eCluster, LEARNER_IDS } from "../e2e/support/e2e-cluster.ts";
import { entryOf, postProposalRetrying, readLogsFromLearners } from "../e2e/support/http.ts";
import { ACCEPTOR_IDS, type ServiceProcess } from "../services/support/services.ts";

/** Rejects with what `promise` rejected with, or fails the test when it resolves. */
async function failure(promise: Promise<unknown>): Promise<PaxosClientError> {
  const outcome = await promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  if (outcome.ok) {
    const shown = outcome.value instanceof PaxosClient ? "a connected client" : JSON.stringify(outcome.value);
    throw new Error(`expected a rejection, got ${shown}`);
  }
  expect(outcome.error).toBeInstanceOf(PaxosClientError);
  return outcome.error as PaxosClientError;
}

/** Pauses `services` with SIGSTOP for the duration of `body`, then resumes them (SIGCONT), by pid. */
async function whileStopped<T>(services: readonly ServiceProcess[], body: () => Promise<T>): Promise<T> {
  for (const service of services) process.kill(service.pid, "SIGSTOP");
  try {
    return await body();
  } finally {
    for (const service of services) process.kill(service.pid, "SIGCONT");
  }
}

describe("PaxosClient over a cluster of real processes", () => {
  let cluster: E2eCluster;
  const clients: PaxosClient[] = [];

  /** A client logged in as gateway `g1` (as gateway A is too), closed after the file. */
  async function connect(overrides: Partial<PaxosClientOptions> = {}): Promise<PaxosClient> {
    const client = await PaxosClient.connect({
      servers: cluster.where.natsUrl,
      ...cluster.where.credentials.of("gateway", "g1"),
      cluster: cluster.where.cluster,
      acceptorIds: ACCEPTOR_IDS,
      ...overrides,
    });
    clients.push(client);
    return client;
  }

  beforeAll(async () => {
    cluster = await E2eCluster.start("client");
  }, 90_000);

  afterAll(async () => {
    await Promise.allSettled(clients.map((client) => client.close()));
    await cluster?.stop();
  }, 30_000);

  it("knows the leader the proposers report", async () => {
    const client = await connect();
    const leaderId = await client.waitForLeader(10_000);
    const { id } = await cluster.client.leaderOf(cluster.proposers, 10_000);
    expect(leaderId).toBe(id);
    expect(client.leader).toBe(id);
    expect(client.isConnected).toBe(true);
  });

  it("decides 50 concurrent proposals at distinct indexes, each once in both learners' logs", async () => {
    const client = await connect();
    const values = Array.from({ length: 50 }, (_, i) => ({ n: i, tag: randomBytes(4).toString("hex") }));
    const decided = await Promise.all(values.map((value) => client.propose(value)));

    expect(new Set(decided.map((d) => d.index)).size).toBe(values.length);
    expect(new Set(decided.map((d) => d.requestId)).size).toBe(values.length);
    decided.forEach((d, i) => {
      expect(d.value).toEqual(values[i]);
      expect(d.replayed).toBe(false);
    });

    const logLength = Math.max(...decided.map((d) => d.index)) + 1;
    await cluster.waitLearnersAt(logLength, 10_000);
    const logs = await readLogsFromLearners(cluster.client.bus, cluster.client.subjects, LEARNER_IDS.length, logLength);
    expect(logs).toHaveLength(LEARNER_IDS.length);
    for (const log of logs) {
      expect(log.map((entry) => entry.index)).toEqual(Array.from({ length: logLength }, (_, i) => i));
      for (const d of decided) {
        const holding = log.filter((entry) => entry.requestId === d.requestId);
        expect(holding).toEqual([{ index: d.index, value: d.value, requestId: d.requestId }]);
      }
    }
    expect(client.inflight).toBe(0);
  });

  it("replays an idempotency key, scoped to the client name, and refuses it with another value", async () => {
    const client = await connect();
    const key = `key-${randomBytes(6).toString("hex")}`;
    const value: JsonValue = { order: 17, items: ["a", "b"] };

    const first = await client.propose(value, { idempotencyKey: key });
    expect(first.replayed).toBe(false);
    const again = await client.propose({ items: ["a", "b"], order: 17 }, { idempotencyKey: key });
    expect(again).toEqual({ ...first, value: again.value, replayed: true });
    expect(again.value).toEqual(value);

    // Another connection under the same client name reaches the same entry; another name does not.
    const sameName = await connect();
    expect(await sameName.propose(value, { idempotencyKey: key })).toMatchObject({
      index: first.index,
      replayed: true,
    });
    const otherName = await connect({ clientName: "someone-else" });
    const other = await otherName.propose(value, { idempotencyKey: key });
    expect(other.replayed).toBe(false);
    expect(other.index).not.toBe(first.index);

    const conflict = await failure(client.propose({ order: 18 }, { idempotencyKey: key }));
    expect(conflict.code).toBe("conflict");
    expect(conflict.index).toBe(first.index);
    expect(conflict.message).toMatch(/different value/);
  });

  it("replays a key first sent through the REST gateway, as the gateway's client", async () => {
    // These gateways run with PAXOS_AUTH=none: their one client is "anonymous".
    const key = `rest-${randomBytes(6).toString("hex")}`;
    const created = await postProposalRetrying(cluster.gateway(0).url, { via: "rest" }, { key });
    expect(created.status, created.text).toBe(201);
    const client = await connect({ clientName: "anonymous" });
    const replayed = await client.propose({ via: "rest" }, { idempotencyKey: key });
    expect(replayed).toMatchObject({ index: entryOf(created).index, replayed: true, value: { via: "rest" } });
  });

  it("refuses what is not JSON before sending anything", async () => {
    const client = await connect();
    const holey: unknown[] = [1];
    holey[2] = 3;
    for (const value of [Number.NaN, { at: new Date() }, { missing: undefined }, holey]) {
      expect((await failure(client.propose(value as JsonValue))).code).toBe("invalidProposal");
    }
    let deep: JsonValue = 0;
    for (let i = 0; i < 100; i++) deep = [deep];
    expect((await failure(client.propose(deep))).code).toBe("invalidProposal");
    expect((await failure(client.propose(1, { idempotencyKey: "has space" }))).code).toBe("invalidProposal");
    expect((await failure(client.propose("x".repeat(2_000_000)))).code).toBe("tooLarge");
  });

  it("takes the cluster's PAXOS_LIMITS as `limits`: the largest and deepest value follow them", async () => {
    const client = await connect({ limits: { requestBytesMax: 2_000, payloadDepthMax: 4 } });
    // Both pass under the default limits.
    expect((await failure(client.propose("x".repeat(3_000)))).code).toBe("tooLarge");
    expect((await failure(client.propose([[[[[1]]]]]))).code).toBe("invalidProposal");
    expect((await client.propose("x".repeat(1_000))).value).toBe("x".repeat(1_000));
  });

  it("rides a failover when the leader stops", async () => {
    const client = await connect();
    const { proposer } = await cluster.client.leaderOf(cluster.proposers, 10_000);
    const before = await client.waitForLeader(10_000);
    await whileStopped([proposer], async () => {
      const decided = await client.propose({ during: "failover" });
      expect(decided.value).toEqual({ during: "failover" });
      expect(client.leader).not.toBe(before);
    });
  });

  it("fails within its timeout while both proposers are stopped; an abort or close() ends the wait at once", async () => {
    const proposalTimeoutMs = 3_000;
    const client = await connect({ proposalTimeoutMs });
    await client.waitForLeader(10_000);
    const closing = await connect({ proposalTimeoutMs: 60_000 });
    await closing.waitForLeader(10_000);

    await whileStopped(cluster.proposers, async () => {
      const startedMs = Date.now();
      const timedOut = await failure(client.propose({ during: "outage" }, { idempotencyKey: "outage-1" }));
      const tookMs = Date.now() - startedMs;
      expect(["unavailable", "outcomeUnknown"]).toContain(timedOut.code);
      if (timedOut.code === "unavailable") expect(timedOut.retryAfterSeconds).toBeGreaterThan(0);
      expect(timedOut.message).toMatch(/propose it again/);
      // The lookup of a keyed proposal and the deadline itself take a little beyond the timeout.
      expect(tookMs).toBeLessThan(proposalTimeoutMs + 1_500);

      const abortedAtMs = Date.now();
      const aborted = await failure(client.propose({ during: "abort" }, { signal: AbortSignal.timeout(300) }));
      expect(aborted.code).toBe("aborted");
      expect(Date.now() - abortedAtMs).toBeLessThan(1_500);

      const waiting = failure(closing.propose({ during: "close" }));
      await new Promise((resolve) => setTimeout(resolve, 500));
      const closedAtMs = Date.now();
      await closing.close();
      const closed = await waiting;
      expect(closed.code).toBe("closed");
      expect(Date.now() - closedAtMs).toBeLessThan(1_500);
      expect((await failure(closing.propose({ after: "close" }))).code).toBe("closed");
    });

    // Resumed, the proposers decide again (a new election may come first: the timeout covers it).
    const resumed = await connect();
    expect((await resumed.propose({ after: "outage" })).value).toEqual({ after: "outage" });
  });

  it("fails connect clearly on a wrong password, without showing it", async () => {
    const password = `wrong-${randomBytes(8).toString("hex")}`;
    const error = await failure(connect({ password }));
    expect(error.code).toBe("unauthorized");
    expect(error.message).toMatch(/gateway-g1/);
    expect(error.message).not.toContain(password);
  });

  it("fails connect as a user whose permissions are not a gateway's", async () => {
    const error = await failure(connect({ ...cluster.where.credentials.of("learner", "l1") }));
    expect(error.code).toBe("forbidden");
    expect(error.message).toMatch(/learner-l1.*gateway user/);
  });

  it("refuses bad options naming each one", async () => {
    const error = await failure(
      PaxosClient.connect({
        servers: [],
        user: "gateway g1",
        password: "",
        cluster: "client",
        acceptorIds: ["a1", "a1"],
        proposalTimeoutMs: 5,
      }),
    );
    expect(error.code).toBe("invalidOptions");
    for (const name of ["servers", "user", "password", "acceptorIds", "proposalTimeoutMs"]) {
      expect(error.message).toContain(name);
    }
  });
});
