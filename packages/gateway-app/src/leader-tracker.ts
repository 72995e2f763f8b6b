import { type Ballot, compareBallots } from "@paxos/core";

/** The leader as the gateway believes it: the highest ballot heard recently. */
export interface KnownLeader {
  readonly proposerId: string;
  readonly ballot: Ballot;
  /** When its last heartbeat arrived (the tracker's clock). */
  readonly heardAtMs: number;
}

/**
 * Who leads, from proposer heartbeats. Keeps the last heartbeat of each proposer and names as
 * leader the one with the highest ballot heard within `staleMs`: a deposed leader may still
 * send heartbeats until it meets a higher ballot, and a crashed one stops, so the highest recent
 * ballot is the best guess. Only a guess: a proposer that is not the leader answers "notLeader"
 * with a hint, and the gateway follows it.
 */
/** Proposers a gateway keeps track of; a cluster runs a handful. */
const PROPOSERS_HELD_MAX = 64;

export class LeaderTracker {
  readonly #staleMs: number;
  readonly #now: () => number;
  readonly #heard = new Map<string, KnownLeader>();
  readonly #waiters = new Set<() => void>();

  constructor(options: { readonly staleMs: number; readonly now: () => number }) {
    this.#staleMs = options.staleMs;
    this.#now = options.now;
  }

  /**
   * Records a heartbeat from the proposer that owns `ballot`. At most PROPOSERS_HELD_MAX
   * proposers are held (ids are chosen by senders): a new one beyond that replaces the one with
   * the lowest ballot, which is never the leader's.
   */
  heartbeat(ballot: Ballot): void {
    const proposerId = ballot.proposerId;
    const previous = this.#heard.get(proposerId);
    if (previous === undefined && this.#heard.size >= PROPOSERS_HELD_MAX) this.#forgetLowest();
    // A proposer's ballots only grow; a reordered older heartbeat must not lower what we know.
    const highest = previous !== undefined && compareBallots(previous.ballot, ballot) > 0 ? previous.ballot : ballot;
    this.#heard.set(proposerId, { proposerId, ballot: highest, heardAtMs: this.#now() });
    for (const wake of [...this.#waiters]) wake();
  }

  #forgetLowest(): void {
    let lowest: KnownLeader | undefined;
    for (const heard of this.#heard.values()) {
      if (lowest === undefined || compareBallots(heard.ballot, lowest.ballot) < 0) lowest = heard;
    }
    if (lowest !== undefined) this.#heard.delete(lowest.proposerId);
  }

  /** How many proposers are held (bounded by PROPOSERS_HELD_MAX). */
  get proposersHeld(): number {
    return this.#heard.size;
  }

  /** The leader heard within `staleMs` with the highest ballot, or null. */
  leader(): KnownLeader | null {
    const now = this.#now();
    let best: KnownLeader | null = null;
    for (const [proposerId, heard] of this.#heard) {
      if (now - heard.heardAtMs > this.#staleMs) {
        this.#heard.delete(proposerId);
        continue;
      }
      if (best === null || compareBallots(heard.ballot, best.ballot) > 0) best = heard;
    }
    return best;
  }

  /**
   * Resolves with the leader once one is known that `wanted` accepts (any leader by default: a
   * proposal queued at one proposer passes a test that tells it leadership moved), or with the
   * current leader, whichever it is (null too), after `timeoutMs` or when `signal` aborts.
   * Resolves at once when such a leader is known already. A pending wait holds a timer until it
   * times out or `signal` aborts.
   */
  async waitForLeader(
    timeoutMs: number,
    signal?: AbortSignal,
    wanted: (leader: KnownLeader) => boolean = () => true,
  ): Promise<KnownLeader | null> {
    const found = (): boolean => {
      const leader = this.leader();
      return leader !== null && wanted(leader);
    };
    if (found() || timeoutMs <= 0 || signal?.aborted === true) return this.leader();
    return await new Promise((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(onHeartbeat);
        signal?.removeEventListener("abort", finish);
        resolve(this.leader());
      };
      const onHeartbeat = (): void => {
        if (found()) finish();
      };
      const timer = setTimeout(finish, timeoutMs);
      this.#waiters.add(onHeartbeat);
      signal?.addEventListener("abort", finish, { once: true });
    });
  }
}
