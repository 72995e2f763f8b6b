import { ballotKey, compareBallots, type Ballot, ZERO_BALLOT } from "./ballot.ts";
import { invariant } from "./invariant.ts";
import { ReplyBudget } from "./reply-budget.ts";
import { DEFAULT_LIMITS, type Limits, MESSAGE_OVERHEAD_BYTES, ROUND_MAX, valueBytesMax } from "./limits.ts";
import type { AcceptedEntry, AcceptMsg, CatchupMsg, HeartbeatMsg, Message, PrepareMsg } from "./messages.ts";
import type { Refusal } from "./refusal.ts";
import { sameSlotValue, slotValueBytes, utf8Bytes } from "./value.ts";

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
  /** Why the input was dropped unanswered, or null; the host counts it. */
  readonly refused: Refusal | null;
}

/** The messages an acceptor acts on; it ignores every other type. */
export type AcceptorInput = PrepareMsg | AcceptMsg | CatchupMsg | HeartbeatMsg;

const NOTHING: AcceptorStep = Object.freeze({ persist: null, send: [], refused: null });

/**
 * The acceptor role ("Paxos Made Simple", 2.2 and 2.3), one instance for every slot at once.
 * Pure: it holds its state in memory and returns what to persist and send. Steps must be applied
 * one at a time, each persisted before the next begins, so the state a reply depends on is on
 * disk before the reply leaves.
 *
 * Beyond the paper, every input is bounded: accepts for slots far above the chosen watermark,
 * ballots far above the promise and values larger than a leader builds are dropped unanswered
 * (as if lost), so that no single message can make the next leader fill millions of slots or push
 * rounds to their end. And an acceptor that hears a live leader (its heartbeats or accepts within
 * a leader timeout) ignores prepares from other proposers, as Raft's pre-vote and leader
 * stickiness do: a proposer that was cut off and comes back cannot depose a healthy leader.
 * Ignoring a prepare is a lost message to Paxos, so safety does not depend on it.
 */
export class Acceptor {
  readonly acceptorId: string;
  readonly #limits: Limits;
  readonly #replyBudget: ReplyBudget;
  #promised: Ballot;
  readonly #accepted: Map<number, AcceptedEntry>;
  #chosenBelow: number;
  /** The live leader we last heard (heartbeat or accept at or above our promise), not persisted. */
  #leader: { readonly ballot: Ballot; readonly untilMs: number } | null = null;

  /**
   * Restores an acceptor from what its storage holds (`emptyAcceptorState()` the first time).
   * `limits` must be those of every process of the cluster.
   */
  constructor(acceptorId: string, restored: AcceptorState, limits: Limits = DEFAULT_LIMITS) {
    invariant(acceptorId !== "", "acceptor id must not be empty");
    this.acceptorId = acceptorId;
    this.#limits = limits;
    this.#replyBudget = new ReplyBudget(limits.catchupBytesPerSecondMax, limits.catchupTotalBytesPerSecondMax);
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

  /** Every slot below this is chosen, as far as this acceptor knows. */
  get chosenBelow(): number {
    return this.#chosenBelow;
  }

  /** Handles one message at the host's time `nowMs`. Types other than AcceptorInput are ignored. */
  receive(msg: Message, nowMs: number): AcceptorStep {
    switch (msg.type) {
      case "prepare":
        return this.#onPrepare(msg, nowMs);
      case "accept":
        return this.#onAccept(msg, nowMs);
      case "catchup":
        return this.#onCatchup(msg, nowMs);
      case "heartbeat":
        this.#hearLeader(msg.ballot, nowMs);
        return NOTHING;
      default:
        return NOTHING;
    }
  }

  /** A ballot round this acceptor must not take: beyond ROUND_MAX, or too far above its promise. */
  #roundTooFar(ballot: Ballot): Refusal | null {
    if (ballot.round <= ROUND_MAX && ballot.round - this.#promised.round <= this.#limits.roundsAheadMax) return null;
    return {
      reason: "roundTooFar",
      detail: `ballot ${ballotKey(ballot)} is more than ${this.#limits.roundsAheadMax} rounds above the promise ${ballotKey(this.#promised)}`,
    };
  }

  #hearLeader(ballot: Ballot, nowMs: number): void {
    if (compareBallots(ballot, this.#promised) < 0 || this.#roundTooFar(ballot) !== null) return;
    this.#leader = { ballot, untilMs: nowMs + this.#limits.leaderTimeoutMs };
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
  #onPrepare(msg: PrepareMsg, nowMs: number): AcceptorStep {
    const order = compareBallots(msg.ballot, this.#promised);
    if (order < 0) return this.#nack(msg.ballot);
    const tooFar = this.#roundTooFar(msg.ballot);
    if (tooFar !== null) return { ...NOTHING, refused: tooFar };
    const leader = this.#leader;
    if (
      order > 0 &&
      leader !== null &&
      nowMs < leader.untilMs &&
      compareBallots(leader.ballot, this.#promised) >= 0 &&
      leader.ballot.proposerId !== msg.ballot.proposerId
    ) {
      return {
        ...NOTHING,
        refused: {
          reason: "leaderAlive",
          detail: `prepare ${ballotKey(msg.ballot)} while leader ${ballotKey(leader.ballot)} is alive`,
        },
      };
    }
    const persist = order > 0 ? { promised: msg.ballot, accept: null, chosenBelow: this.#chosenBelow } : null;
    this.#promised = msg.ballot;
    const fromSlot = Math.max(msg.fromSlot, this.#chosenBelow);
    const { entries, endSlot } = this.#entriesFitting(fromSlot, Number.MAX_SAFE_INTEGER);
    return {
      persist,
      send: [
        {
          type: "promise",
          ballot: msg.ballot,
          acceptorId: this.acceptorId,
          fromSlot: msg.fromSlot,
          toSlot: endSlot,
          chosenBelow: this.#chosenBelow,
          accepted: entries,
        },
      ],
      refused: null,
    };
  }

  /**
   * Phase 2b: accept unless a higher ballot was promised (P1a). Accepting `b` also raises the
   * promise to `b`, as Phase2b in Lamport's TLA+ specification sets maxBal: otherwise a later
   * prepare between the old promise and `b` could be promised and learn nothing of this vote.
   */
  #onAccept(msg: AcceptMsg, nowMs: number): AcceptorStep {
    if (compareBallots(msg.ballot, this.#promised) < 0) return this.#nack(msg.ballot);
    const refused = this.#acceptRefusal(msg);
    if (refused !== null) return { ...NOTHING, refused };
    this.#hearLeader(msg.ballot, nowMs);
    const previous = this.#accepted.get(msg.slot);
    const reply: Message = {
      type: "accepted",
      ballot: msg.ballot,
      slot: msg.slot,
      value: msg.value,
      acceptorId: this.acceptorId,
    };
    if (previous !== undefined && compareBallots(previous.ballot, msg.ballot) === 0) {
      if (!sameSlotValue(previous.value, msg.value)) {
        // One ballot proposes at most one value per slot. A second one is a forgery or another
        // process's bug, not ours: the vote on disk stands and the stranger is refused.
        const detail = `slot ${msg.slot}: ballot ${ballotKey(msg.ballot)} already voted for another value`;
        return { ...NOTHING, refused: { reason: "conflict", detail } };
      }
      // A retransmission: the vote is already on disk, and so is the promise it raised.
      return { persist: null, send: [reply], refused: null };
    }
    const entry: AcceptedEntry = { slot: msg.slot, ballot: msg.ballot, value: msg.value };
    this.#promised = msg.ballot;
    this.#accepted.set(msg.slot, entry);
    this.#chosenBelow = Math.max(this.#chosenBelow, msg.chosenBelow);
    return {
      persist: { promised: msg.ballot, accept: entry, chosenBelow: this.#chosenBelow },
      send: [reply],
      refused: null,
    };
  }

  /**
   * Why an accept at or above the promise must be dropped, or null. A correct leader proposes in
   * slot s only while s < its chosenBelow + inflightSlotsMax and builds values of at most
   * valueBytesMax, so what breaks these bounds is a bug or a forgery; storing it would poison the
   * next leader's phase 1.
   */
  #acceptRefusal(msg: AcceptMsg): Refusal | null {
    const tooFar = this.#roundTooFar(msg.ballot);
    if (tooFar !== null) return tooFar;
    const watermark = Math.max(this.#chosenBelow, msg.chosenBelow);
    if (msg.slot >= watermark + this.#limits.slotsAheadMax) {
      return {
        reason: "slotTooFar",
        detail: `slot ${msg.slot} is ${this.#limits.slotsAheadMax} or more above the chosen watermark ${watermark}`,
      };
    }
    const bytes = slotValueBytes(msg.value);
    if (bytes > valueBytesMax(this.#limits)) {
      return { reason: "valueTooLarge", detail: `slot ${msg.slot}: a value of ${bytes} bytes` };
    }
    return null;
  }

  /**
   * A learner asks what we hold in a range of slots. We answer even when we hold nothing there:
   * the learner needs to know which acceptors had nothing to report. An answer that would not
   * fit one message covers a shorter range (`toSlot` says where it ends); the learner asks again.
   */
  /**
   * A learner asks for the votes it missed in [fromSlot, toSlot): answered in one message, within
   * the learner's answer budget (catchupBytesPerSecondMax); a learner that used it up is refused
   * until it refills, and a budget short of the whole range gets the slots that fit.
   */
  #onCatchup(msg: CatchupMsg, nowMs: number): AcceptorStep {
    const { learnerId, fromSlot, chosenBelow } = msg;
    const budget = this.#replyBudget.available(learnerId, nowMs);
    if (budget < MESSAGE_OVERHEAD_BYTES) {
      return { ...NOTHING, refused: { reason: "overBudget", detail: `catch-up from learner ${learnerId}` } };
    }
    const { entries, endSlot, bytes } = this.#entriesFitting(fromSlot, msg.toSlot, budget);
    this.#replyBudget.spend(learnerId, bytes, nowMs);
    const toSlot = endSlot ?? msg.toSlot;
    return {
      persist: null,
      send: [
        {
          type: "catchupReply",
          learnerId,
          acceptorId: this.acceptorId,
          fromSlot,
          toSlot,
          chosenBelow,
          accepted: entries,
        },
      ],
      refused: null,
    };
  }

  /**
   * The accepted entries in [fromSlot, toSlot), in slot order, as many as fit one message and
   * `bytesMax` (which counts the message's overhead too). `endSlot` is null when every entry of
   * the range is there, otherwise the slot of the first entry left out: the answer then covers
   * [fromSlot, endSlot) only. At least one entry is always taken, and one always fits one
   * message, since an acceptor stores no value above valueBytesMax. `bytes`: about what the
   * answer weighs.
   */
  #entriesFitting(
    fromSlot: number,
    toSlot: number,
    bytesMax: number = this.#limits.messageBytesMax,
  ): { entries: AcceptedEntry[]; endSlot: number | null; bytes: number } {
    const all = this.#entriesIn(fromSlot, toSlot);
    const room = Math.min(this.#limits.messageBytesMax, bytesMax) - MESSAGE_OVERHEAD_BYTES;
    let used = 0;
    for (let i = 0; i < all.length; i++) {
      const entry = all[i]!;
      const size = utf8Bytes(JSON.stringify(entry)) + 1;
      if (used + size > room && i > 0) {
        return { entries: all.slice(0, i), endSlot: entry.slot, bytes: used + MESSAGE_OVERHEAD_BYTES };
      }
      used += size;
    }
    return { entries: all, endSlot: null, bytes: used + MESSAGE_OVERHEAD_BYTES };
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
      refused: null,
    };
  }
}
