import { invariant } from "./invariant.ts";
import { DEFAULT_LIMITS, type Limits } from "./limits.ts";
import { type Ballot, ballotKey, compareBallots } from "./ballot.ts";
import type { AcceptedEntry, CatchupMsg, CatchupReplyMsg, Message } from "./messages.ts";
import { QuorumConfig } from "./quorum.ts";
import { ReplyBudget } from "./reply-budget.ts";
import type { Refusal } from "./refusal.ts";
import { type ClientRequest, sameSlotValue, type SlotValue, slotValueBytes } from "./value.ts";

/** How a learner is set up. */
export interface LearnerConfig {
  readonly learnerId: string;
  readonly acceptorIds: readonly string[];
  readonly limits?: Limits;
}

/**
 * What the learner hands the application, in log order. A client request gets the next index
 * the first time it is chosen; a request chosen again (after retries) is reported as a duplicate
 * with the index it got the first time.
 */
export type Delivery =
  | { readonly kind: "delivered"; readonly index: number; readonly slot: number; readonly request: ClientRequest }
  | { readonly kind: "duplicate"; readonly index: number; readonly slot: number; readonly requestId: string };

/** One entry of the decided log of client values. */
export interface LogEntry {
  readonly index: number;
  readonly slot: number;
  readonly request: ClientRequest;
}

/**
 * The result of one input. The host must make `learned` durable before it acts on `delivered`
 * (a restarted learner rebuilds deliveries from its learned slots), and may send `send` at once.
 */
export interface LearnerStep {
  readonly learned: readonly { readonly slot: number; readonly value: SlotValue }[];
  readonly delivered: readonly Delivery[];
  readonly send: readonly Message[];
  /** Inputs dropped unused (slots too far ahead to hold, conflicting values); the host counts them. */
  readonly refused: readonly Refusal[];
}

/**
 * The votes of one ballot in one slot. A correct ballot carries one value, so `candidates` has one
 * entry; a second is a forgery or a bug elsewhere, kept apart so it can neither borrow the first
 * value's voters nor stop this learner. Each acceptor counts once per ballot, so at most one
 * candidate can reach a majority, and there are no more candidates than acceptors.
 */
interface BallotVotes {
  readonly ballot: Ballot;
  readonly candidates: { readonly value: SlotValue; readonly voters: Set<string> }[];
  /** Acceptors counted at this ballot, whatever value they voted. */
  readonly voted: Set<string>;
}

/**
 * Ballots whose votes a learner holds per slot. A slot sees a new ballot only when a leader
 * changes during its phase 2, so a handful is plenty; beyond it the lowest ballot's votes are
 * dropped (safe: dropping votes costs only a catch-up), which bounds what a flood of votes at
 * made-up ballots can hold.
 */
const BALLOTS_PER_SLOT_MAX = 4;

/**
 * The learner role ("Paxos Made Simple", 2.3). It learns a slot's value when a majority of
 * distinct configured acceptors report accepting it at the same ballot, or when a leader or peer
 * learner tells it the slot is chosen. It delivers client values in slot order, numbering them
 * without gaps (no-ops and duplicates take no index), and asks acceptors and peers for slots it
 * has missed.
 */
export class Learner {
  readonly learnerId: string;
  readonly #quorum: QuorumConfig;
  readonly #limits: Limits;

  /** Every learned slot. The host keeps the same on stable storage. */
  readonly #log = new Map<number, SlotValue>();
  readonly #replyBudget: ReplyBudget;
  /** Votes for slots not yet learned: slot → ballot key → value and voters. */
  readonly #votes = new Map<number, Map<string, BallotVotes>>();
  /** Catch-up answers for slots known to be chosen: slot → acceptor → what it held (or null). */
  readonly #reports = new Map<number, Map<string, AcceptedEntry | null>>();

  #nextSlot = 0;
  readonly #entries: LogEntry[] = [];
  readonly #indexOf = new Map<string, number>();
  /** Every slot below this is known to be chosen: a leader said so in a heartbeat. */
  #chosenBelow = 0;
  /** One above the highest slot this learner has heard of (learned or voted for). */
  #seenBelow = 0;
  #lastProgressMs = 0;
  #catchupSentMs = 0;
  /** When the current gap (slots known to exist but not delivered) appeared; null without one. */
  #gapSinceMs: number | null = null;

  /**
   * Restores a learner from the slots its storage holds (none the first time). The log is
   * replayed to rebuild the indices; nothing is delivered again.
   */
  constructor(config: LearnerConfig, restored: Iterable<readonly [number, SlotValue]> = [], nowMs = 0) {
    invariant(config.learnerId !== "", "learner id must not be empty");
    this.learnerId = config.learnerId;
    this.#quorum = new QuorumConfig(config.acceptorIds);
    this.#limits = config.limits ?? DEFAULT_LIMITS;
    this.#replyBudget = new ReplyBudget(
      this.#limits.catchupBytesPerSecondMax,
      this.#limits.catchupTotalBytesPerSecondMax,
    );
    this.#lastProgressMs = nowMs;
    const replay = new StepBuilder();
    for (const [slot, value] of restored) this.#learn(slot, value, nowMs, replay);
    // The stored log is our own: a conflict there is not a stranger's message.
    invariant(replay.refused.length === 0, `restored log: ${replay.refused[0]?.detail ?? ""}`);
  }

  /** The first slot not yet delivered. */
  get nextSlot(): number {
    return this.#nextSlot;
  }

  /** How many client values were delivered; the next one gets this index. */
  get nextIndex(): number {
    return this.#entries.length;
  }

  /** Slots known to exist (chosen, or with votes) that this learner has not delivered yet. */
  get gapSlots(): number {
    return Math.max(0, this.#catchupEnd() - this.#nextSlot);
  }

  /**
   * Slots this learner holds evidence for without having learned them: votes, and catch-up
   * reports. Both are bounded by slotsAheadMax above the next slot, whatever peers send.
   */
  get heldSlots(): { readonly votes: number; readonly reports: number } {
    return { votes: this.#votes.size, reports: this.#reports.size };
  }

  /** The delivered entry at `index`, or undefined while it is not decided. */
  entry(index: number): LogEntry | undefined {
    return this.#entries[index];
  }

  /** The index a request was first delivered at, or undefined. */
  indexOf(requestId: string): number | undefined {
    return this.#indexOf.get(requestId);
  }

  /** The value learned for `slot`, or undefined. */
  slotValue(slot: number): SlotValue | undefined {
    return this.#log.get(slot);
  }

  /** Handles one message addressed to learners; other types are ignored. */
  receive(msg: Message, nowMs: number): LearnerStep {
    const out = new StepBuilder();
    switch (msg.type) {
      case "accepted":
        this.#vote(msg.slot, msg.ballot, msg.value, msg.acceptorId, nowMs, out);
        break;
      case "catchupReply":
        if (msg.learnerId === this.learnerId) this.#onCatchupReply(msg, nowMs, out);
        break;
      case "chosen":
        this.#learn(msg.slot, msg.value, nowMs, out);
        break;
      case "heartbeat":
        this.#chosenBelow = Math.max(this.#chosenBelow, msg.chosenBelow);
        break;
      case "catchup":
        if (msg.learnerId !== this.learnerId) this.#answerPeer(msg, nowMs, out);
        break;
      default:
        break;
    }
    if (this.#nextSlot >= this.#catchupEnd()) this.#gapSinceMs = null;
    else this.#gapSinceMs ??= nowMs;
    return out.build();
  }

  /**
   * Advances time: asks for slots that stay missing for `catchupIntervalMs`. While answers keep
   * bringing progress it asks for the next range at once, so a learner far behind catches up at
   * one range per round trip rather than one per interval.
   */
  tick(nowMs: number): LearnerStep {
    const out = new StepBuilder();
    const gapMs = nowMs - Math.max(this.#lastProgressMs, this.#gapSinceMs ?? nowMs);
    const askedMs = nowMs - this.#catchupSentMs;
    const interval = this.#limits.catchupIntervalMs;
    // Catching up: our last question was recent and its answers moved us forward.
    const catchingUp = this.#catchupSentMs > 0 && askedMs < interval && this.#lastProgressMs > this.#catchupSentMs;
    const endSlot = this.#catchupEnd();
    const due = catchingUp || (gapMs >= interval && askedMs >= interval);
    if (this.#nextSlot < endSlot && due) {
      this.#catchupSentMs = nowMs;
      out.send.push({
        type: "catchup",
        learnerId: this.learnerId,
        fromSlot: this.#nextSlot,
        toSlot: Math.min(endSlot, this.#nextSlot + this.#limits.catchupSlotsMax),
        chosenBelow: this.#chosenBelow,
      });
    }
    return out.build();
  }

  #catchupEnd(): number {
    return Math.max(this.#chosenBelow, this.#seenBelow);
  }

  /**
   * An acceptor answered our catch-up. Its entries count as votes. For slots a leader had told us
   * were chosen when we asked (the request's `chosenBelow`, echoed in the answer), the answer is
   * also a report made after the choice: once a majority of acceptors have
   * reported, the value of the highest ballot among their reports is the chosen one. This is the
   * reasoning of phase 1 ("Paxos Made Simple", 2.2, P2c): the reporting majority shares an
   * acceptor with the majority that chose value v at ballot b; that acceptor reports a ballot of
   * at least b, and every proposal accepted at a ballot of at least b carries v. It lets a learner
   * recover a slot whose votes a later leader scattered across ballots.
   */
  #onCatchupReply(msg: CatchupReplyMsg, nowMs: number, out: StepBuilder): void {
    if (!this.#quorum.isMember(msg.acceptorId)) return;
    for (const entry of msg.accepted) this.#vote(entry.slot, entry.ballot, entry.value, msg.acceptorId, nowMs, out);
    const held = new Map(msg.accepted.map((entry) => [entry.slot, entry]));
    // Only slots known chosen when we asked: an answer to an older question may predate the choice.
    // What we know now bounds that echo, and reports are held only for slots a vote could be.
    const toSlot = Math.min(
      msg.toSlot,
      msg.chosenBelow,
      this.#chosenBelow,
      msg.fromSlot + this.#limits.catchupSlotsMax,
      this.#nextSlot + this.#limits.slotsAheadMax,
    );
    for (let slot = Math.max(msg.fromSlot, this.#nextSlot); slot < toSlot; slot++) {
      if (this.#log.has(slot)) continue;
      let reports = this.#reports.get(slot);
      if (reports === undefined) {
        reports = new Map();
        this.#reports.set(slot, reports);
      }
      reports.set(msg.acceptorId, held.get(slot) ?? null);
      if (!this.#quorum.isQuorum(new Set(reports.keys()))) continue;
      let highest: AcceptedEntry | null = null;
      for (const entry of reports.values()) {
        if (entry !== null && (highest === null || compareBallots(entry.ballot, highest.ballot) > 0)) highest = entry;
      }
      // A majority holding nothing cannot happen for a chosen slot; keep waiting rather than guess.
      if (highest !== null) this.#learn(slot, highest.value, nowMs, out);
    }
  }

  /**
   * Counts one acceptor's vote. A vote is a fact, "acceptor A accepted v in slot s at ballot b",
   * whenever it arrives: once a majority hold it, v is chosen (P2 of "Paxos Made Simple" makes it
   * the only value that can be).
   */
  #vote(slot: number, ballot: Ballot, value: SlotValue, acceptorId: string, nowMs: number, out: StepBuilder): void {
    if (!this.#quorum.isMember(acceptorId) || slot < this.#nextSlot || this.#log.has(slot)) return;
    if (slot >= this.#nextSlot + this.#limits.slotsAheadMax) {
      // Held votes are bounded: a learner this far behind catches up on the range instead.
      out.refused.push({ reason: "slotTooFar", detail: `vote for slot ${slot}, next slot ${this.#nextSlot}` });
      return;
    }
    this.#seenBelow = Math.max(this.#seenBelow, slot + 1);
    let bySlot = this.#votes.get(slot);
    if (bySlot === undefined) {
      bySlot = new Map();
      this.#votes.set(slot, bySlot);
    }
    const key = ballotKey(ballot);
    let votes = bySlot.get(key);
    if (votes === undefined) {
      if (bySlot.size >= BALLOTS_PER_SLOT_MAX) {
        const lowest = lowestBallot(bySlot);
        if (compareBallots(ballot, lowest.ballot) < 0) return;
        bySlot.delete(ballotKey(lowest.ballot));
      }
      votes = { ballot, candidates: [], voted: new Set() };
      bySlot.set(key, votes);
    }
    if (votes.voted.has(acceptorId)) {
      // Usually a retransmission. The acceptor's first vote at this ballot is the one counted.
      const counted = votes.candidates.find((candidate) => candidate.voters.has(acceptorId));
      if (counted !== undefined && !sameSlotValue(counted.value, value)) {
        out.refused.push({
          reason: "conflict",
          detail: `slot ${slot}: acceptor ${acceptorId} voted two values at ballot ${key}`,
        });
      }
      return;
    }
    let candidate = votes.candidates.find((one) => sameSlotValue(one.value, value));
    if (candidate === undefined) {
      if (votes.candidates.length > 0) {
        out.refused.push({ reason: "conflict", detail: `slot ${slot}: ballot ${key} carries two different values` });
      }
      candidate = { value, voters: new Set() };
      votes.candidates.push(candidate);
    }
    votes.voted.add(acceptorId);
    candidate.voters.add(acceptorId);
    if (this.#quorum.isQuorum(candidate.voters)) this.#learn(slot, value, nowMs, out);
  }

  /**
   * Learns that `value` is chosen in `slot`. A learned value never changes: another one for the
   * same slot is refused as a conflict (a forged or broken chosen message; the stored value stands).
   */
  #learn(slot: number, value: SlotValue, nowMs: number, out: StepBuilder): void {
    const known = this.#log.get(slot);
    if (known !== undefined) {
      if (!sameSlotValue(known, value)) {
        out.refused.push({ reason: "conflict", detail: `slot ${slot}: told of a value other than the one learned` });
      }
      return;
    }
    this.#log.set(slot, value);
    this.#votes.delete(slot);
    this.#reports.delete(slot);
    this.#seenBelow = Math.max(this.#seenBelow, slot + 1);
    out.learned.push({ slot, value });
    this.#deliverReady(nowMs, out);
  }

  #deliverReady(nowMs: number, out: StepBuilder): void {
    for (let value = this.#log.get(this.#nextSlot); value !== undefined; value = this.#log.get(this.#nextSlot)) {
      const slot = this.#nextSlot++;
      this.#lastProgressMs = nowMs;
      if (value.kind === "noop") continue;
      for (const request of value.requests) {
        const first = this.#indexOf.get(request.id);
        if (first !== undefined) {
          out.delivered.push({ kind: "duplicate", index: first, slot, requestId: request.id });
          continue;
        }
        const index = this.#entries.length;
        this.#entries.push({ index, slot, request });
        this.#indexOf.set(request.id, index);
        out.delivered.push({ kind: "delivered", index, slot, request });
      }
    }
  }

  /**
   * A peer learner missed slots: tell it those we learned, within its answer budget
   * (catchupBytesPerSecondMax; the sizes counted are the values', about what the answers weigh).
   */
  #answerPeer(msg: CatchupMsg, nowMs: number, out: StepBuilder): void {
    const toSlot = Math.min(msg.toSlot, msg.fromSlot + this.#limits.catchupSlotsMax);
    for (let slot = msg.fromSlot; slot < toSlot; slot++) {
      const value = this.#log.get(slot);
      if (value === undefined) continue;
      if (this.#replyBudget.available(msg.learnerId, nowMs) <= 0) {
        out.refused.push({ reason: "overBudget", detail: `catch-up from learner ${msg.learnerId}` });
        return;
      }
      this.#replyBudget.spend(msg.learnerId, slotValueBytes(value), nowMs);
      out.send.push({ type: "chosen", slot, value });
    }
  }
}

function lowestBallot(bySlot: ReadonlyMap<string, BallotVotes>): BallotVotes {
  let lowest: BallotVotes | undefined;
  for (const votes of bySlot.values()) {
    if (lowest === undefined || compareBallots(votes.ballot, lowest.ballot) < 0) lowest = votes;
  }
  invariant(lowest !== undefined, "no ballots to compare");
  return lowest;
}

class StepBuilder {
  readonly learned: { slot: number; value: SlotValue }[] = [];
  readonly delivered: Delivery[] = [];
  readonly send: Message[] = [];
  readonly refused: Refusal[] = [];

  build(): LearnerStep {
    return { learned: this.learned, delivered: this.delivered, send: this.send, refused: this.refused };
  }
}
