// ProposalService through a leader failover, on a fake clock with the default limits (10 s
// proposal timeout, elections of about 1.5 s): it retries refusals until the deadline, answers 503
// exactly then, keeps its attempt count within the derived budget, and stops when the client goes.
// A scripted ClusterPort answers propose requests by proposer and time; no bus, no HTTP.
import { pino } from "pino";
import { Registry } from "prom-client";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ClusterPort, LearnerRead, LogEntryView, ProposeResult } from "./cluster-port.ts";
import { DeliveryWaiters } from "./delivery-waiters.ts";
import { DEFAULT_GATEWAY_LIMITS, type GatewayLimits, gatewayLimits, proposeAttemptsWithin } from "./gateway-limits.ts";
import { GatewayMetrics } from "./gateway-metrics.ts";
import { LeaderTracker } from "./leader-tracker.ts";
import { HttpProblem } from "./problem.ts";
import { type ProposalResult, ProposalService } from "./proposal-service.ts";

/**
 * A ClusterPort whose proposers answer by `script`; a "queued" request is delivered 10 ms later
 * when `delivers` says that proposer gets it decided.
 */
class ScriptedCluster implements ClusterPort {
  readonly calls: { readonly proposerId: string; readonly requestId: string; readonly atMs: number }[] = [];
  script: (proposerId: string) => ProposeResult = () => ({ status: "noResponders" });
  delivers: (proposerId: string) => boolean = () => true;
  readonly #waiters: DeliveryWaiters;

  constructor(waiters: DeliveryWaiters) {
    this.#waiters = waiters;
  }

  propose(proposerId: string, requestId: string, payload: LogEntryView["value"]): Promise<ProposeResult> {
    this.calls.push({ proposerId, requestId, atMs: Date.now() });
    const result = this.script(proposerId);
    if (result.status === "queued" && this.delivers(proposerId)) {
      setTimeout(() => {
        this.#waiters.dispatch({ learnerId: "l1", kind: "delivered", index: 0, requestId, value: payload });
      }, 10);
    }
    return Promise.resolve(result);
  }

  readEntry(): Promise<LearnerRead<LogEntryView | null>> {
    return Promise.resolve({ answered: 1, result: null });
  }

  readRange(from: number): Promise<LearnerRead<{ entries: LogEntryView[]; next: number }>> {
    return Promise.resolve({ answered: 1, result: { entries: [], next: from } });
  }

  /** How long an Idempotency-Key's lookup takes; it finds nothing. */
  lookupMs = 0;

  lookup(): Promise<LearnerRead<LogEntryView | null>> {
    return new Promise((resolve) => setTimeout(() => resolve({ answered: 1, result: null }), this.lookupMs));
  }

  learnerStatuses(): Promise<[]> {
    return Promise.resolve([]);
  }

  onDelivery(): () => void {
    return () => undefined;
  }
}

interface Rig {
  readonly cluster: ScriptedCluster;
  readonly leaders: LeaderTracker;
  readonly service: ProposalService;
  readonly limits: GatewayLimits;
}

function rig(overrides: Partial<GatewayLimits> = {}, random: () => number = Math.random): Rig {
  const limits = gatewayLimits(overrides);
  const waiters = new DeliveryWaiters();
  const cluster = new ScriptedCluster(waiters);
  const leaders = new LeaderTracker({ staleMs: limits.leaderStaleMs, now: () => Date.now() });
  const metrics = new GatewayMetrics(new Registry());
  const logger = pino({ level: "silent" });
  const service = new ProposalService({ cluster, waiters, leaders, limits, metrics, logger, random });
  return { cluster, leaders, service, limits };
}

/** Heartbeats `proposerId` at `round` every 250 ms (the default interval) until the returned stop. */
function heartbeats(leaders: LeaderTracker, proposerId: string, round: number): () => void {
  leaders.heartbeat({ round, proposerId });
  const timer = setInterval(() => leaders.heartbeat({ round, proposerId }), 250);
  return () => clearInterval(timer);
}

type Outcome = { readonly atMs: number } & (
  { readonly ok: true; readonly result: ProposalResult } | { readonly ok: false; readonly problem: HttpProblem }
);

/** Submits, and records when and how the submission settles (read `outcome.current`). */
function submit(service: ProposalService, requestId: string, signal = new AbortController().signal) {
  const outcome: { current: Outcome | null } = { current: null };
  void service.submit({ requestId, value: "v", idempotencyKey: null }, signal).then(
    (result) => (outcome.current = { atMs: Date.now(), ok: true, result }),
    (error: unknown) => {
      if (!(error instanceof HttpProblem)) throw error;
      outcome.current = { atMs: Date.now(), ok: false, problem: error };
    },
  );
  return outcome;
}

let startMs: number;

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
  startMs = Date.now();
});

afterEach(() => {
  vi.useRealTimers();
});

describe("ProposalService during a leader failover (fake clock, default limits)", () => {
  it("rides through an election longer than the old attempt budget", async () => {
    // p1, deposed, points at p2; p2, a candidate, points back at p1; 900 ms in, p1 dies (no
    // responders, no more heartbeats); 1.8 s in, p2 wins and heartbeats at a higher round.
    const { cluster, leaders, service, limits } = rig();
    let stopP1 = heartbeats(leaders, "p1", 3);
    let p2Leads = false;
    let p1Alive = true;
    cluster.script = (proposerId) => {
      if (proposerId === "p1") return p1Alive ? { status: "notLeader", leaderHint: "p2" } : { status: "noResponders" };
      return p2Leads ? { status: "queued" } : { status: "notLeader", leaderHint: "p1" };
    };
    const outcome = submit(service, "r-election");
    await vi.advanceTimersByTimeAsync(900);
    p1Alive = false;
    stopP1();
    await vi.advanceTimersByTimeAsync(900);
    expect(outcome.current).toBeNull();
    p2Leads = true;
    stopP1 = heartbeats(leaders, "p2", 4);
    await vi.advanceTimersByTimeAsync(limits.proposeBackoffMsMax + 50);
    stopP1();

    expect(outcome.current).toMatchObject({ ok: true, result: { replayed: false, entry: { index: 0 } } });
    expect(outcome.current?.atMs).toBeGreaterThanOrEqual(startMs + 1_800);
    // More requests than the old budget of 8, all with the same request id.
    expect(cluster.calls.length).toBeGreaterThan(8);
    expect(cluster.calls.length).toBeLessThanOrEqual(limits.proposeAttemptsMax);
    expect(new Set(cluster.calls.map((c) => c.requestId))).toEqual(new Set(["r-election"]));
  });

  it("answers 503 with Retry-After at the deadline, not before, when no leader is ever known", async () => {
    const { service, limits } = rig();
    const outcome = submit(service, "r-none");
    await vi.advanceTimersByTimeAsync(limits.proposalTimeoutMs - 10);
    expect(outcome.current).toBeNull();
    await vi.advanceTimersByTimeAsync(20);
    expect(outcome.current).toMatchObject({ ok: false, problem: { code: "unavailable" } });
    expect(outcome.current?.ok === false && outcome.current.problem.headers).toEqual({
      "Retry-After": String(limits.retryAfterSeconds),
    });
  });

  it("the attempt budget does not end a ride-through before the default timeout", async () => {
    // The worst case for the budget: the shortest pauses (jitter 0) and two proposers that point
    // at each other, so that every pause is preceded by a hint hop.
    const { cluster, leaders, service, limits } = rig({}, () => 0);
    expect(limits.proposeAttemptsMax).toBe(DEFAULT_GATEWAY_LIMITS.proposeAttemptsMax);
    const stop = heartbeats(leaders, "p1", 3);
    cluster.script = (proposerId) => ({ status: "notLeader", leaderHint: proposerId === "p1" ? "p2" : "p1" });
    const outcome = submit(service, "r-pingpong");
    await vi.advanceTimersByTimeAsync(limits.proposalTimeoutMs - 10);
    expect(outcome.current).toBeNull();
    await vi.advanceTimersByTimeAsync(20);
    stop();
    expect(outcome.current).toMatchObject({ ok: false, problem: { code: "unavailable" } });
    expect(cluster.calls.length).toBeLessThanOrEqual(limits.proposeAttemptsMax);
    // Retried right up to the deadline, with pauses no longer than the cap.
    const lastMs = cluster.calls.at(-1)?.atMs ?? 0;
    expect(lastMs).toBeGreaterThan(startMs + limits.proposalTimeoutMs - limits.proposeBackoffMsMax);
  });

  it("sends again to a new leader heard just before the holder's reply came", async () => {
    // p1 queues the request but dies with it; p2's higher-ballot heartbeat arrives before p1's
    // "queued" reply does, so the heartbeats already name p2 when the gateway learns p1 holds it.
    const { cluster, leaders, service } = rig();
    const stopP1 = heartbeats(leaders, "p1", 3);
    let stopP2 = (): void => undefined;
    cluster.delivers = (proposerId) => proposerId !== "p1";
    cluster.script = (proposerId) => {
      if (proposerId === "p1") {
        stopP1();
        stopP2 = heartbeats(leaders, "p2", 4);
      }
      return { status: "queued" };
    };
    const outcome = submit(service, "r-race");
    await vi.advanceTimersByTimeAsync(100);
    stopP2();
    expect(outcome.current).toMatchObject({ ok: true });
    expect(cluster.calls.map((c) => c.proposerId)).toEqual(["p1", "p2"]);
  });

  it("sends again to the holder when it leads again at a higher ballot (it stepped down meanwhile)", async () => {
    // p1 queues the request at round 1, is nacked out by a duel, drops what it held and wins
    // again at round 2: the same proposer, a new ballot, and the request is gone unless resent.
    const { cluster, leaders, service } = rig();
    let stop = heartbeats(leaders, "p1", 1);
    let reelected = false;
    cluster.delivers = () => reelected;
    cluster.script = () => ({ status: "queued" });
    const outcome = submit(service, "r-reelected");
    await vi.advanceTimersByTimeAsync(500);
    expect(outcome.current).toBeNull();
    stop();
    reelected = true;
    stop = heartbeats(leaders, "p1", 2);
    await vi.advanceTimersByTimeAsync(100);
    stop();
    expect(outcome.current).toMatchObject({ ok: true });
    expect(cluster.calls.map((c) => c.proposerId)).toEqual(["p1", "p1"]);
  });

  it("answers 503 at once when the attempt budget is spent and no proposer took the request", async () => {
    const { cluster, leaders, service } = rig({ proposeAttemptsMax: 5 });
    const stop = heartbeats(leaders, "p1", 3);
    cluster.script = () => ({ status: "overloaded" });
    const outcome = submit(service, "r-budget");
    await vi.advanceTimersByTimeAsync(2_000);
    stop();
    expect(outcome.current).toMatchObject({ ok: false, problem: { code: "unavailable" } });
    expect(cluster.calls).toHaveLength(5);
  });

  it("stops retrying at once when the client goes away", async () => {
    const { cluster, leaders, service } = rig();
    const stop = heartbeats(leaders, "p1", 3);
    cluster.script = () => ({ status: "notLeader", leaderHint: null });
    const client = new AbortController();
    const outcome = submit(service, "r-gone", client.signal);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(outcome.current).toBeNull();
    const sent = cluster.calls.length;
    client.abort();
    await vi.advanceTimersByTimeAsync(0);
    expect(outcome.current).toMatchObject({ ok: false, problem: { code: "unavailable" }, atMs: startMs + 1_000 });
    await vi.advanceTimersByTimeAsync(5_000);
    stop();
    expect(cluster.calls).toHaveLength(sent);
  });

  it("ends every wait at once when closed, and refuses what comes after", async () => {
    const { cluster, leaders, service } = rig();
    const stop = heartbeats(leaders, "p1", 3);
    cluster.script = () => ({ status: "notLeader", leaderHint: null });
    const waiting = submit(service, "r-closing");
    await vi.advanceTimersByTimeAsync(1_000);
    expect(waiting.current).toBeNull();
    service.close();
    await vi.advanceTimersByTimeAsync(0);
    expect(waiting.current).toMatchObject({ ok: false, problem: { code: "unavailable" }, atMs: startMs + 1_000 });
    expect(service.inflight).toBe(0);
    const late = submit(service, "r-late");
    await vi.advanceTimersByTimeAsync(0);
    expect(late.current).toMatchObject({
      ok: false,
      problem: { code: "unavailable", detail: "The gateway is stopping" },
    });
    stop();
  });

  it("ends a keyed proposal closed while its Idempotency-Key was being looked up", async () => {
    const { cluster, leaders, service } = rig();
    const stop = heartbeats(leaders, "p1", 3);
    cluster.script = () => ({ status: "notLeader", leaderHint: null });
    cluster.lookupMs = 50;
    const outcome: { current: HttpProblem | null } = { current: null };
    void service
      .submit({ requestId: "c:k", value: "v", idempotencyKey: "k" }, new AbortController().signal)
      .catch((error: unknown) => (outcome.current = error as HttpProblem));
    await vi.advanceTimersByTimeAsync(10);
    service.close();
    await vi.advanceTimersByTimeAsync(40);
    expect(outcome.current).toMatchObject({ code: "unavailable" });
    expect(cluster.calls).toHaveLength(0);
    stop();
  });
});

describe("proposeAttemptsWithin", () => {
  it("grows with the timeout, so a longer PAXOS_PROPOSAL_TIMEOUT_MS gets a larger budget", () => {
    const base = { proposeBackoffMsMin: 25, proposeBackoffMsMax: 250 };
    const atDefault = proposeAttemptsWithin({ ...base, proposalTimeoutMs: 10_000 });
    expect(atDefault).toBe(DEFAULT_GATEWAY_LIMITS.proposeAttemptsMax);
    expect(proposeAttemptsWithin({ ...base, proposalTimeoutMs: 60_000 })).toBeGreaterThan(5 * atDefault);
    expect(gatewayLimits({ proposalTimeoutMs: 60_000 }).proposeAttemptsMax).toBeGreaterThan(atDefault);
    expect(gatewayLimits({ proposeAttemptsMax: 3 }).proposeAttemptsMax).toBe(3);
  });
});

describe("ProposalService backpressure", () => {
  /** Submits `value` as `requestId`; resolves with the 503's detail, or null once it is taken. */
  async function refusal(service: ProposalService, requestId: string, value: string): Promise<string | null> {
    let refused: string | null = null;
    void service
      .submit({ requestId, value, idempotencyKey: null }, new AbortController().signal)
      .catch((e: unknown) => {
        if (e instanceof HttpProblem && e.code === "unavailable") refused = e.detail;
      });
    await vi.advanceTimersByTimeAsync(1);
    return refused;
  }

  it("refuses with 503 and Retry-After past inflightProposalsMax or inflightProposalBytesMax, and takes more once they end", async () => {
    // No leader is ever heard: every proposal waits in the gateway until its deadline.
    const byCount = rig({ inflightProposalsMax: 2 });
    expect(await refusal(byCount.service, "c1", "v")).toBeNull();
    expect(await refusal(byCount.service, "c2", "v")).toBeNull();
    expect(await refusal(byCount.service, "c3", "v")).toBe("The gateway is waiting on too many proposals");
    expect(byCount.service.inflight).toBe(2);

    // ~1,050 bytes each (core's estimate): two fit in 2,500, a third does not, a small one does.
    const bySize = rig({ inflightProposalBytesMax: 2_500 });
    const big = "x".repeat(1_000);
    expect(await refusal(bySize.service, "b1", big)).toBeNull();
    expect(await refusal(bySize.service, "b2", big)).toBeNull();
    expect(await refusal(bySize.service, "b3", big)).toBe("The gateway is waiting on too many bytes of proposals");
    expect(await refusal(bySize.service, "s1", "small")).toBeNull();
    // Once the waiting ones end (503 at their deadline), their bytes are free again.
    await vi.advanceTimersByTimeAsync(bySize.limits.proposalTimeoutMs + 100);
    expect(bySize.service.inflight).toBe(0);
    expect(await refusal(bySize.service, "b4", big)).toBeNull();
  });
});
