import { DEFAULT_LIMITS } from "@paxos/core";

/**
 * Every bound and timeout of the gateway, in one place. Names carry their unit last (then a
 * qualifier: `proposeBackoffMsMax`). Build them with `gatewayLimits` (tests pass shorter
 * timeouts); `DEFAULT_GATEWAY_LIMITS` is what the service runs with.
 */
export interface GatewayLimits {
  /** Largest request body, and largest proposal (core's estimate), in bytes. Larger: 413. */
  readonly requestBytesMax: number;
  /**
   * Deepest nesting of arrays and objects a proposed value may have. Deeper: 400. A value must
   * fit every message that carries it within core's `jsonDepthMax`, and the deepest one (a
   * promise: envelope, msg, accepted[], entry, value, requests[], request) adds 7 levels.
   */
  readonly valueDepthMax: number;
  /**
   * How long a POST may take from arrival to answer. Within it the gateway keeps retrying through
   * a leader failover (an election takes about `leaderTimeoutMs` + `electionJitterMs` plus phase 1);
   * past it the answer is 503 when no proposer ever took the request, else 504.
   */
  readonly proposalTimeoutMs: number;
  /** One NATS request to a proposer; no answer in time makes the outcome unknown (504, not 503). */
  readonly proposeRequestTimeoutMs: number;
  /**
   * The least time a propose request is given to answer: with less left before the deadline, no
   * more are sent. A request cut that short would mostly time out, and turn an answer of "surely
   * not queued" (503) into "unknown" (504). Must stay well below `proposalTimeoutMs`.
   */
  readonly proposeReplyMinMs: number;
  /**
   * Pause after the first propose attempt that got no useful answer (notLeader without a new hint,
   * overloaded, no responders, timeout). Each further refusal doubles it up to
   * `proposeBackoffMsMax`; every pause is drawn in [half, all] of its nominal length (jitter, so
   * that gateways retrying together spread out).
   */
  readonly proposeBackoffMsMin: number;
  /**
   * Longest pause between two propose attempts: how late, at worst, a POST retrying through an
   * election reaches the new leader after it is elected. (While no leader is known at all, a POST
   * waits for the first heartbeat instead, and sends at once when it comes.)
   */
  readonly proposeBackoffMsMax: number;
  /**
   * Propose requests one POST may send in all (first attempts, hint hops, retries, resends to a new
   * leader). It only stops a pathological loop: `gatewayLimits` derives it from the timeout and
   * the backoff (see `proposeAttemptsWithin`) so that refusals alone cannot spend it before
   * `proposalTimeoutMs` passes. Spent without any proposer taking the request: 503 at once.
   */
  readonly proposeAttemptsMax: number;
  /** A leader whose heartbeat is older than this is no longer known. */
  readonly leaderStaleMs: number;
  /** How long a read collects learner answers (it ends early once every learner answered). */
  readonly learnerQueryWaitMs: number;
  /** The `Retry-After` a 503 answer carries, in seconds. */
  readonly retryAfterSeconds: number;
  /** Proposals this gateway waits on at once; more are refused with 503. */
  readonly inflightProposalsMax: number;
  /** Default and largest `limit` of `GET /v1/log`. */
  readonly logPageLimitDefault: number;
  readonly logPageLimitMax: number;
  /** Entries one range read of the stream's backlog asks for. */
  readonly streamPageLimit: number;
  /** Period of the SSE comment that keeps proxies from closing an idle stream. */
  readonly streamKeepaliveMs: number;
  /** Live entries a stream holds ahead of a gap before it drops them and reads them back. */
  readonly streamBufferedEntriesMax: number;
  /** Streams open at once; more are refused with 503. */
  readonly streamsMax: number;
  /** How long a stream waits before asking learners again for a gap that live events skipped. */
  readonly streamGapRetryMs: number;
  /** An acceptor whose status is older than this is reported with storage "unknown". */
  readonly acceptorStatusStaleMs: number;
}

const BASE_LIMITS: Omit<GatewayLimits, "proposeAttemptsMax"> = {
  requestBytesMax: DEFAULT_LIMITS.requestBytesMax,
  valueDepthMax: DEFAULT_LIMITS.payloadDepthMax,
  proposalTimeoutMs: 10_000,
  proposeRequestTimeoutMs: 1_000,
  proposeReplyMinMs: 50,
  proposeBackoffMsMin: 25,
  proposeBackoffMsMax: 250,
  leaderStaleMs: DEFAULT_LIMITS.leaderTimeoutMs + DEFAULT_LIMITS.electionJitterMs,
  learnerQueryWaitMs: 500,
  retryAfterSeconds: 1,
  inflightProposalsMax: 10_000,
  logPageLimitDefault: 100,
  logPageLimitMax: 1_000,
  streamPageLimit: 500,
  streamKeepaliveMs: 15_000,
  streamBufferedEntriesMax: 10_000,
  streamsMax: 1_000,
  streamGapRetryMs: 250,
  acceptorStatusStaleMs: 5_000,
};

/**
 * The most propose requests a POST can send within `proposalTimeoutMs` when every answer is a
 * refusal: the send loop pauses after each refusal (the shortest pause is half its nominal
 * length, see `proposeBackoffMsMin`) and hops at once to a new leader hint at most once between
 * two pauses, so it sends at most two requests per pause, plus the first and its hop.
 */
export function proposeAttemptsWithin(
  limits: Pick<GatewayLimits, "proposalTimeoutMs" | "proposeBackoffMsMin" | "proposeBackoffMsMax">,
): number {
  let pauses = 0;
  let elapsedMs = 0;
  let nominalMs = Math.max(1, limits.proposeBackoffMsMin);
  while (elapsedMs < limits.proposalTimeoutMs) {
    elapsedMs += nominalMs / 2;
    pauses++;
    nominalMs = Math.min(Math.max(1, limits.proposeBackoffMsMax), nominalMs * 2);
  }
  return 2 * pauses + 2;
}

/**
 * The limits a gateway runs with: `overrides` over the defaults, with `proposeAttemptsMax`
 * derived from the resulting timeout and backoff unless `overrides` sets it. Call it once when
 * building the gateway; the result is frozen.
 */
export function gatewayLimits(overrides: Partial<GatewayLimits> = {}): GatewayLimits {
  const merged = { ...BASE_LIMITS, ...overrides };
  return Object.freeze({ proposeAttemptsMax: proposeAttemptsWithin(merged), ...merged });
}

/** What the service runs with (`gatewayLimits()` without overrides). */
export const DEFAULT_GATEWAY_LIMITS: GatewayLimits = gatewayLimits();
