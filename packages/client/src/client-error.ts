import { HttpProblem } from "@paxos/gateway-app";

/**
 * What went wrong, as a closed set. Connecting:
 * - `invalidOptions`: `PaxosClient.connect` was given options it cannot run with; nothing was opened.
 * - `unauthorized`: NATS refused the user and password.
 * - `forbidden`: NATS let the user in but refused what a client must do (its permissions are not
 *   a gateway user's).
 * - `unreachable`: no NATS server answered in time.
 *
 * Proposing:
 * - `invalidProposal`: the value is not JSON, nests too deep, or the idempotency key is malformed;
 *   nothing was sent.
 * - `tooLarge`: the value is larger than a proposal may be; nothing was decided.
 * - `inFlight`: this client is proposing the same idempotency key right now; wait for that call.
 * - `conflict`: the idempotency key was decided before with another value (`index` says where).
 * - `unavailable`: no proposer took the proposal (no leader, refusals, overload, or this client's
 *   own bound on proposals in flight): it is certainly not queued. Retry after `retryAfterSeconds`.
 * - `outcomeUnknown`: a proposer may hold the proposal but no decision came in time; it may still
 *   be decided. Retry with the same idempotency key to learn the outcome.
 * - `aborted`: the caller's signal aborted the wait (`mayBeDecided` says whether it was sent).
 * - `closed`: the client was closed before or while proposing (`mayBeDecided` as for `aborted`).
 */
export type PaxosClientErrorCode =
  | "invalidOptions"
  | "unauthorized"
  | "forbidden"
  | "unreachable"
  | "invalidProposal"
  | "tooLarge"
  | "inFlight"
  | "conflict"
  | "unavailable"
  | "outcomeUnknown"
  | "aborted"
  | "closed";

/** What a PaxosClientError carries beyond its code and message. */
export interface PaxosClientErrorDetails {
  /** For `unavailable`: how long to wait before trying again. */
  readonly retryAfterSeconds?: number;
  /**
   * True when the proposal may have been queued by a proposer, so that it may be decided later
   * (`outcomeUnknown` always; `aborted` and `closed` when it was sent). False when it surely was
   * not, or nothing was sent.
   */
  readonly mayBeDecided?: boolean;
  /** For `conflict`, the index the key was decided at; for `outcomeUnknown`, where known. */
  readonly index?: number;
  /** The request id the log knows the proposal by, once one was made. */
  readonly requestId?: string;
  readonly cause?: unknown;
}

/**
 * The one error type of @paxos/client: `code` says what happened (a closed set, switch on it);
 * the message says what to do about it. Expected failures of the cluster (no leader, timeouts,
 * backpressure) are PaxosClientErrors; anything else that escapes is a bug.
 */
export class PaxosClientError extends Error {
  override readonly name = "PaxosClientError";
  readonly code: PaxosClientErrorCode;
  readonly retryAfterSeconds: number | null;
  readonly mayBeDecided: boolean;
  readonly index: number | null;
  readonly requestId: string | null;

  constructor(code: PaxosClientErrorCode, message: string, details: PaxosClientErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.retryAfterSeconds = details.retryAfterSeconds ?? null;
    this.mayBeDecided = details.mayBeDecided ?? code === "outcomeUnknown";
    this.index = details.index ?? null;
    this.requestId = details.requestId ?? null;
  }
}

/** How the proposal ended from the caller's side, when ProposalService gave up on it. */
export type StopReason = "none" | "aborted" | "closed";

/** What `clientErrorOf` needs to know about the proposal that failed. */
export interface FailedProposal {
  /** The request id the log knows it by. */
  readonly requestId: string;
  /** True when the caller gave an idempotency key (a retry with it can learn the outcome). */
  readonly keyed: boolean;
  /** Whether the caller's signal or `close` ended the wait. */
  readonly stopped: StopReason;
  readonly retryAfterSeconds: number;
}

/**
 * The PaxosClientError for what ProposalService threw for `proposal`, or null when it is not one
 * of its HttpProblems (a bug: the caller rethrows it as it is). When the caller's signal or
 * `close` ended the wait, ProposalService reports "unavailable" (nothing queued) or
 * "outcomeUnknown" (maybe queued): those become `aborted` or `closed`, with `mayBeDecided`.
 */
export function clientErrorOf(error: unknown, proposal: FailedProposal): PaxosClientError | null {
  if (!(error instanceof HttpProblem)) return null;
  const { requestId, keyed, stopped, retryAfterSeconds } = proposal;
  const index = typeof error.extensions["index"] === "number" ? error.extensions["index"] : undefined;
  const base = { cause: error, requestId, ...(index === undefined ? {} : { index }) };
  switch (error.code) {
    case "payloadTooLarge":
      return new PaxosClientError("tooLarge", `${error.detail}: propose a smaller value`, base);
    case "idempotencyKeyInFlight":
      return new PaxosClientError(
        "inFlight",
        "This client is proposing the same idempotency key right now: wait for that call's outcome",
        base,
      );
    case "idempotencyKeyReused":
      return new PaxosClientError(
        "conflict",
        `This idempotency key was decided${index === undefined ? "" : ` at index ${index}`} with a different value: use a new key for a new value`,
        base,
      );
    case "unavailable":
      if (stopped !== "none") return stoppedError(stopped, false, keyed, base);
      return new PaxosClientError(
        "unavailable",
        `${error.detail}. It is not queued: propose it again after ${retryAfterSeconds} s`,
        { ...base, retryAfterSeconds, mayBeDecided: false },
      );
    case "outcomeUnknown":
      if (stopped !== "none") return stoppedError(stopped, true, keyed, base);
      return new PaxosClientError(
        "outcomeUnknown",
        index === undefined
          ? `The proposal was sent but not decided in time; it may still be decided: ${learnOutcome(keyed, requestId)}`
          : `The proposal was decided at index ${index} but its entry could not be read back in time: ${learnOutcome(keyed, requestId)}`,
        { ...base, mayBeDecided: true },
      );
    default:
      // ProposalService throws no other problem: one not mapped here is a bug of this mapping.
      return null;
  }
}

/** The `aborted` or `closed` error of a proposal whose wait the caller or `close` ended. */
export function stoppedError(
  stopped: "aborted" | "closed",
  mayBeDecided: boolean,
  keyed: boolean,
  details: PaxosClientErrorDetails = {},
): PaxosClientError {
  const what = stopped === "closed" ? "The client was closed" : "The caller aborted";
  const outcome = mayBeDecided
    ? `the proposal was sent and may still be decided: ${learnOutcome(keyed, details.requestId ?? null)}`
    : "the proposal was not queued";
  return new PaxosClientError(stopped, `${what} before the proposal was decided; ${outcome}`, {
    ...details,
    mayBeDecided,
  });
}

/** How a caller learns the outcome of a proposal that may be decided. */
function learnOutcome(keyed: boolean, requestId: string | null): string {
  if (keyed) return "propose it again with the same idempotency key to learn the outcome";
  const which = requestId === null ? "" : ` ${requestId}`;
  return `without an idempotency key, only the log tells (look for request id${which})`;
}
