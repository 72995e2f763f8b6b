/**
 * Every bound and timeout of the protocol, in one place. The sizes fit together: a promise carries
 * the accepted values of the slots above the chosen watermark, about one window
 * (`inflightSlotsMax` × `batchBytesMax`), and must fit in one message (`messageBytesMax`) with room
 * to spare; a client value nested `payloadDepthMax` deep must still fit `jsonDepthMax` inside the
 * deepest message that carries it. Names carry their unit last. Hosts may
 * pass their own (the simulator shortens timeouts); `DEFAULT_LIMITS` is what services run with.
 */
export interface Limits {
  /** Slots the leader keeps in phase 2 at once; more client values wait and batch up. */
  readonly inflightSlotsMax: number;
  /** Client requests in one slot value. */
  readonly batchRequestsMax: number;
  /** Approximate JSON bytes of the requests in one slot value. */
  readonly batchBytesMax: number;
  /** Approximate JSON bytes of one client request; larger ones are rejected. */
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
  batchRequestsMax: 128,
  batchBytesMax: 32 * 1024,
  requestBytesMax: 16 * 1024,
  pendingRequestsMax: 10_000,
  heartbeatIntervalMs: 250,
  leaderTimeoutMs: 1_000,
  electionJitterMs: 500,
  acceptRetransmitMs: 300,
  prepareRetransmitMs: 300,
  catchupIntervalMs: 500,
  catchupSlotsMax: 16,
  messageBytesMax: 1_000_000,
  jsonDepthMax: 32,
  payloadDepthMax: 24,
});
