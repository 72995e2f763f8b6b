import { DEFAULT_LIMITS } from "@paxos/core";

/**
 * Every bound and timeout of the gateway, in one place. Names carry their unit last. Tests pass
 * shorter timeouts; `DEFAULT_GATEWAY_LIMITS` is what the service runs with.
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
  /** How long a POST may take from arrival to answer; past it the answer is 503 or 504. */
  readonly proposalTimeoutMs: number;
  /** One NATS request to a proposer. */
  readonly proposeRequestTimeoutMs: number;
  /** Propose requests one POST may send (following leader hints, retrying timeouts). */
  readonly proposeAttemptsMax: number;
  /** Pause between two propose attempts that got no useful answer. */
  readonly proposeRetryBackoffMs: number;
  /** A leader whose heartbeat is older than this is no longer known. */
  readonly leaderStaleMs: number;
  /** How long a POST waits for a leader to be heard when none is known, before 503. */
  readonly leaderWaitMs: number;
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

export const DEFAULT_GATEWAY_LIMITS: GatewayLimits = Object.freeze({
  requestBytesMax: DEFAULT_LIMITS.requestBytesMax,
  valueDepthMax: DEFAULT_LIMITS.payloadDepthMax,
  proposalTimeoutMs: 10_000,
  proposeRequestTimeoutMs: 1_000,
  proposeAttemptsMax: 8,
  proposeRetryBackoffMs: 100,
  leaderStaleMs: DEFAULT_LIMITS.leaderTimeoutMs + DEFAULT_LIMITS.electionJitterMs,
  leaderWaitMs: DEFAULT_LIMITS.leaderTimeoutMs + DEFAULT_LIMITS.electionJitterMs,
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
});
