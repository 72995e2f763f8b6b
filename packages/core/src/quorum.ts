import { invariant } from "./invariant.ts";

/**
 * The configured acceptors and the majority rule over them. Only distinct, configured acceptor
 * ids count toward a quorum: duplicates, replays and unknown ids never do ("Paxos Made Simple",
 * 2.2 needs any two majorities to share an acceptor, which only holds over one fixed set).
 */
export class QuorumConfig {
  readonly acceptorIds: ReadonlySet<string>;
  /** Votes needed: a strict majority of the configured acceptors. */
  readonly size: number;

  constructor(acceptorIds: readonly string[]) {
    const ids = new Set(acceptorIds);
    invariant(ids.size === acceptorIds.length, "acceptor ids must be distinct");
    invariant(ids.size >= 1, "at least one acceptor is needed");
    invariant(![...ids].some((id) => id === ""), "acceptor ids must not be empty");
    this.acceptorIds = ids;
    this.size = Math.floor(ids.size / 2) + 1;
  }

  /** True when `acceptorId` is one of the configured acceptors. */
  isMember(acceptorId: string): boolean {
    return this.acceptorIds.has(acceptorId);
  }

  /** True when the distinct configured members of `voters` form a majority. */
  isQuorum(voters: ReadonlySet<string>): boolean {
    let count = 0;
    for (const id of voters) if (this.acceptorIds.has(id)) count++;
    return count >= this.size;
  }
}
