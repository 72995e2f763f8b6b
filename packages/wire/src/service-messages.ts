import type { Ballot, JsonValue } from "@paxos/core";

/*
 * The service-level messages: between the gateway and the proposers and learners, and the status
 * acceptors publish. They are not part of the protocol; `schemas.ts` validates them at the
 * boundary like protocol messages.
 */

/** A client value for a proposer (gateway → proposer, in a ProposeBatch). */
export interface ProposeRequest {
  /** The client's request id (1..200 chars): a value chosen twice is delivered once. */
  readonly requestId: string;
  readonly payload: JsonValue;
}

/** What a proposer did with a ProposeRequest. */
export type ProposeStatus =
  /** The leader holds it; the outcome arrives later as a DeliveredEvent. */
  | "queued"
  /** This proposer does not lead; try `leaderHint`. */
  | "notLeader"
  /** The leader's queue is full; retry later. */
  | "overloaded"
  /** The request is above the size limit. */
  | "tooLarge";

/** A proposer's answer to a ProposeRequest; `leaderHint` is the leader's proposer id if known. */
export interface ProposeReply {
  readonly status: ProposeStatus;
  readonly leaderHint: string | null;
}

/**
 * What one request on `propose.<proposerId>` carries: the client values a gateway had for that
 * proposer in one turn of its event loop (1 to `batchRequestsMax`, within `messageBytesMax`), so
 * that a busy gateway sends one message per turn rather than one per value.
 */
export interface ProposeBatch {
  readonly proposals: readonly ProposeRequest[];
}

/** The answer to a ProposeBatch: one ProposeReply per proposal, in the same order. */
export interface ProposeBatchReply {
  readonly replies: readonly ProposeReply[];
}

/**
 * A learner delivered a client request. "delivered" carries the value; "duplicate" says the
 * request id was chosen again and carries the FIRST index it was delivered at. Learners publish
 * them in DeliveredBatches; subscribers get them one by one.
 */
export type DeliveredEvent =
  | {
      readonly learnerId: string;
      readonly kind: "delivered";
      readonly index: number;
      readonly slot: number;
      readonly requestId: string;
      readonly value: JsonValue;
    }
  | {
      readonly learnerId: string;
      readonly kind: "duplicate";
      readonly index: number;
      readonly slot: number;
      readonly requestId: string;
    };

/** A DeliveredEvent without its learner id, as a DeliveredBatch carries it. */
export type Delivered = DeliveredEvent extends infer E ? (E extends unknown ? Omit<E, "learnerId"> : never) : never;

/**
 * What a learner publishes on `learner.<learnerId>.delivered`: the deliveries of one durable
 * append, in index order, in one message (split only to stay within messageBytesMax). One
 * message per append rather than per request is what keeps a learner's and every gateway's
 * cost per decision down when slots carry many requests.
 */
export interface DeliveredBatch {
  readonly learnerId: string;
  readonly deliveries: readonly Delivered[];
}

/** One entry of the decided log as readers see it: client values only, no-ops take no index. */
export interface LogEntryWire {
  readonly index: number;
  readonly slot: number;
  readonly requestId: string;
  readonly value: JsonValue;
}

/** A read from the learners (gateway → every learner, request/reply on `learners.query`). */
export type LearnerQuery =
  | { readonly op: "entry"; readonly index: number }
  | { readonly op: "range"; readonly from: number; readonly limit: number }
  | { readonly op: "lookup"; readonly requestId: string }
  | { readonly op: "status" };

/**
 * One learner's answer to a LearnerQuery, with the same `op`. A range answer holds at most
 * `limit` entries from `from` on, and `next` is the index to ask for next.
 */
export type LearnerReply =
  | { readonly op: "entry"; readonly entry: LogEntryWire | null }
  | { readonly op: "range"; readonly entries: readonly LogEntryWire[]; readonly next: number }
  | { readonly op: "lookup"; readonly entry: LogEntryWire | null }
  | {
      readonly op: "status";
      readonly learnerId: string;
      readonly nextIndex: number;
      readonly nextSlot: number;
      readonly gapSlots: number;
    };

/** What an acceptor publishes on `acceptor.<acceptorId>.status` every second. */
export interface AcceptorStatus {
  readonly acceptorId: string;
  /** Its promised ballot; the zero ballot (round 0, empty proposer id) before any promise. */
  readonly promised: Ballot;
  readonly acceptedSlots: number;
  readonly storage: "ok" | "unavailable";
}
