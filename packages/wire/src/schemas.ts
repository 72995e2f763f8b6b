import {
  type AcceptedEntry,
  type AcceptedMsg,
  type AcceptMsg,
  type Ballot,
  type CatchupMsg,
  type CatchupReplyMsg,
  type ChosenMsg,
  type ClientRequest,
  type HeartbeatMsg,
  type JsonValue,
  type Limits,
  type Message,
  type NackMsg,
  ROUND_MAX,
  SLOT_MAX,
  type PrepareMsg,
  type PromiseMsg,
  type ProposeMsg,
  type SlotValue,
} from "@paxos/core";
import { z } from "zod";
import { ID_PATTERN } from "./ids.ts";
import { isJsonValue, jsonDepthAtMost } from "./json-value.ts";
import type {
  AcceptorStatus,
  DeliveredBatch,
  LearnerQuery,
  LearnerReply,
  LogEntryWire,
  ProposeBatch,
  ProposeBatchReply,
  ProposeReply,
  ProposeRequest,
} from "./service-messages.ts";

/** Longest client request id, in characters. */
export const REQUEST_ID_CHARS_MAX = 200;
/** Most entries a learner range read asks for or returns. */
export const LEARNER_RANGE_LIMIT_MAX = 1_000;
/**
 * A lower bound on the JSON bytes of one AcceptedEntry (a no-op in slot 0 of round 0 by a
 * one-character proposer id is about 70). It turns the byte bound into a bound on promise
 * entries, so no array costs more validation than one message may carry.
 */
const ACCEPTED_ENTRY_BYTES_MIN = 64;

/** The protocol message types, as in core's `Message["type"]`. */
export const MESSAGE_TYPES = [
  "prepare",
  "promise",
  "accept",
  "accepted",
  "nack",
  "chosen",
  "heartbeat",
  "catchup",
  "catchupReply",
  "propose",
] as const satisfies readonly Message["type"][];

/** A protocol message type. */
export type MessageType = (typeof MESSAGE_TYPES)[number];

// Compile-time proof that MESSAGE_TYPES lists every type of core's Message union.
type MissingTypes = Exclude<Message["type"], MessageType>;
const everyTypeListed: MissingTypes extends never ? true : MissingTypes = true;
void everyTypeListed;

/** The service messages, by the name `decodeService` and `encodeService` take. */
export interface ServiceMessages {
  proposeBatch: ProposeBatch;
  proposeBatchReply: ProposeBatchReply;
  delivered: DeliveredBatch;
  learnerQuery: LearnerQuery;
  learnerReply: LearnerReply;
  acceptorStatus: AcceptorStatus;
}

/** A service message kind. */
export type ServiceKind = keyof ServiceMessages;

/** The schemas of every message, for one set of limits. */
export interface WireSchemas {
  /** Protocol messages by type; each output is the matching core message type. */
  readonly messages: { readonly [T in MessageType]: z.ZodType<Extract<Message, { type: T }>> };
  /** Service messages by kind. */
  readonly services: { readonly [K in ServiceKind]: z.ZodType<ServiceMessages[K]> };
}

/**
 * A round, slot or index: a non-negative safe integer. Floats, negatives, numbers above
 * Number.MAX_SAFE_INTEGER and numeric strings are refused (z.int() keeps to the safe range).
 */
export const counterSchema: z.ZodType<number> = z.int().nonnegative();

/** A ballot round: a counter no larger than ROUND_MAX, so that round + 1 stays exact. */
export const roundSchema: z.ZodType<number> = z.int().min(0).max(ROUND_MAX);

/** A slot: a counter no larger than SLOT_MAX, so that slot + a bound stays exact. */
export const slotSchema: z.ZodType<number> = z.int().min(0).max(SLOT_MAX);

/** An acceptor, proposer or learner id. */
export const idSchema: z.ZodType<string> = z.string().regex(ID_PATTERN);

/** A client request id: 1..REQUEST_ID_CHARS_MAX characters. */
export const requestIdSchema: z.ZodType<string> = z.string().min(1).max(REQUEST_ID_CHARS_MAX);

/** Any JSON value, checked iteratively and kept as it is (see isJsonValue). */
export const jsonValueSchema: z.ZodType<JsonValue> = z.custom<JsonValue>(isJsonValue, { message: "not a JSON value" });

/** A real ballot, as proposers issue them. */
export const ballotSchema: z.ZodType<Ballot> = z.strictObject({ round: roundSchema, proposerId: idSchema });

/** A promised ballot: a real ballot, or the zero ballot an acceptor holds before any promise. */
export const promisedBallotSchema: z.ZodType<Ballot> = z.union([
  ballotSchema,
  z.strictObject({ round: z.literal(0), proposerId: z.literal("") }),
]);

const schemasByLimits = new WeakMap<Limits, WireSchemas>();

/**
 * The schemas for `limits`, built once per limits object. Bounds that depend on limits (batch
 * size, catch-up range, entry counts) must match between sender and receiver: every process of a
 * cluster runs with the same limits.
 */
export function wireSchemas(limits: Limits): WireSchemas {
  let schemas = schemasByLimits.get(limits);
  if (schemas === undefined) {
    schemas = buildSchemas(limits);
    schemasByLimits.set(limits, schemas);
  }
  return schemas;
}

function buildSchemas(limits: Limits): WireSchemas {
  const clientRequest: z.ZodType<ClientRequest> = z.strictObject({ id: requestIdSchema, payload: jsonValueSchema });
  const slotValue: z.ZodType<SlotValue> = z.union([
    z.strictObject({ kind: z.literal("noop") }),
    z.strictObject({ kind: z.literal("batch"), requests: z.array(clientRequest).max(limits.batchRequestsMax) }),
  ]);
  const acceptedEntry: z.ZodType<AcceptedEntry> = z.strictObject({
    slot: slotSchema,
    ballot: ballotSchema,
    value: slotValue,
  });
  const slotRange = (range: { fromSlot: number; toSlot: number }): boolean =>
    range.toSlot > range.fromSlot && range.toSlot - range.fromSlot <= limits.catchupSlotsMax;
  const slotRangeError = { message: `toSlot must exceed fromSlot by 1..${limits.catchupSlotsMax}` };

  const prepare: z.ZodType<PrepareMsg> = z.strictObject({
    type: z.literal("prepare"),
    ballot: ballotSchema,
    fromSlot: slotSchema,
  });
  const promise: z.ZodType<PromiseMsg> = z
    .strictObject({
      type: z.literal("promise"),
      ballot: ballotSchema,
      acceptorId: idSchema,
      fromSlot: slotSchema,
      toSlot: slotSchema.nullable(),
      chosenBelow: slotSchema,
      accepted: z.array(acceptedEntry).max(Math.floor(limits.messageBytesMax / ACCEPTED_ENTRY_BYTES_MIN)),
    })
    .refine((p) => p.toSlot === null || p.toSlot > p.fromSlot, { message: "toSlot must exceed fromSlot" })
    .refine((p) => p.accepted.every((e) => e.slot >= p.fromSlot && (p.toSlot === null || e.slot < p.toSlot)), {
      message: "every entry must lie in [fromSlot, toSlot)",
    });
  const accept: z.ZodType<AcceptMsg> = z.strictObject({
    type: z.literal("accept"),
    ballot: ballotSchema,
    slot: slotSchema,
    value: slotValue,
    chosenBelow: slotSchema,
  });
  const accepted: z.ZodType<AcceptedMsg> = z.strictObject({
    type: z.literal("accepted"),
    ballot: ballotSchema,
    slot: slotSchema,
    value: slotValue,
    acceptorId: idSchema,
  });
  const nack: z.ZodType<NackMsg> = z.strictObject({
    type: z.literal("nack"),
    ballot: ballotSchema,
    promised: promisedBallotSchema,
    acceptorId: idSchema,
  });
  const chosen: z.ZodType<ChosenMsg> = z.strictObject({
    type: z.literal("chosen"),
    slot: slotSchema,
    value: slotValue,
  });
  const heartbeat: z.ZodType<HeartbeatMsg> = z.strictObject({
    type: z.literal("heartbeat"),
    ballot: ballotSchema,
    nextSlot: slotSchema,
    chosenBelow: slotSchema,
  });
  const catchup: z.ZodType<CatchupMsg> = z
    .strictObject({
      type: z.literal("catchup"),
      learnerId: idSchema,
      fromSlot: slotSchema,
      toSlot: slotSchema,
      chosenBelow: slotSchema,
    })
    .refine(slotRange, slotRangeError);
  const catchupReply: z.ZodType<CatchupReplyMsg> = z
    .strictObject({
      type: z.literal("catchupReply"),
      learnerId: idSchema,
      acceptorId: idSchema,
      fromSlot: slotSchema,
      toSlot: slotSchema,
      chosenBelow: slotSchema,
      accepted: z.array(acceptedEntry).max(limits.catchupSlotsMax),
    })
    .refine(slotRange, slotRangeError)
    .refine((reply) => reply.accepted.every((entry) => entry.slot >= reply.fromSlot && entry.slot < reply.toSlot), {
      message: "every entry must lie in [fromSlot, toSlot)",
    });
  const propose: z.ZodType<ProposeMsg> = z.strictObject({
    type: z.literal("propose"),
    proposerId: idSchema,
    request: clientRequest,
  });

  const logEntry: z.ZodType<LogEntryWire> = z.strictObject({
    index: counterSchema,
    slot: counterSchema,
    requestId: requestIdSchema,
    value: jsonValueSchema,
  });
  const proposeRequest: z.ZodType<ProposeRequest> = z.strictObject({
    requestId: requestIdSchema,
    // A deeper value could be proposed but never carried in a promise: refuse it at the door.
    payload: jsonValueSchema.refine((payload) => jsonDepthAtMost(payload, limits.payloadDepthMax), {
      message: `nested deeper than ${limits.payloadDepthMax}`,
    }),
  });
  const proposeReply: z.ZodType<ProposeReply> = z.strictObject({
    status: z.enum(["queued", "notLeader", "overloaded", "tooLarge"]),
    leaderHint: idSchema.nullable(),
  });
  const proposeBatch: z.ZodType<ProposeBatch> = z.strictObject({
    proposals: z.array(proposeRequest).min(1).max(limits.batchRequestsMax),
  });
  const proposeBatchReply: z.ZodType<ProposeBatchReply> = z.strictObject({
    replies: z.array(proposeReply).min(1).max(limits.batchRequestsMax),
  });
  const delivered: z.ZodType<DeliveredBatch> = z.strictObject({
    learnerId: idSchema,
    deliveries: z
      .array(
        z.union([
          z.strictObject({
            kind: z.literal("delivered"),
            index: counterSchema,
            slot: counterSchema,
            requestId: requestIdSchema,
            value: jsonValueSchema,
          }),
          z.strictObject({
            kind: z.literal("duplicate"),
            index: counterSchema,
            slot: counterSchema,
            requestId: requestIdSchema,
          }),
        ]),
      )
      .min(1),
  });
  const learnerQuery: z.ZodType<LearnerQuery> = z.union([
    z.strictObject({ op: z.literal("entry"), index: counterSchema }),
    z.strictObject({
      op: z.literal("range"),
      from: counterSchema,
      limit: z.int().min(1).max(LEARNER_RANGE_LIMIT_MAX),
    }),
    z.strictObject({ op: z.literal("lookup"), requestId: requestIdSchema }),
    z.strictObject({ op: z.literal("status") }),
  ]);
  const learnerReply: z.ZodType<LearnerReply> = z.union([
    z.strictObject({ op: z.literal("entry"), entry: logEntry.nullable() }),
    z.strictObject({
      op: z.literal("range"),
      entries: z.array(logEntry).max(LEARNER_RANGE_LIMIT_MAX),
      next: counterSchema,
    }),
    z.strictObject({ op: z.literal("lookup"), entry: logEntry.nullable() }),
    z.strictObject({
      op: z.literal("status"),
      learnerId: idSchema,
      nextIndex: counterSchema,
      nextSlot: counterSchema,
      gapSlots: counterSchema,
    }),
  ]);
  const acceptorStatus: z.ZodType<AcceptorStatus> = z.strictObject({
    acceptorId: idSchema,
    promised: promisedBallotSchema,
    acceptedSlots: counterSchema,
    storage: z.enum(["ok", "unavailable"]),
  });

  return {
    messages: { prepare, promise, accept, accepted, nack, chosen, heartbeat, catchup, catchupReply, propose },
    services: { proposeBatch, proposeBatchReply, delivered, learnerQuery, learnerReply, acceptorStatus },
  };
}
