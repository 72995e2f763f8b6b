import { ballotKey, compareBallots, type Ballot, ZERO_BALLOT } from "./ballot.ts";
import { invariant } from "./invariant.ts";
import type { AcceptedEntry, AcceptMsg, CatchupMsg, Message, PrepareMsg } from "./messages.ts";
import { sameSlotValue } from "./value.ts";

/** What an acceptor keeps on stable storage; all of it survives a crash. */
export interface AcceptorState {
  /** The highest ballot promised (or accepted). Never decreases, across restarts too. */
  readonly promised: Ballot;
  /** Per slot, the highest-ballot proposal accepted there. */
  readonly accepted: ReadonlyMap<number, AcceptedEntry>;
  /** Every slot below this is chosen, as a leader said in an accept. Never decreases. */
  readonly chosenBelow: number;
}

/** A fresh acceptor's state: nothing promised, nothing accepted. */
export function emptyAcceptorState(): AcceptorState {
  return { promised: ZERO_BALLOT, accepted: new Map(), chosenBelow: 0 };
}

/**
 * One change to an acceptor's stable storage. A store applies it as one atomic compare-and-write:
 * `promised` is written only if it is not below the stored promise, and `accept` (when present)
 * in the same step.
 */
export interface AcceptorWrite {
  readonly promised: Ballot;
  readonly accept: AcceptedEntry | null;
  /** The chosen watermark; a store keeps the higher of this and what it holds. */
  readonly chosenBelow: number;
}

/**
 * The result of one input: what to persist, then what to send. The host must have `persist` on
 * stable storage before it sends any of `send`; if the write fails it must send nothing, not even
 * a nack, and must not step this acceptor again until it is restored from storage.
 */
export interface AcceptorStep {
  readonly persist: AcceptorWrite | null;
  readonly send: readonly Message[];
}

/** The messages an acceptor acts on; it ignores every other type. */
export type AcceptorInput = PrepareMsg | AcceptMsg | CatchupMsg;

/**
 * The acceptor role ("Paxos Made Simple", 2.2 and 2.3), one instance for every slot at once.
 * Pure: it holds its state in memory and returns what to persist and send. Steps must be applied
 * one at a time, each persisted before the next begins, so the state a reply depends on is on
 * disk before the reply leaves.
 */
export class Acceptor {
  readonly acceptorId: string;
  #promised: Ballot;
  readonly #accepted: Map<number, AcceptedEntry>;
  #chosenBelow: number;

  /** Restores an acceptor from what its storage holds (`emptyAcceptorState()` the first time). */
  constructor(acceptorId: string, restored: AcceptorState) {
    invariant(acceptorId !== "", "acceptor id must not be empty");
    this.acceptorId = acceptorId;
    this.#promised = restored.promised;
    this.#accepted = new Map(restored.accepted);
    this.#chosenBelow = restored.chosenBelow;
    for (const entry of this.#accepted.values()) {
      invariant(
        compareBallots(entry.ballot, this.#promised) <= 0,
        `restored state accepted ballot ${ballotKey(entry.ballot)} above promise ${ballotKey(this.#promised)}`,
      );
    }
  }

  /** The state as it is in memory, which is what storage holds once the last step persisted. */
  get state(): AcceptorState {
    return { promised: this.#promised, accepted: new Map(this.#accepted), chosenBelow: this.#chosenBelow };
  }

  /** The highest ballot this acceptor has promised. */
  get promised(): Ballot {
    return this.#promised;
  }

  /** Handles one message. Types other than AcceptorInput are ignored. */
  receive(msg: Message): AcceptorStep {
    switch (msg.type) {
      case "prepare":
        return this.#onPrepare(msg);
      case "accept":
        return this.#onAccept(msg);
      case "catchup":
        return this.#onCatchup(msg);
      default:
        return { persist: null, send: [] };
    }
  }

  /**
   * Phase 1b, P1a of "Paxos Made Simple" 2.2: promise never to accept a ballot below `b`, unless a
   * higher one was promised. We answer a repeated prepare of the promised ballot again (the
   * proposer may have lost our first answer); that reply depends on nothing new.
   *
   * Slots below the chosen watermark are left out: they are decided, the new leader will not
   * propose there, and leaving them out keeps a promise small however long the log grows (a
   * proposer that restarted knows nothing and prepares from slot 0).
   */
  #onPrepare(msg: PrepareMsg): AcceptorStep {
    const order = compareBallots(msg.ballot, this.#promised);
    if (order < 0) return this.#nack(msg.ballot);
    const persist = order > 0 ? { promised: msg.ballot, accept: null, chosenBelow: this.#chosenBelow } : null;
    this.#promised = msg.ballot;
    const fromSlot = Math.max(msg.fromSlot, this.#chosenBelow);
    const accepted = this.#entriesIn(fromSlot, Number.MAX_SAFE_INTEGER);
    return {
      persist,
      send: [
        { type: "promise", ballot: msg.ballot, acceptorId: this.acceptorId, chosenBelow: this.#chosenBelow, accepted },
      ],
    };
  }

  /**
   * Phase 2b: accept unless a higher ballot was promised (P1a). Accepting `b` also raises the
   * promise to `b`, as Phase2b in Lamport's TLA+ specification sets maxBal: otherwise a later
   * prepare between the old promise and `b` could be promised and learn nothing of this vote.
   */
  #onAccept(msg: AcceptMsg): AcceptorStep {
    if (compareBallots(msg.ballot, this.#promised) < 0) return this.#nack(msg.ballot);
    const previous = this.#accepted.get(msg.slot);
    const reply: Message = {
      type: "accepted",
      ballot: msg.ballot,
      slot: msg.slot,
      value: msg.value,
      acceptorId: this.acceptorId,
    };
    if (previous !== undefined && compareBallots(previous.ballot, msg.ballot) === 0) {
      // One ballot proposes at most one value per slot; two would mean a proposer reused a ballot.
      invariant(
        sameSlotValue(previous.value, msg.value),
        `slot ${msg.slot}: ballot ${ballotKey(msg.ballot)} carries two different values`,
      );
      // A retransmission: the vote is already on disk, and so is the promise it raised.
      return { persist: null, send: [reply] };
    }
    const entry: AcceptedEntry = { slot: msg.slot, ballot: msg.ballot, value: msg.value };
    this.#promised = msg.ballot;
    this.#accepted.set(msg.slot, entry);
    this.#chosenBelow = Math.max(this.#chosenBelow, msg.chosenBelow);
    return { persist: { promised: msg.ballot, accept: entry, chosenBelow: this.#chosenBelow }, send: [reply] };
  }

  /**
   * A learner asks what we hold in a range of slots. We answer even when we hold nothing there:
   * the learner needs to know which acceptors had nothing to report.
   */
  #onCatchup(msg: CatchupMsg): AcceptorStep {
    const { learnerId, fromSlot, toSlot, chosenBelow } = msg;
    const accepted = this.#entriesIn(fromSlot, toSlot);
    return {
      persist: null,
      send: [{ type: "catchupReply", learnerId, acceptorId: this.acceptorId, fromSlot, toSlot, chosenBelow, accepted }],
    };
  }

  /** Accepted entries in slots [fromSlot, toSlot), in slot order. */
  #entriesIn(fromSlot: number, toSlot: number): AcceptedEntry[] {
    const entries: AcceptedEntry[] = [];
    if (toSlot - fromSlot <= this.#accepted.size) {
      for (let slot = fromSlot; slot < toSlot; slot++) {
        const entry = this.#accepted.get(slot);
        if (entry !== undefined) entries.push(entry);
      }
      return entries;
    }
    for (const entry of this.#accepted.values()) {
      if (entry.slot >= fromSlot && entry.slot < toSlot) entries.push(entry);
    }
    return entries.sort((a, b) => a.slot - b.slot);
  }

  #nack(ballot: Ballot): AcceptorStep {
    return {
      persist: null,
      send: [{ type: "nack", ballot, promised: this.#promised, acceptorId: this.acceptorId }],
    };
  }
}
