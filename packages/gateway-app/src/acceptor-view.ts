import type { Ballot } from "@paxos/core";

/** One acceptor as `GET /v1/cluster` reports it. */
export interface AcceptorView {
  readonly acceptorId: string;
  /** Its promised ballot, or null before its first status arrived. */
  readonly promised: Ballot | null;
  /** Slots it holds an accepted proposal for, or null before its first status. */
  readonly acceptedSlots: number | null;
  /** "unknown" before its first status and once its status is older than the stale bound. */
  readonly storage: "ok" | "unavailable" | "unknown";
  /** Milliseconds since its last status arrived (an age, not a timestamp), or null if never. */
  readonly lastSeenMs: number | null;
}

/** An AcceptorStatus as the acceptor published it. */
export interface AcceptorStatusReport {
  readonly acceptorId: string;
  readonly promised: Ballot;
  readonly acceptedSlots: number;
  readonly storage: "ok" | "unavailable";
}

/**
 * The last status of each configured acceptor. Statuses of ids outside the configured set are
 * refused (the caller counts them), so the view always lists exactly the configured acceptors.
 */
export class AcceptorStatusBoard {
  readonly #acceptorIds: readonly string[];
  readonly #staleMs: number;
  readonly #now: () => number;
  readonly #last = new Map<string, { readonly report: AcceptorStatusReport; readonly atMs: number }>();

  constructor(options: {
    readonly acceptorIds: readonly string[];
    readonly staleMs: number;
    readonly now: () => number;
  }) {
    this.#acceptorIds = options.acceptorIds;
    this.#staleMs = options.staleMs;
    this.#now = options.now;
  }

  /** Records a status; returns false (and keeps nothing) for an acceptor outside the set. */
  record(report: AcceptorStatusReport): boolean {
    if (!this.#acceptorIds.includes(report.acceptorId)) return false;
    this.#last.set(report.acceptorId, { report, atMs: this.#now() });
    return true;
  }

  /** Every configured acceptor, in configuration order. */
  view(): AcceptorView[] {
    const now = this.#now();
    return this.#acceptorIds.map((acceptorId) => {
      const last = this.#last.get(acceptorId);
      if (last === undefined) {
        return { acceptorId, promised: null, acceptedSlots: null, storage: "unknown", lastSeenMs: null };
      }
      const ageMs = Math.max(0, now - last.atMs);
      return {
        acceptorId,
        promised: last.report.promised,
        acceptedSlots: last.report.acceptedSlots,
        storage: ageMs > this.#staleMs ? "unknown" : last.report.storage,
        lastSeenMs: ageMs,
      };
    });
  }
}
