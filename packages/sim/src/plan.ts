import { DEFAULT_LIMITS, type Limits } from "@paxos/core";
import type { Rng } from "./rng.ts";

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
  /** Chance that an acceptor crashes during a step before its write reaches the disk. */
  readonly crashBeforePersistProbability: number;
  /** Chance that an acceptor crashes after its write reached the disk, before it replies. */
  readonly crashAfterPersistProbability: number;
  /** Chance that a learner crashes before it persisted what it learned. */
  readonly learnerCrashBeforePersistProbability: number;
  readonly chaosIntervalMs: number;
  readonly tickIntervalMs: number;
  /** Protocol limits, with timeouts shortened to the simulated network's scale. */
  readonly limits: Limits;
}

/** Simulated timeouts: the same ratios as production, scaled to millisecond network delays. */
export const SIM_LIMITS: Limits = Object.freeze({
  ...DEFAULT_LIMITS,
  inflightSlotsMax: 4,
  batchRequestsMax: 3,
  heartbeatIntervalMs: 40,
  leaderTimeoutMs: 160,
  electionJitterMs: 120,
  acceptRetransmitMs: 60,
  prepareRetransmitMs: 60,
  catchupIntervalMs: 80,
  catchupSlotsMax: 16,
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
  return {
    acceptors: rng.chance(0.7) ? 3 : 5,
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
    crashBeforePersistProbability: on(0.3) ? rng.next() * 0.02 : 0,
    crashAfterPersistProbability: on(0.3) ? rng.next() * 0.02 : 0,
    learnerCrashBeforePersistProbability: on(0.3) ? rng.next() * 0.02 : 0,
    chaosIntervalMs: 25,
    tickIntervalMs: 10,
    limits,
  };
}
