import type { AcceptorState, AcceptorWrite } from "./acceptor.ts";
import type { Message } from "./messages.ts";
import type { SlotValue } from "./value.ts";

/*
 * The ports through which hosts (services, the embedded cluster, tests) run the roles. Types only:
 * adapters implement them (Redis, files, NATS, memory); the core never calls them.
 */

/** Why an acceptor store refuses to serve. Every code stops the acceptor from voting. */
export type AcceptorStoreErrorCode =
  /** The storage lost or never had this acceptor's identity: voting now could break a promise. */
  | "amnesia"
  /** The storage is not configured to be durable (AOF off, fsync not always, eviction on). */
  | "notDurable"
  /** The storage did not answer, or failed a write: nothing is known to be on disk. */
  | "unavailable"
  /** The stored state breaks an invariant (a promise below an accepted ballot). */
  | "corrupt";

/** A typed failure of an AcceptorStore. */
export class AcceptorStoreError extends Error {
  override readonly name = "AcceptorStoreError";
  readonly code: AcceptorStoreErrorCode;

  constructor(code: AcceptorStoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/**
 * Stable storage of one acceptor. `open` checks durability and identity and loads the state;
 * `write` applies one AcceptorWrite as an atomic compare-and-write (the stored promise never
 * decreases; an accept is stored with it in the same step) and resolves only once the write is on
 * disk. Any failure rejects with an AcceptorStoreError; the caller then sends nothing.
 */
export interface AcceptorStore {
  open(): Promise<AcceptorState>;
  write(write: AcceptorWrite): Promise<void>;
  close(): Promise<void>;
}

/** Stable storage of a learner's decided log: slot → chosen value. */
export interface LearnerStore {
  /** Every stored slot, in slot order. */
  load(): Promise<readonly (readonly [number, SlotValue])[]>;
  /** Appends newly learned slots; resolves once they are durable. */
  append(entries: readonly { readonly slot: number; readonly value: SlotValue }[]): Promise<void>;
  close(): Promise<void>;
}

/** Messages a role host subscribes to; the transport delivers each message to matching roles. */
export type Role = "acceptor" | "proposer" | "learner";

/** Who is listening: a role and its id (an acceptor, proposer or learner id). */
export interface Endpoint {
  readonly role: Role;
  readonly id: string;
}

/**
 * Carries protocol messages between roles, routing each by `destinationOf`. Delivery is
 * at-most-once and unordered, as Paxos assumes; a transport may also drop what it cannot
 * validate. `context` is opaque per-message metadata (for example a W3C traceparent) that a
 * transport carries alongside the message when it can.
 */
export interface Transport {
  publish(from: Endpoint, msg: Message, context?: Readonly<Record<string, string>>): void;
  subscribe(
    endpoint: Endpoint,
    handler: (msg: Message, context: Readonly<Record<string, string>>) => void,
  ): { unsubscribe(): void };
  close(): Promise<void>;
}
