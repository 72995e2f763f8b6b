import { BATCH_OVERHEAD_BYTES } from "./value.ts";

/**
 * Every bound and timeout of the protocol, in one place. The sizes fit together (`checkLimits`
 * says how): one slot value, `batchBytesMax` plus its batch overhead in UTF-8 bytes, fits in one
 * message (`messageBytesMax`) with the largest envelope around it; promises and catch-up answers
 * that would hold more than one message are cut into ranges. A client value nested
 * `payloadDepthMax` deep must still fit `jsonDepthMax` inside the deepest message that carries it.
 * Names carry their unit last. Hosts may pass their own (the simulator shortens timeouts and
 * scales sizes down); `DEFAULT_LIMITS` is what services run with. Every process of a cluster must
 * run with the same limits.
 */
export interface Limits {
  /**
   * The leader's window: it proposes in slot s only while s < chosenBelow + inflightSlotsMax, so
   * at most this many slots are in phase 2 and none runs ahead of the oldest undecided slot by
   * more. More client values wait and batch up.
   */
  readonly inflightSlotsMax: number;
  /**
   * How far above what a receiver knows to be chosen a slot may be: acceptors drop accepts, and
   * learners drop votes, for slots at or beyond their chosen watermark plus this. It must be at
   * least `inflightSlotsMax`; it keeps one bad message from making a leader fill millions of
   * slots or a learner hold votes without end.
   */
  readonly slotsAheadMax: number;
  /**
   * How far above the highest round a receiver knows a ballot's round may be. Rounds grow by one
   * per election, so a jump larger than this is a bug or a forgery; it is dropped, never promised
   * or stored, so no message can push rounds towards ROUND_MAX.
   */
  readonly roundsAheadMax: number;
  /** Client requests in one slot value. */
  readonly batchRequestsMax: number;
  /** UTF-8 JSON bytes of the requests in one slot value (see `requestBytes`). */
  readonly batchBytesMax: number;
  /** UTF-8 JSON bytes of one client request (see `requestBytes`); larger ones are rejected. */
  readonly requestBytesMax: number;
  /** Client requests the leader queues while the window is full; more are rejected. */
  readonly pendingRequestsMax: number;
  /** Leader heartbeat period. */
  readonly heartbeatIntervalMs: number;
  /** Silence after which a follower tries to take over (plus a random part below). */
  readonly leaderTimeoutMs: number;
  /** Upper bound of the random part added to election timeouts and nack backoff. */
  readonly electionJitterMs: number;
  /** The leader resends an accept that a majority has not answered after this long. */
  readonly acceptRetransmitMs: number;
  /** A candidate resends its prepare when a majority has not promised after this long. */
  readonly prepareRetransmitMs: number;
  /** A learner that sees a gap for this long asks acceptors and peers for it. */
  readonly catchupIntervalMs: number;
  /** Slots asked for in one catch-up request. */
  readonly catchupSlotsMax: number;
  /**
   * Bytes of catch-up answers (an acceptor's catchupReply, a learner's chosen answers to a peer)
   * one requester may get per second; beyond it requests are refused ("overBudget") until the
   * budget refills, and the requester asks again. At least messageBytesMax.
   */
  readonly catchupBytesPerSecondMax: number;
  /** The same for all requesters together, so cycling through names gets no more. */
  readonly catchupTotalBytesPerSecondMax: number;
  /**
   * Bytes of one encoded message on the wire (envelope included). Receivers refuse larger ones
   * before parsing them; it stays below NATS's default max_payload of 1 MiB.
   */
  readonly messageBytesMax: number;
  /**
   * Nesting depth of arrays and objects in one encoded message, envelope included. Receivers
   * refuse deeper ones before validating them, so hostile nesting cannot exhaust the stack.
   */
  readonly jsonDepthMax: number;
  /**
   * Nesting depth of one client value. A promise wraps a value in 8 more levels (envelope,
   * message, entries, entry, slot value, requests, request, payload), so this is jsonDepthMax - 8.
   */
  readonly payloadDepthMax: number;
}

export const DEFAULT_LIMITS: Limits = Object.freeze({
  inflightSlotsMax: 8,
  slotsAheadMax: 1_024,
  roundsAheadMax: 2 ** 32,
  batchRequestsMax: 128,
  // Measured with `npm run bench` (issue 11): 4 KiB values filled a 32 KiB slot at 7, and every
  // slot costs each process a message and a store write whatever it carries; at 128 KiB slots
  // held 13-26 of them, and CPU per 4 KiB write fell by 24-29 % on the native path (one run of
  // the same command for each size).
  batchBytesMax: 128 * 1024,
  requestBytesMax: 16 * 1024,
  pendingRequestsMax: 10_000,
  heartbeatIntervalMs: 250,
  leaderTimeoutMs: 1_000,
  electionJitterMs: 500,
  acceptRetransmitMs: 300,
  prepareRetransmitMs: 300,
  catchupIntervalMs: 500,
  catchupSlotsMax: 16,
  // A learner catching up on a long log gets 8 MB/s from each acceptor, about 500 full slots a
  // second; a 112-byte request can no longer buy more than that.
  catchupBytesPerSecondMax: 8_000_000,
  catchupTotalBytesPerSecondMax: 32_000_000,
  messageBytesMax: 1_000_000,
  jsonDepthMax: 32,
  payloadDepthMax: 24,
});

/**
 * The highest round and slot any process uses or accepts. Far below Number.MAX_SAFE_INTEGER, so
 * that `round + 1` and `slot + slotsAheadMax` stay exact integers; schemas refuse larger ones.
 */
export const ROUND_MAX = 2 ** 52;
export const SLOT_MAX = 2 ** 52;

/**
 * Bytes reserved in every message for what surrounds the values it carries: the envelope with
 * its cluster name, the message's own fields, ids of up to 64 characters, counters of up to 16
 * digits. A promise or catch-up answer holds entries until the next one would cross
 * `messageBytesMax - MESSAGE_OVERHEAD_BYTES`.
 */
export const MESSAGE_OVERHEAD_BYTES = 1_024;

/** Bytes of one accepted entry around its value: slot, ballot and keys (`{"slot":…,"ballot":…}`). */
export const ENTRY_OVERHEAD_BYTES = 160;

/** The largest slot value a leader builds and an acceptor takes, in UTF-8 JSON bytes. */
export function valueBytesMax(limits: Limits): number {
  return limits.batchBytesMax + BATCH_OVERHEAD_BYTES;
}

/**
 * Why `limits` do not fit together, or an empty list when they do: every slot value, wrapped in
 * an entry and the largest envelope, fits one message; a request fits a batch; the window fits
 * the slot bound; a client value's depth fits the message depth.
 */
export function checkLimits(limits: Limits): string[] {
  const problems: string[] = [];
  const positive = Object.entries(limits).filter(([, v]) => !Number.isSafeInteger(v) || (v as number) < 1);
  for (const [name] of positive) problems.push(`${name} must be a positive integer`);
  if (valueBytesMax(limits) + ENTRY_OVERHEAD_BYTES + MESSAGE_OVERHEAD_BYTES > limits.messageBytesMax) {
    problems.push("batchBytesMax leaves no room for one slot value and its envelope within messageBytesMax");
  }
  if (limits.requestBytesMax > limits.batchBytesMax) problems.push("requestBytesMax exceeds batchBytesMax");
  if (limits.inflightSlotsMax > limits.slotsAheadMax) problems.push("inflightSlotsMax exceeds slotsAheadMax");
  if (limits.payloadDepthMax + 8 > limits.jsonDepthMax) problems.push("payloadDepthMax + 8 exceeds jsonDepthMax");
  if (limits.catchupBytesPerSecondMax < limits.messageBytesMax) {
    problems.push("catchupBytesPerSecondMax is below messageBytesMax: a full catch-up answer could never be sent");
  }
  if (limits.catchupTotalBytesPerSecondMax < limits.catchupBytesPerSecondMax) {
    problems.push("catchupTotalBytesPerSecondMax is below catchupBytesPerSecondMax");
  }
  return problems;
}
