/**
 * Every bound and timeout of the role drivers, in one place (the protocol's own are core's
 * Limits). Names carry their unit last. `DEFAULT_HOST_LIMITS` is what services run with; tests
 * and the simulator pass shorter ones.
 */
export interface HostLimits {
  /** Inbound messages an acceptor holds while writes are on their way; more are dropped. */
  readonly acceptorQueueMessagesMax: number;
  /**
   * Store writes an acceptor has on their way at once. Writes are pipelined (the store applies
   * them in the order issued; Redis fsyncs every command it read in one event-loop turn at once),
   * so a burst of accepts costs about one fsync rather than one each; replies still wait for
   * their own write and for every earlier one. 1 makes writes strictly one at a time.
   */
  readonly acceptorWritesInFlightMax: number;
  /** A store write that has not finished after this long counts as failed: the acceptor reopens. */
  readonly storeWriteTimeoutMs: number;
  /** First and last wait between attempts to reopen an unavailable acceptor store. */
  readonly storeReopenBackoffMinMs: number;
  readonly storeReopenBackoffMaxMs: number;
  /** How often a proposer's timers (elections, retransmissions, heartbeats) are advanced. */
  readonly proposerTickIntervalMs: number;
  /** Inbound messages a learner holds while an append is on its way; more are dropped. */
  readonly learnerQueueMessagesMax: number;
  /**
   * Slots a learner gathers for its next append while one is on its way (all go in one fsync);
   * beyond this, inputs wait in the queue.
   */
  readonly learnerAppendSlotsMax: number;
  /** How often a learner's timers (catch-up) are advanced. */
  readonly learnerTickIntervalMs: number;
  /** First and last wait between retries of a failed learner append. */
  readonly learnerAppendRetryMinMs: number;
  readonly learnerAppendRetryMaxMs: number;
  /** Room kept in a learner's range answer for its envelope (op, next, version, cluster). */
  readonly rangeReplyOverheadBytes: number;
}

export const DEFAULT_HOST_LIMITS: HostLimits = Object.freeze({
  acceptorQueueMessagesMax: 10_000,
  acceptorWritesInFlightMax: 64,
  storeWriteTimeoutMs: 5_000,
  storeReopenBackoffMinMs: 200,
  storeReopenBackoffMaxMs: 5_000,
  proposerTickIntervalMs: 10,
  learnerQueueMessagesMax: 10_000,
  learnerAppendSlotsMax: 1_024,
  learnerTickIntervalMs: 20,
  learnerAppendRetryMinMs: 50,
  learnerAppendRetryMaxMs: 2_000,
  rangeReplyOverheadBytes: 4_096,
});
