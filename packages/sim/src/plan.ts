import { checkLimits, DEFAULT_LIMITS, invariant, type Limits } from "@paxos/core";
import { DEFAULT_HOST_LIMITS, type HostLimits } from "@paxos/drivers";
import type { Rng } from "./rng.ts";
import type { StoreFaults } from "./sim-stores.ts";

/**
 * The shape and fault mix of one simulated run, drawn from its seed. Mixes vary per seed: some
 * runs are calm, some lose a third of all messages, some crash processes every few hundred
 * milliseconds, some split the network; most combine several.
 */
export interface RunPlan {
  readonly acceptors: number;
  readonly proposers: number;
  readonly learners: number;
  readonly clients: number;
  readonly requestsPerClient: number;
  /** Requests a client keeps outstanding at once. */
  readonly clientConcurrency: number;
  /** A client resends a request not decided after this long, to another proposer. */
  readonly clientRetryMs: number;
  /** Faults are injected until this virtual time; then everything heals. */
  readonly faultPhaseMs: number;
  /** After healing, every submitted request must be decided within this long. */
  readonly livenessBoundMs: number;
  readonly dropProbability: number;
  readonly duplicateProbability: number;
  readonly delayMinMs: number;
  readonly delayMaxMs: number;
  /** Chance that a message is held back much longer than usual, so it overtakes others. */
  readonly reorderProbability: number;
  /** Chance, at each chaos tick, that a random process crashes. */
  readonly crashProbability: number;
  /** Chance, at each chaos tick, that a partition starts (when none is active). */
  readonly partitionProbability: number;
  /** Of partitions, the share that block one direction only. */
  readonly oneWayShare: number;
  /**
   * Chance, at each chaos tick, that a process turns slow for a while: everything it sends is
   * held back by a few hundred milliseconds (a gray failure: alive, but its answers arrive stale).
   */
  readonly slowNodeProbability: number;
  /**
   * Chance, at each chaos tick, that a process pauses (a GC stop, SIGSTOP, a starved VM) for
   * longer than a leader timeout: what it is sent waits, and on resuming its overdue timers fire
   * before it reads what waited, as in Node's event loop.
   */
  readonly pauseProbability: number;
  /** How the stores misbehave while faults are on. */
  readonly storeFaults: StoreFaults;
  /**
   * A slot far ahead that one acceptor holds a stale no-op for at the start, as an older version
   * could leave behind (issue 7, hole 5), or null. The next leader must fill the slots up to it
   * through its window, a few at a time.
   */
  readonly farSlot: number | null;
  /** Share of requests whose value is multi-byte text near requestBytesMax (full batches). */
  readonly largeRequestShare: number;
  /**
   * After healing and once every earlier request is decided, clients send this many bursts,
   * each after an idle period longer than a leader timeout. An idle leader must serve each burst
   * without a leader change.
   */
  readonly idleBursts: number;
  readonly idlePeriodMs: number;
  readonly requestsPerBurst: number;
  /** During each idle period, a follower proposer may pause past a leader timeout and resume. */
  readonly pauseFollowerInIdle: boolean;
  /** Acceptors that stay down after healing (always a minority). */
  readonly acceptorsDownAfterHeal: number;
  /** After healing, each request must be decided this long after it was sent (or after the heal). */
  readonly requestDecisionBoundMs: number;
  /**
   * Idle periods (each with its burst) in which the leader may change once the cluster settled:
   * one, for a promise an idle leader could not know of (see the simulation's settle rule) and
   * the duel that may follow it; every other idle period must keep its leader.
   */
  readonly burstsWithLeaderChangeMax: number;
  readonly chaosIntervalMs: number;
  /** How often the checkers look at liveness. */
  readonly checkIntervalMs: number;
  /** Protocol limits, with timeouts shortened to the simulated network's scale and sizes scaled down. */
  readonly limits: Limits;
  /** The drivers' limits, scaled the same way. */
  readonly hostLimits: HostLimits;
}

/**
 * Simulated limits: timeouts in the same ratios as production, scaled to millisecond network
 * delays, and sizes scaled down so that a handful of multi-byte requests fill a batch and a few
 * full batches fill a message: promises and catch-up answers then really are cut into ranges.
 */
export const SIM_LIMITS: Limits = Object.freeze({
  ...DEFAULT_LIMITS,
  inflightSlotsMax: 4,
  slotsAheadMax: 64,
  batchRequestsMax: 3,
  batchBytesMax: 4_096,
  requestBytesMax: 2_048,
  messageBytesMax: 12_288,
  heartbeatIntervalMs: 40,
  leaderTimeoutMs: 160,
  electionJitterMs: 120,
  acceptRetransmitMs: 60,
  prepareRetransmitMs: 60,
  catchupIntervalMs: 80,
  catchupSlotsMax: 16,
  // Production's proportions: eight full answers a second per requester, four requesters' worth
  // in total. One a second (tried) starves a learner that must catch up hundreds of slots of
  // large values after a far slot, past the 5 s liveness bound: the budget must stay well above
  // what a correct learner asks for. Its refusals are tested in the core and on real processes.
  catchupBytesPerSecondMax: 8 * 12_288,
  catchupTotalBytesPerSecondMax: 32 * 12_288,
});
invariant(checkLimits(SIM_LIMITS).length === 0, `SIM_LIMITS do not fit: ${checkLimits(SIM_LIMITS).join("; ")}`);

/** The drivers' simulated limits: a write timeout a few network delays long. */
export const SIM_HOST_LIMITS: HostLimits = Object.freeze({
  ...DEFAULT_HOST_LIMITS,
  storeWriteTimeoutMs: 40,
  storeReopenBackoffMinMs: 10,
  storeReopenBackoffMaxMs: 80,
  proposerTickIntervalMs: 10,
  learnerTickIntervalMs: 10,
  learnerAppendRetryMinMs: 10,
  learnerAppendRetryMaxMs: 80,
});

/**
 * Draws the plan of one run. Each fault kind is off in a share of runs so mixes differ, and the
 * window, batch and catch-up sizes vary too, down to one slot in flight and one request a batch.
 */
export function drawPlan(rng: Rng): RunPlan {
  const on = (share: number): boolean => rng.chance(share);
  const delayMinMs = rng.between(1, 5);
  const limits: Limits = {
    ...SIM_LIMITS,
    inflightSlotsMax: rng.between(1, 8),
    batchRequestsMax: rng.between(1, 6),
    catchupSlotsMax: rng.pick([2, 4, 16]),
  };
  const acceptors = rng.chance(0.7) ? 3 : 5;
  const storeFaultsOn = on(0.5);
  return {
    acceptors,
    proposers: rng.between(1, 3),
    learners: rng.between(1, 2),
    clients: rng.between(2, 5),
    requestsPerClient: rng.between(2, 15),
    clientConcurrency: rng.between(1, 3),
    clientRetryMs: rng.between(250, 500),
    faultPhaseMs: rng.between(1000, 6000),
    livenessBoundMs: 15_000,
    dropProbability: on(0.7) ? rng.next() * 0.3 : 0,
    duplicateProbability: on(0.5) ? rng.next() * 0.2 : 0,
    delayMinMs,
    delayMaxMs: delayMinMs + rng.between(1, 30),
    reorderProbability: on(0.5) ? rng.next() * 0.2 : 0,
    crashProbability: on(0.6) ? rng.next() * 0.15 : 0,
    partitionProbability: on(0.5) ? rng.next() * 0.1 : 0,
    oneWayShare: rng.next(),
    slowNodeProbability: on(0.4) ? rng.next() * 0.1 : 0,
    pauseProbability: on(0.3) ? rng.next() * 0.03 : 0,
    storeFaults: {
      crashBeforePersistProbability: on(0.3) ? rng.next() * 0.02 : 0,
      crashAfterPersistProbability: on(0.3) ? rng.next() * 0.02 : 0,
      lateWriteProbability: storeFaultsOn ? rng.next() * 0.01 : 0,
      slowWriteProbability: storeFaultsOn ? rng.next() * 0.02 : 0,
      failProbability: storeFaultsOn ? rng.next() * 0.02 : 0,
      lostReplyProbability: storeFaultsOn ? rng.next() * 0.02 : 0,
      learnerCrashBeforePersistProbability: on(0.3) ? rng.next() * 0.02 : 0,
      latencyMaxMs: rng.between(0, 3),
      writeTimeoutMs: SIM_HOST_LIMITS.storeWriteTimeoutMs,
    },
    farSlot: on(0.2) ? rng.between(100, 600) : null,
    largeRequestShare: on(0.6) ? rng.next() : 0,
    idleBursts: rng.between(2, 4),
    idlePeriodMs: Math.round(SIM_LIMITS.leaderTimeoutMs * (1.5 + rng.next() * 2)),
    requestsPerBurst: rng.between(1, 4),
    pauseFollowerInIdle: on(0.5),
    acceptorsDownAfterHeal: on(0.3) ? rng.between(1, Math.floor((acceptors - 1) / 2)) : 0,
    requestDecisionBoundMs: 5_000,
    burstsWithLeaderChangeMax: 1,
    chaosIntervalMs: 25,
    checkIntervalMs: 50,
    limits,
    // Acceptor writes one at a time, or pipelined: replies must still wait for every earlier write.
    // Learner appends grouped (up to a few slots, or many) while one is on its way.
    hostLimits: {
      ...SIM_HOST_LIMITS,
      acceptorWritesInFlightMax: rng.pick([1, 2, 8, 64]),
      learnerAppendSlotsMax: rng.pick([1, 4, 1024]),
    },
  };
}
