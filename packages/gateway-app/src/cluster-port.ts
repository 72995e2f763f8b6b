import type { JsonValue } from "@paxos/core";

/*
 * What the gateway needs from the cluster, in the gateway's own terms. `BusClusterClient`
 * implements it over a Bus with @paxos/wire; keeping the HTTP layer on this small port keeps
 * the wire's message shapes out of the routes.
 */

/** One entry of the decided log, as the REST API shows it. */
export interface LogEntryView {
  readonly index: number;
  readonly value: JsonValue;
  readonly requestId: string;
}

/**
 * The answer to one propose request. "queued": the proposer holds it and the outcome will come
 * as a delivery. "noResponders" and "closed" are definite (no proposer got it); "timeout" is not
 * (the proposer may hold it and the reply was lost).
 */
export type ProposeResult =
  | { readonly status: "queued" }
  | { readonly status: "notLeader"; readonly leaderHint: string | null }
  | { readonly status: "overloaded" }
  | { readonly status: "tooLarge" }
  | { readonly status: "noResponders" }
  | { readonly status: "timeout" }
  | { readonly status: "closed" };

/** A learner's delivery of one client request, or of a request chosen again (a duplicate). */
export interface DeliveryEvent {
  readonly learnerId: string;
  readonly kind: "delivered" | "duplicate";
  /** For a duplicate, the index the request got the first time. */
  readonly index: number;
  readonly requestId: string;
  /** Present for "delivered". */
  readonly value?: JsonValue;
}

/** A learner's own report of its progress. */
export interface LearnerStatusView {
  readonly learnerId: string;
  /** The index the learner will give the next client value: it has delivered [0, nextIndex). */
  readonly nextIndex: number;
  readonly nextSlot: number;
  readonly gapSlots: number;
}

/** A read answered by `answered` learners (0: no learner answered in time). */
export interface LearnerRead<T> {
  readonly answered: number;
  readonly result: T;
}

/** The cluster as the gateway sees it. Every method is safe to call concurrently. */
export interface ClusterPort {
  /** Sends one propose request to `proposerId` and returns its answer; never rejects. */
  propose(proposerId: string, requestId: string, payload: JsonValue, timeoutMs: number): Promise<ProposeResult>;
  /** Entry `index` from any learner that has it (null when none of those that answered has it). */
  readEntry(index: number): Promise<LearnerRead<LogEntryView | null>>;
  /** Entries from `from` on, at most `limit`, from the most advanced learner that answered. */
  readRange(from: number, limit: number): Promise<LearnerRead<{ entries: LogEntryView[]; next: number }>>;
  /** The entry of request `requestId`, from any learner that delivered it. */
  lookup(requestId: string): Promise<LearnerRead<LogEntryView | null>>;
  /** Every learner's status that arrived in time, in learner id order. */
  learnerStatuses(): Promise<LearnerStatusView[]>;
  /** Calls `handler` for each delivery any learner reports; returns the unsubscribe function. */
  onDelivery(handler: (event: DeliveryEvent) => void): () => void;
}
