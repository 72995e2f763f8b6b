import { DEFAULT_LIMITS, type Limits } from "@paxos/core";

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
  /**
   * Bytes of the proposals this gateway waits on at once (core's estimate of each); one that
   * would take them past it is refused with 503 and `Retry-After`. Bounds the gateway's memory
   * for values in flight whatever their sizes: 10,000 full-size values would hold 160 MB.
   */
  readonly inflightProposalBytesMax: number;
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
  /**
   * Requests one client may make per `rateLimitWindowMs` (fixed windows, counted per client id,
   * per IP address on open API paths); more are answered 429. 0 turns the limit off. The default
   * is far above what one client of a benchmark sends (a few thousand writes a second, each
   * waiting for its decision), so that a benchmark is never limited by accident, yet a client
   * that floods (a loop without backpressure) is held to it, and the cluster's intake is left to
   * other clients. Probes and `/metrics` are never limited.
   */
  readonly rateLimitRequestsMax: number;
  /**
   * The window of `rateLimitRequestsMax`. One second: a limited client waits at most that long
   * (its `Retry-After`), and the in-memory counts of clients idle for a window are dropped at the
   * next one (express-rate-limit's MemoryStore), so they stay bounded by the clients of the last
   * two windows.
   */
  readonly rateLimitWindowMs: number;
  /**
   * Refused authentications (401) one address (IPv6 per /56) may cause per `authFailureWindowMs`.
   * Past it, that address's requests to paths that need a token are answered 429 with
   * `Retry-After` before any token is looked at, until the window ends. It bounds what a flood of
   * forged or guessed tokens costs the gateway (a JWT's signature check is the costliest thing a
   * refused request makes it do) and how fast anyone can guess. Requests already in flight when
   * the count is reached still finish. 0 turns it off (in code: PAXOS_GATEWAY_LIMITS takes only
   * positive numbers, so there a very large one does).
   */
  readonly authFailuresMax: number;
  /** The window of `authFailuresMax`. */
  readonly authFailureWindowMs: number;
  /**
   * Credentials (their SHA-256) the gateway remembers as accepted lately: a held-back address's
   * requests that carry one of them are still let through to be verified as usual, so that one
   * client with a wrong token cannot hold back the others behind the same address (a NAT, a
   * proxy). The oldest is forgotten first.
   */
  readonly authKnownCredentialsMax: number;
}

/** The limits that follow from the protocol's: what the cluster's processes accept and decide. */
type ProtocolDerived = "requestBytesMax" | "valueDepthMax" | "leaderStaleMs";

function fromProtocol(protocol: Limits): Pick<GatewayLimits, ProtocolDerived> {
  return {
    requestBytesMax: protocol.requestBytesMax,
    valueDepthMax: protocol.payloadDepthMax,
    leaderStaleMs: protocol.leaderTimeoutMs + protocol.electionJitterMs,
  };
}

const BASE_LIMITS: Omit<GatewayLimits, "proposeAttemptsMax" | ProtocolDerived> = {
  proposalTimeoutMs: 10_000,
  proposeRequestTimeoutMs: 1_000,
  proposeReplyMinMs: 50,
  proposeBackoffMsMin: 25,
  proposeBackoffMsMax: 250,
  learnerQueryWaitMs: 500,
  retryAfterSeconds: 1,
  inflightProposalsMax: 10_000,
  inflightProposalBytesMax: 32 * 1024 * 1024,
  logPageLimitDefault: 100,
  logPageLimitMax: 1_000,
  streamPageLimit: 500,
  streamKeepaliveMs: 15_000,
  streamBufferedEntriesMax: 10_000,
  streamsMax: 1_000,
  streamGapRetryMs: 250,
  acceptorStatusStaleMs: 5_000,
  rateLimitRequestsMax: 10_000,
  rateLimitWindowMs: 1_000,
  // A client with a wrong token fails on every request anyway; 50 in 10 s leaves it room to
  // report the failure, holds a flood to 5 refusals a second, and lifts within 10 s.
  authFailuresMax: 50,
  authFailureWindowMs: 10_000,
  authKnownCredentialsMax: 1_024,
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
 * The limits a gateway runs with: `overrides` over the defaults, where `requestBytesMax`,
 * `valueDepthMax` and `leaderStaleMs` follow from the cluster's `protocol` limits, and
 * `proposeAttemptsMax` from the resulting timeout and backoff, unless `overrides` sets them.
 * Call it once when building the gateway; the result is frozen.
 */
export function gatewayLimits(
  overrides: Partial<GatewayLimits> = {},
  protocol: Limits = DEFAULT_LIMITS,
): GatewayLimits {
  const merged = { ...BASE_LIMITS, ...fromProtocol(protocol), ...overrides };
  return Object.freeze({ proposeAttemptsMax: proposeAttemptsWithin(merged), ...merged });
}

/** What the service runs with (`gatewayLimits()` without overrides). */
export const DEFAULT_GATEWAY_LIMITS: GatewayLimits = gatewayLimits();

/**
 * The defaults a gateway service takes overrides of in PAXOS_GATEWAY_LIMITS: every limit but
 * those with a variable of their own (PAXOS_PROPOSAL_TIMEOUT_MS, PAXOS_RATE_LIMIT,
 * PAXOS_RATE_LIMIT_WINDOW_MS).
 */
export const ENV_TUNABLE_GATEWAY_LIMITS: Omit<
  GatewayLimits,
  "proposalTimeoutMs" | "rateLimitRequestsMax" | "rateLimitWindowMs"
> = (() => {
  const { proposalTimeoutMs, rateLimitRequestsMax, rateLimitWindowMs, ...tunable } = DEFAULT_GATEWAY_LIMITS;
  void [proposalTimeoutMs, rateLimitRequestsMax, rateLimitWindowMs];
  return Object.freeze(tunable);
})();

/*
 * The Node HTTP server's limits against slow and greedy clients, instead of Node's defaults (60 s
 * for headers, 300 s for a request, checked only every 30 s).
 *
 * What each timeout covers (Node's http docs, `server.headersTimeout`, `server.requestTimeout`,
 * `server.keepAliveTimeout`): the headers and request timeouts run only while a request is being
 * *received*; once its last byte is in, they stop for that request. They never cut a response,
 * however long: an open `GET /v1/log/stream`, or a POST waiting for its value to be decided. The
 * keep-alive timeout runs only once the last response has been written, so it cannot cut a stream
 * either. The socket inactivity timeout (`server.timeout`) stays 0: a POST waiting for a decision
 * sends nothing for up to `proposalTimeoutMs`, and must not be cut for being quiet.
 */

/** The Node HTTP server limits of the gateway. Names carry their unit last. */
export interface GatewayServerLimits {
  /**
   * Time a client has to send the complete request headers; then 408 (a problem) and close.
   * An honest client sends them in one round trip: 10 s covers a bad mobile link, and bounds how
   * long a slowloris client holds a connection without sending a request.
   */
  readonly headersTimeoutMs: number;
  /**
   * Time a client has to send the complete request, headers and body; then 408 and close. Derived
   * as `proposalTimeoutMs` plus `REQUEST_TIMEOUT_MARGIN_MS` (at least `headersTimeoutMs`): a body of `requestBytesMax` must fit
   * at a slow upload rate, and a POST should never be cut sooner than it may run. (It does not
   * cover the answer: the body is read before the proposal starts.) Node refuses one smaller than
   * `headersTimeoutMs`.
   */
  readonly requestTimeoutMs: number;
  /**
   * How long an idle keep-alive connection stays open after its last answer (announced in the
   * `Keep-Alive` header; Node closes the socket its `keepAliveTimeoutBuffer`, 1 s, later, so that
   * a client never reuses a socket as it closes). Long enough for a client's burst of requests to
   * reuse one connection, short enough that idle connections do not pile up. Behind a proxy with a longer idle timeout, raise it above the proxy's (else the proxy
   * may reuse a connection the gateway is closing).
   */
  readonly keepAliveTimeoutMs: number;
  /**
   * How often Node checks the headers and request timeouts. Node's 30 s default would let a slow
   * client overstay `headersTimeoutMs` by up to 30 s; one pass over the open connections a second
   * is cheap at `connectionsMax`.
   */
  readonly timeoutsCheckIntervalMs: number;
  /**
   * Header lines kept per request (Node drops the rest; its default is 2,000). The gateway reads
   * half a dozen; 100 leaves room for proxies and tracing. Their bytes are bounded separately by
   * `headerBytesMax`.
   */
  readonly headersCountMax: number;
  /** Bytes of the request line and headers together; more is answered 431. Node's default, named. */
  readonly headerBytesMax: number;
  /**
   * Open connections; Node closes any beyond it at once. Derived as every proposal and stream the
   * gateway admits (`inflightProposalsMax` + `streamsMax`) plus `OTHER_CONNECTIONS_MAX` for reads,
   * probes, scrapes and idle keep-alive connections, so that the gateway's own 503s are reached
   * before connections are dropped.
   */
  readonly connectionsMax: number;
}

/** Added to `proposalTimeoutMs` for `requestTimeoutMs`. */
const REQUEST_TIMEOUT_MARGIN_MS = 5_000;
/** Connections beyond admitted proposals and streams (see `connectionsMax`). */
const OTHER_CONNECTIONS_MAX = 1_000;

/**
 * The server limits for a gateway running with `limits`, with `overrides` (tests shorten the
 * timeouts) over the defaults. The result is frozen.
 */
export function gatewayServerLimits(
  limits: Pick<GatewayLimits, "proposalTimeoutMs" | "inflightProposalsMax" | "streamsMax">,
  overrides: Partial<GatewayServerLimits> = {},
): GatewayServerLimits {
  const headersTimeoutMs = overrides.headersTimeoutMs ?? 10_000;
  return Object.freeze({
    headersTimeoutMs,
    requestTimeoutMs: Math.max(headersTimeoutMs, limits.proposalTimeoutMs + REQUEST_TIMEOUT_MARGIN_MS),
    keepAliveTimeoutMs: 5_000,
    timeoutsCheckIntervalMs: 1_000,
    headersCountMax: 100,
    headerBytesMax: 16_384,
    connectionsMax: limits.inflightProposalsMax + limits.streamsMax + OTHER_CONNECTIONS_MAX,
    ...overrides,
  });
}

/**
 * The bounds of authentication (authentication.ts, jwt-verifier.ts, static-tokens.ts). They are
 * not per-deployment settings: each one guards against a hostile or broken input.
 */
export const AUTH_LIMITS = Object.freeze({
  /**
   * Longest client id (a JWT's `sub`, a static token's client): it is hashed into request ids
   * and keys the rate limit, so it must be bounded; 256 fits every identity provider's subjects.
   */
  clientIdCharsMax: 256,
  /** Longest bearer token read from `Authorization`; a JWT with many claims stays well below. */
  bearerTokenCharsMax: 8_192,
  /** Shortest static token accepted from a tokens file: 16 random characters, ~96 bits. */
  staticTokenCharsMin: 16,
  /** Clock skew allowed when checking a JWT's `exp` and `nbf`, in seconds. */
  jwtClockToleranceSeconds: 5,
  /** One fetch of a remote JWKS; slower is "cannot verify now" (503), not an invalid token. */
  jwksFetchTimeoutMs: 2_000,
  /**
   * Least time between two fetches of a remote JWKS triggered by tokens whose key id is unknown,
   * so that a flood of forged key ids cannot make the gateway hammer the identity provider.
   */
  jwksCooldownMs: 30_000,
  /** How long a fetched JWKS is used before it is fetched again (keys rotate). */
  jwksCacheMaxAgeMs: 600_000,
  /** The `Retry-After` of a 503 while a remote JWKS cannot be fetched, in seconds. */
  keysUnavailableRetryAfterSeconds: 1,
  /** Largest tokens file, public key file or JWKS file the gateway reads at start. */
  authFileBytesMax: 1_048_576,
});
