// POST /v1/proposals through a leader failover (DESIGN.md, "REST API": 503 only when no quorum is
// reachable in time): the gateway keeps retrying refusals, timeouts and an unknown leader until
// `proposalTimeoutMs`, and answers 503 (or 504) only at that deadline. Real time over a MemoryBus
// with scripted proposers; every timing bound has a margin of a second or more for a busy machine.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { apiFetch, FakeCluster, keyedRequestId, postProposal, type RunningGateway, startGateway } from "./harness.ts";

let cluster: FakeCluster;
let gw: RunningGateway | null;

beforeEach(() => {
  cluster = new FakeCluster();
  gw = null;
});

afterEach(async () => {
  await gw?.close();
  await cluster.stop();
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Generous slack on "about the deadline": a loaded 2-core machine delays timers and sockets. */
const LATE_MS = 1_500;

/** A proposer's refusal during an election: it is not the leader and names `hint` (or nobody). */
const notLeader = (hint: string | null) => () => ({ status: "notLeader" as const, leaderHint: hint });
const queued = () => ({ status: "queued" as const, leaderHint: null });

/** The count of `paxos_gateway_proposals_total` with `outcome`, from the gateway's /metrics. */
async function proposalsWithOutcome(url: string, outcome: string): Promise<number> {
  const text = await (await apiFetch(`${url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`paxos_gateway_proposals_total{outcome="${outcome}"}`));
  return line === undefined ? 0 : Number(line.split(" ").at(-1));
}

describe("POST /v1/proposals during a leader failover", () => {
  it("rides through an election longer than the old attempt budget", async () => {
    // The old gateway gave up after 8 attempts 100 ms apart (under a second); an election takes
    // about 1.5 s. Here: the old leader p1 is deposed and points at p2, the candidate p2 still
    // points at p1; then p1 dies (no responders, and its heartbeats stop); 1.8 s in, p2 wins.
    gw = await startGateway(cluster, { proposalTimeoutMs: 8_000 });
    const old = cluster.proposer("p1-aaaaaaaa", 3).lead();
    const next = cluster.proposer("p2-bbbbbbbb", 3);
    await expect.poll(async () => (await apiFetch(`${gw?.url}/readyz`)).status).toBe(200);
    old.script = notLeader(next.proposerId);
    next.script = notLeader(old.proposerId);

    const startedAt = Date.now();
    const response = postProposal(gw.url, { value: "through the election" }, { key: "k-election" });
    await sleep(900);
    old.stop();
    await sleep(900);
    next.round = 4;
    next.script = queued;
    next.lead();

    const answer = await response;
    expect(answer.status).toBe(201);
    expect(await answer.json()).toEqual({ index: 0, value: "through the election", requestId: "k-election" });
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(1_800);
    // Every retry resent the same request id (learners deliver it once), and the two proposers
    // pointing at each other did not make the gateway spin.
    const sent = [...old.received, ...next.received];
    expect(new Set(sent.map((r) => r.requestId))).toEqual(new Set([keyedRequestId("k-election")]));
    expect(old.received.length).toBeGreaterThan(2);
    expect(next.received.length).toBeGreaterThan(2);
    expect(sent.length).toBeLessThan(60);
    expect(cluster.log.entries).toHaveLength(1);
  });

  it("retries an overloaded leader until it takes the request", async () => {
    gw = await startGateway(cluster, { proposalTimeoutMs: 8_000 });
    const leader = cluster.proposer("p1-aaaaaaaa", 3).lead();
    leader.script = () => ({ status: "overloaded", leaderHint: leader.proposerId });
    const response = postProposal(gw.url, { value: 1 });
    await expect.poll(() => leader.received.length).toBeGreaterThan(2);
    leader.script = queued;
    expect((await response).status).toBe(201);
  });

  it("waits for a leader that is elected after the request arrived", async () => {
    gw = await startGateway(cluster, { proposalTimeoutMs: 8_000 });
    const response = postProposal(gw.url, { value: "late leader" });
    await sleep(1_500);
    const leader = cluster.proposer("p1-aaaaaaaa", 1).lead();
    expect((await response).status).toBe(201);
    expect(leader.received).toHaveLength(1);
  });

  describe("503 with Retry-After at about the deadline, not before and not long after", () => {
    const timeoutMs = 1_000;
    it.each([
      ["no leader is ever heard", () => undefined],
      [
        "the only proposer keeps answering notLeader",
        () => {
          cluster.proposer("p1-aaaaaaaa", 3).lead().script = notLeader(null);
        },
      ],
      [
        "two proposers point at each other",
        () => {
          cluster.proposer("p1-aaaaaaaa", 3).lead().script = notLeader("p2-bbbbbbbb");
          cluster.proposer("p2-bbbbbbbb", 2).script = notLeader("p1-aaaaaaaa");
        },
      ],
      [
        "the leader stays overloaded",
        () => {
          cluster.proposer("p1-aaaaaaaa", 3).lead().script = () => ({ status: "overloaded", leaderHint: null });
        },
      ],
    ])("when %s", async (_name, arrange) => {
      arrange();
      gw = await startGateway(cluster, { proposalTimeoutMs: timeoutMs });
      await sleep(60);
      const startedAt = Date.now();
      const response = await postProposal(gw.url, { value: 1 }, { key: "k-deadline" });
      const elapsedMs = Date.now() - startedAt;
      expect(response.status).toBe(503);
      expect(Number(response.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect(await response.json()).toMatchObject({ status: 503, requestId: "k-deadline" });
      // Deadline timers may fire a millisecond early by the wall clock, never much.
      expect(elapsedMs).toBeGreaterThanOrEqual(timeoutMs - 50);
      expect(elapsedMs).toBeLessThan(timeoutMs + LATE_MS);
      expect(cluster.log.entries).toHaveLength(0);
    });
  });

  it("504, not 503, when a propose reply timed out and every later attempt was refused", async () => {
    gw = await startGateway(cluster, { proposalTimeoutMs: 1_500 });
    const leader = cluster.proposer("p1-aaaaaaaa", 3).lead();
    leader.deliver = false;
    leader.script = () => (leader.received.length === 1 ? "silent" : { status: "notLeader", leaderHint: null });
    await sleep(60);
    const startedAt = Date.now();
    const response = await postProposal(gw.url, { value: 1 }, { key: "k-unknown" });
    expect(response.status).toBe(504);
    expect(await response.json()).toMatchObject({ status: 504, requestId: "k-unknown" });
    expect(Date.now() - startedAt).toBeLessThan(1_500 + LATE_MS);
    expect(leader.received.length).toBeGreaterThan(1);
  });

  it("stops retrying at once when the client goes away", async () => {
    gw = await startGateway(cluster, { proposalTimeoutMs: 30_000 });
    const leader = cluster.proposer("p1-aaaaaaaa", 3).lead();
    leader.script = notLeader(null);
    await sleep(60);
    const client = new AbortController();
    const response = postProposal(gw.url, { value: 1 }, { signal: client.signal });
    await expect.poll(() => leader.received.length).toBeGreaterThan(2);
    const abortedAt = Date.now();
    client.abort();
    await expect(response).rejects.toThrow();
    // The proposal ends (and is counted) long before its 30 s deadline, and sends nothing more.
    await expect.poll(() => proposalsWithOutcome(gw?.url ?? "", "unavailable"), { timeout: 5_000 }).toBe(1);
    expect(Date.now() - abortedAt).toBeLessThan(LATE_MS);
    const sentThen = leader.received.length;
    await sleep(600);
    expect(leader.received.length).toBe(sentThen);
  });
});
