/**
 * A ballot orders proposals: "Paxos Made Simple", 2.2 requires proposal numbers to be totally
 * ordered and unique per proposer. We take (round, proposerId). The proposerId carries a nonce
 * chosen at each process start, so a proposer that restarts without stable storage can never
 * reuse a ballot it issued before the crash with a different value.
 */
export interface Ballot {
  readonly round: number;
  readonly proposerId: string;
}

/** The ballot below every real ballot: what a fresh acceptor has promised. */
export const ZERO_BALLOT: Ballot = Object.freeze({ round: 0, proposerId: "" });

/**
 * Total order on ballots: by round, then by proposerId (code-unit order). Returns a negative
 * number when `a` is lower, zero when equal, positive when higher.
 */
export function compareBallots(a: Ballot, b: Ballot): number {
  if (a.round !== b.round) return a.round < b.round ? -1 : 1;
  if (a.proposerId === b.proposerId) return 0;
  return a.proposerId < b.proposerId ? -1 : 1;
}

/** The higher of two ballots (the first on a tie). */
export function maxBallot(a: Ballot, b: Ballot): Ballot {
  return compareBallots(a, b) >= 0 ? a : b;
}

/** A compact, unique string form of a ballot, for map keys and logs: `round.proposerId`. */
export function ballotKey(b: Ballot): string {
  return `${b.round}.${b.proposerId}`;
}
