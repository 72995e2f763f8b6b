/*
 * The Bus port: the little of NATS that the roles and services use (publish/subscribe with queue
 * groups, request/reply with one or many replies). NatsBus implements it over a real server,
 * MemoryBus inside one process; everything above it (BusTransport, the service API) runs on
 * either. Subjects and wildcards follow NATS: tokens separated by `.`, `*` matches one token and
 * `>` (last) matches one or more.
 */

/** One message as a subscriber or a requester receives it. */
export interface BusMessage {
  readonly subject: string;
  readonly data: Uint8Array;
  /** Message headers (possibly empty); names as the publisher spelled them. */
  readonly headers: Readonly<Record<string, string>>;
  /**
   * Answers a request. Returns false when the message was not a request (it has no reply
   * subject) or the bus is closed; the reply itself is, like every message, at-most-once.
   */
  respond(data: Uint8Array, headers?: Record<string, string>): boolean;
}

/** A live subscription; `unsubscribe` is idempotent. */
export interface BusSubscription {
  unsubscribe(): void;
}

/**
 * Pub/sub plus request/reply. Delivery is at-most-once and asynchronous (a handler never runs
 * inside `publish`). Handlers must not throw; a bus swallows what they throw.
 */
export interface Bus {
  /**
   * Sends `data` to every plain subscriber of `subject` and to one member of each queue group.
   * Throws BusError("closed") once the bus is closed, "failed" when the bus refuses the message.
   */
  publish(subject: string, data: Uint8Array, headers?: Record<string, string>): void;
  /**
   * Calls `handler` for each message on `subject` (wildcards allowed). With `queue`, the
   * subscribers sharing that queue name split the messages: each goes to one of them. Broadcast
   * protocol subjects must never use a queue.
   */
  subscribe(subject: string, handler: (m: BusMessage) => void, opts?: { queue?: string }): BusSubscription;
  /**
   * Sends a request and resolves with the first reply. Rejects with BusError "timeout" after
   * `timeoutMs`, "noResponders" when nobody subscribes to `subject`, "closed" once the bus is closed.
   */
  request(
    subject: string,
    data: Uint8Array,
    opts: { timeoutMs: number; headers?: Record<string, string> },
  ): Promise<BusMessage>;
  /**
   * Sends a request and collects every reply that arrives within `maxWaitMs` (or until
   * `maxReplies`). Resolves with what arrived, possibly nothing; rejects with "closed" or "failed".
   */
  requestMany(
    subject: string,
    data: Uint8Array,
    opts: { maxWaitMs: number; maxReplies?: number; headers?: Record<string, string> },
  ): Promise<BusMessage[]>;
  /** Resolves once everything published so far has reached the server (or the other subscribers). */
  flush(): Promise<void>;
  /** Delivers what is in flight where possible, then stops; later calls fail with "closed". */
  close(): Promise<void>;
}

/** Why a bus operation failed. */
export type BusErrorCode =
  /** No reply came within the request's timeout. */
  | "timeout"
  /** Nobody subscribes to the request subject. */
  | "noResponders"
  /** The bus is closed (or draining). */
  | "closed"
  /** Any other failure of the underlying connection, such as a permission violation; see `cause`. */
  | "failed";

/** A typed, expected failure of a Bus operation. */
export class BusError extends Error {
  override readonly name = "BusError";
  readonly code: BusErrorCode;

  constructor(code: BusErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/**
 * True when the concrete `subject` matches the subscription `pattern` by NATS rules: `*` matches
 * exactly one token, `>` as the last token matches one or more tokens.
 */
export function subjectMatches(pattern: string, subject: string): boolean {
  const patternTokens = pattern.split(".");
  const subjectTokens = subject.split(".");
  for (let i = 0; i < patternTokens.length; i++) {
    const token = patternTokens[i];
    if (token === ">" && i === patternTokens.length - 1) return subjectTokens.length > i;
    const actual = subjectTokens[i];
    if (actual === undefined) return false;
    if (token !== "*" && token !== actual) return false;
  }
  return patternTokens.length === subjectTokens.length;
}
