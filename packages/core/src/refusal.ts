/**
 * Why a role dropped an input without acting on it. None of these is a broken invariant of our
 * own: they are messages that a correct peer never sends (or that come too late), so the role
 * treats them as lost, and the host counts and logs them (paxos_dropped_messages_total{reason}).
 */
export type RefusalReason =
  /** A slot at or beyond the receiver's chosen watermark plus `slotsAheadMax`. */
  | "slotTooFar"
  /** A ballot round beyond ROUND_MAX, or more than `roundsAheadMax` above what the receiver knows. */
  | "roundTooFar"
  /** A slot value larger than a leader builds (`valueBytesMax`). */
  | "valueTooLarge"
  /** A catch-up request from a requester that used up its answer budget (catchupBytesPerSecondMax). */
  | "overBudget"
  /** A prepare from another proposer while the acceptor hears a live leader. */
  | "leaderAlive"
  /**
   * A chosen value that contradicts what this leader proposes in that slot: a higher ballot may
   * have chosen it (we are deposed, and a nack will say so), or the message is wrong.
   */
  | "outvoted"
  /**
   * A value that contradicts what the receiver holds: a second value for one slot and ballot (at
   * an acceptor, a leader or a learner), or a chosen value other than the one a learner learned.
   * A correct cluster never sends one, so it is a forgery or a bug elsewhere: the receiver keeps
   * what it has, and the host raises an alert (error log, counted) instead of stopping.
   */
  | "conflict";

/** One dropped input, with a short detail for the log. */
export interface Refusal {
  readonly reason: RefusalReason;
  readonly detail: string;
}
