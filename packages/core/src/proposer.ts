import { ballotKey, compareBallots, maxBallot, type Ballot, ZERO_BALLOT } from "./ballot.ts";
import { invariant } from "./invariant.ts";
import { DEFAULT_LIMITS, type Limits, ROUND_MAX } from "./limits.ts";
import type { AcceptedEntry, AcceptedMsg, ChosenMsg, HeartbeatMsg, Message, NackMsg, PromiseMsg } from "./messages.ts";
import { QuorumConfig } from "./quorum.ts";
import type { Refusal } from "./refusal.ts";
import { type ClientRequest, NOOP, requestBytes, sameSlotValue, type SlotValue } from "./value.ts";

/** How a proposer is set up at each process start. */
export interface ProposerConfig {
  /** Unique per process start: a stable name plus a fresh nonce (see Ballot). */
  readonly proposerId: string;
  readonly acceptorIds: readonly string[];
  readonly limits?: Limits;
  /** A uniform random number in [0, 1); the only randomness the proposer uses. */
  readonly random: () => number;
  /** The host's clock at start-up; later times come with each input. */
  readonly nowMs: number;
  /**
   * The round this proposer's ballots start above (0 by default). With a fresh nonce in
   * `proposerId` at every start, 0 is safe; a host that keeps a durable round counter instead
   * passes the highest round it reserved.
   */
  readonly startRound?: number;
}

/** Where a proposer stands: following a leader, running phase 1, or leading. */
export type ProposerRole = "follower" | "candidate" | "leader";

/** Why a proposer turned a client request away; the client should retry (elsewhere). */
export type RejectionReason = "notLeader" | "overloaded" | "tooLarge";

/** A client request this proposer will not carry, with a hint where the leader is. */
export interface Rejection {
  readonly requestId: string;
  readonly reason: RejectionReason;
  readonly leaderHint: string | null;
}

/**
 * The result of one input. A proposer keeps nothing on stable storage (a restart takes a new
 * nonce instead), so the host sends `send` at once and answers the clients in `rejected`.
 * `chosen` lists the slots this leader saw a majority accept in this step.
 */
export interface ProposerStep {
  readonly send: readonly Message[];
  readonly rejected: readonly Rejection[];
  readonly chosen: readonly { readonly slot: number; readonly value: SlotValue }[];
  /** Inputs dropped unused (a conflicting chosen, a ballot out of range); the host counts them. */
  readonly refused: readonly Refusal[];
}

interface InflightSlot {
  readonly value: SlotValue;
  /** When the accept was first sent: the slot has waited since then. */
  readonly proposedMs: number;
  /** When the accept was last (re)sent. */
  sentMs: number;
  readonly voters: Set<string>;
}

/**
 * The proposer role of Multi-Paxos ("Paxos Made Simple", 2.2 and 3). A follower watches the
 * leader's heartbeat; when it stops, the follower becomes a candidate and runs phase 1 once for
 * every slot from the first one it does not know to be chosen, in ranges that each fit one
 * promise. With a majority of promises for every range it leads: it re-proposes, in each slot,
 * the value of the highest ballot that phase 1 revealed, fills the holes, then batches client
 * requests into new slots. It proposes in slot s only while s < chosenBelow + inflightSlotsMax
 * (the window is bounded by the watermark, not by the count in flight), so one slot waiting for
 * retransmission holds back the rest and no acceptor ever holds more than a window of values
 * above its watermark. A nack, a live leader's heartbeat, or a slot that waits a whole leader
 * timeout while no majority answers makes it step down.
 *
 * Pure: time comes in with each input, randomness from `config.random`.
 */
export class Proposer {
  readonly proposerId: string;
  readonly #quorum: QuorumConfig;
  readonly #limits: Limits;
  readonly #random: () => number;

  #role: ProposerRole = "follower";
  #ballot: Ballot;
  #highestSeen: Ballot = ZERO_BALLOT;
  /** The highest ballot another proposer was seen leading with (heartbeats and votes). */
  #highestOthers: Ballot = ZERO_BALLOT;
  /** Acceptors that refused our current ballot while we lead. */
  readonly #nackers = new Set<string>();
  /** The ballot of the leader we last heard from (ours while we lead). */
  #leader: Ballot | null = null;
  #electionAtMs: number;

  /** Every slot below this is known to be chosen. */
  #chosenBelow = 0;
  /** Slots at or above #chosenBelow known to be chosen. */
  readonly #chosenAbove = new Set<number>();

  readonly #promises = new Map<string, PromiseMsg>();
  /** Where phase 1 started, and where its current range starts (see PromiseMsg). */
  #phase1FromSlot = 0;
  #prepareFromSlot = 0;
  #prepareSentMs = 0;
  /** Phase 1's findings so far: per slot, the highest-ballot entry a majority's promises held. */
  #revealed = new Map<number, AcceptedEntry>();
  /** Slots below this (from #nextSlot on) still get what phase 1 revealed, or fill a hole. */
  #reproposeEnd = 0;

  /** The next slot to propose in: re-proposals first (below #reproposeEnd), then new batches. */
  #nextSlot = 0;
  readonly #inflight = new Map<number, InflightSlot>();
  #pending: ClientRequest[] = [];
  /** Ids of the requests this leader holds, pending or in flight, so a retry is not queued twice. */
  readonly #heldIds = new Set<string>();
  #heartbeatSentMs = 0;
  /** When each acceptor last answered our current ballot (a promise or an accepted). */
  readonly #heardMs = new Map<string, number>();

  constructor(config: ProposerConfig) {
    invariant(config.proposerId !== "", "proposer id must not be empty");
    this.proposerId = config.proposerId;
    this.#quorum = new QuorumConfig(config.acceptorIds);
    this.#limits = config.limits ?? DEFAULT_LIMITS;
    this.#random = config.random;
    this.#ballot = { round: config.startRound ?? 0, proposerId: config.proposerId };
    // Listen for a leader for one timeout before trying to take over, so that a proposer
    // restarting into a healthy cluster does not depose its leader.
    this.#electionAtMs = config.nowMs + this.#electionTimeoutMs();
  }

  get role(): ProposerRole {
    return this.#role;
  }

  /** The ballot this proposer last used (round 0 before its first election). */
  get ballot(): Ballot {
    return this.#ballot;
  }

  /** The id of the proposer believed to lead, or null when none is known. */
  get leaderId(): string | null {
    return this.#leader?.proposerId ?? null;
  }

  /** Every slot below this is known to be chosen. */
  get chosenBelow(): number {
    return this.#chosenBelow;
  }

  /** Slots in phase 2 and client requests waiting for a slot, while leading. */
  get load(): { readonly inflightSlots: number; readonly pendingRequests: number } {
    return { inflightSlots: this.#inflight.size, pendingRequests: this.#pending.length };
  }

  /** Advances time: elections, retransmissions, heartbeats. Call it often (every few ms). */
  tick(nowMs: number): ProposerStep {
    const out = new StepBuilder();
    switch (this.#role) {
      case "follower":
        if (nowMs >= this.#electionAtMs) this.#startElection(nowMs, out);
        break;
      case "candidate":
        if (nowMs - this.#prepareSentMs >= this.#limits.prepareRetransmitMs) this.#sendPrepare(nowMs, out);
        if (
          this.#prepareFromSlot > this.#phase1FromSlot &&
          nowMs - this.#heartbeatSentMs >= this.#limits.heartbeatIntervalMs
        ) {
          this.#sendHeartbeat(nowMs, out);
        }
        break;
      case "leader":
        if (this.#lostQuorum(nowMs)) {
          // A slot has waited a whole leader timeout and no majority answered within it: step
          // down, so that clients hear at once that no leader can serve them.
          this.#stepDown(nowMs, out);
          break;
        }
        for (const [slot, inflight] of this.#inflight) {
          if (nowMs - inflight.sentMs >= this.#limits.acceptRetransmitMs) {
            inflight.sentMs = nowMs;
            out.send.push({
              type: "accept",
              ballot: this.#ballot,
              slot,
              value: inflight.value,
              chosenBelow: this.#chosenBelow,
            });
          }
        }
        if (nowMs - this.#heartbeatSentMs >= this.#limits.heartbeatIntervalMs) this.#sendHeartbeat(nowMs, out);
        break;
    }
    return out.build();
  }

  /** Handles one message addressed to proposers; other types are ignored. */
  receive(msg: Message, nowMs: number): ProposerStep {
    const out = new StepBuilder();
    const tooFar = this.#roundTooFar(msg);
    if (tooFar !== null) {
      out.refused.push(tooFar);
      return out.build();
    }
    switch (msg.type) {
      case "promise":
        this.#onPromise(msg, nowMs, out);
        break;
      case "nack":
        this.#onNack(msg, nowMs, out);
        break;
      case "accepted":
        this.#onAccepted(msg, nowMs, out);
        break;
      case "chosen":
        this.#onChosen(msg, nowMs, out);
        break;
      case "heartbeat":
        this.#onHeartbeat(msg, nowMs, out);
        break;
      case "propose":
        this.#onPropose(msg.request, nowMs, out);
        break;
      default:
        break;
    }
    return out.build();
  }

  /** A client request handed to this proposer directly (the same as a ProposeMsg). */
  propose(request: ClientRequest, nowMs: number): ProposerStep {
    return this.proposeMany([request], nowMs);
  }

  /**
   * Client requests handed over together (one propose request of a gateway): each is taken or
   * refused as by `propose`, and only then are slots filled, so that requests arriving together
   * share slot values instead of taking a slot each while the window has room.
   */
  proposeMany(requests: readonly ClientRequest[], nowMs: number): ProposerStep {
    const out = new StepBuilder();
    for (const request of requests) this.#admit(request, out);
    this.#fillWindow(nowMs, out);
    return out.build();
  }

  /**
   * True when a slot has waited in phase 2 for a whole leader timeout and fewer than a majority
   * of acceptors answered anything within that timeout. Measuring from the slot's first send, not
   * from the last answer, matters after an idle period: nobody answers a leader that sends
   * nothing, so "last heard" is old the moment work arrives (issue 7, hole 1).
   */
  #lostQuorum(nowMs: number): boolean {
    let waited = false;
    for (const inflight of this.#inflight.values()) {
      if (nowMs - inflight.proposedMs >= this.#limits.leaderTimeoutMs) {
        waited = true;
        break;
      }
    }
    if (!waited) return false;
    const recent = new Set<string>();
    for (const [acceptorId, heardMs] of this.#heardMs) {
      if (nowMs - heardMs < this.#limits.leaderTimeoutMs) recent.add(acceptorId);
    }
    return !this.#quorum.isQuorum(recent);
  }

  #startElection(nowMs: number, out: StepBuilder): void {
    const round = Math.max(this.#highestSeen.round, this.#ballot.round) + 1;
    invariant(Number.isSafeInteger(round), "ballot round overflow");
    this.#ballot = { round, proposerId: this.proposerId };
    this.#observe(this.#ballot);
    this.#role = "candidate";
    this.#promises.clear();
    this.#heardMs.clear();
    this.#revealed = new Map();
    this.#phase1FromSlot = this.#chosenBelow;
    this.#prepareFromSlot = this.#chosenBelow;
    this.#sendPrepare(nowMs, out);
  }

  #sendPrepare(nowMs: number, out: StepBuilder): void {
    this.#prepareSentMs = nowMs;
    out.send.push({ type: "prepare", ballot: this.#ballot, fromSlot: this.#prepareFromSlot });
  }

  #onPromise(msg: PromiseMsg, nowMs: number, out: StepBuilder): void {
    if (this.#role !== "candidate" || compareBallots(msg.ballot, this.#ballot) !== 0) return;
    if (!this.#quorum.isMember(msg.acceptorId) || msg.fromSlot !== this.#prepareFromSlot) return;
    if (msg.toSlot !== null && msg.toSlot <= msg.fromSlot) return; // reports no range at all
    this.#heardMs.set(msg.acceptorId, nowMs);
    this.#promises.set(msg.acceptorId, msg);
    if (!this.#quorum.isQuorum(new Set(this.#promises.keys()))) return;
    // A majority promised for this range. Below the lowest end any of them reported, we know
    // every value a majority could have chosen; from there on, prepare the next range.
    let coveredTo = Number.POSITIVE_INFINITY;
    for (const promise of this.#promises.values()) {
      if (promise.toSlot !== null) coveredTo = Math.min(coveredTo, promise.toSlot);
    }
    for (const promise of this.#promises.values()) {
      this.#adoptChosenBelow(promise.chosenBelow);
      for (const entry of promise.accepted) {
        if (entry.slot >= coveredTo) continue;
        const known = this.#revealed.get(entry.slot);
        if (known === undefined || compareBallots(entry.ballot, known.ballot) > 0)
          this.#revealed.set(entry.slot, entry);
      }
    }
    this.#promises.clear();
    if (coveredTo === Number.POSITIVE_INFINITY) {
      this.#becomeLeader(nowMs, out);
    } else {
      // A majority promised our ballot: no lower one can win now. Say so with heartbeats while
      // the remaining ranges take their round trips, or the other proposers, hearing no leader,
      // would preempt a long phase 1 forever (a duel).
      this.#prepareFromSlot = coveredTo;
      this.#sendPrepare(nowMs, out);
      if (nowMs - this.#heartbeatSentMs >= this.#limits.heartbeatIntervalMs) this.#sendHeartbeat(nowMs, out);
    }
  }

  /**
   * Phase 1 succeeded for every range. For each slot from where it started, propose the value of
   * the highest ballot any promise reported ("Paxos Made Simple", 2.2, P2c); where none did and a
   * later slot has a value, the hole takes a waiting client batch or a no-op (section 3: gaps are
   * filled so the log can be executed in order; any value is safe where phase 1 revealed none).
   * The re-proposals go out through the window like new slots, so a value revealed far ahead
   * cannot make one step propose millions of slots (issue 7, hole 5).
   */
  #becomeLeader(nowMs: number, out: StepBuilder): void {
    this.#role = "leader";
    this.#nackers.clear();
    this.#leader = this.#ballot;
    const fromSlot = Math.max(this.#phase1FromSlot, this.#chosenBelow);
    let endSlot = fromSlot;
    for (const slot of this.#revealed.keys()) {
      if (slot < fromSlot) this.#revealed.delete(slot);
      else endSlot = Math.max(endSlot, slot + 1);
    }
    this.#nextSlot = fromSlot;
    this.#reproposeEnd = endSlot;
    this.#fillWindow(nowMs, out);
    this.#sendHeartbeat(nowMs, out);
  }

  /**
   * An acceptor refused our ballot. A candidate gives up at once. A leader gives up only once a
   * majority refused it: a nack from a minority says that some proposer prepared a higher ballot
   * there (perhaps one that was cut off and came back), not that we lost our majority, and our
   * values are still chosen by the acceptors that accept them (issue 7, hole 6). Either way the
   * higher round is remembered for the next election.
   */
  #onNack(msg: NackMsg, nowMs: number, out: StepBuilder): void {
    if (compareBallots(msg.ballot, this.#ballot) !== 0 || !this.#quorum.isMember(msg.acceptorId)) return;
    this.#observe(msg.promised);
    if (compareBallots(msg.promised, this.#ballot) <= 0) return;
    if (this.#role === "leader") {
      this.#nackers.add(msg.acceptorId);
      if (!this.#quorum.isQuorum(this.#nackers)) return;
    }
    if (this.#role !== "follower") {
      // Another proposer holds a higher ballot. Back off for a random time, so that two proposers
      // that keep preempting each other (a duel) fall out of step, then try above it.
      this.#stepDown(nowMs, out);
      this.#electionAtMs =
        nowMs + 2 * this.#limits.heartbeatIntervalMs + this.#random() * this.#limits.electionJitterMs;
    }
  }

  #onAccepted(msg: AcceptedMsg, nowMs: number, out: StepBuilder): void {
    if (!this.#quorum.isMember(msg.acceptorId)) return;
    this.#observe(msg.ballot);
    this.#observeLeader(msg.ballot);
    if (this.#role !== "leader" || compareBallots(msg.ballot, this.#ballot) !== 0) return;
    this.#heardMs.set(msg.acceptorId, nowMs);
    const inflight = this.#inflight.get(msg.slot);
    if (inflight === undefined) return;
    if (!sameSlotValue(inflight.value, msg.value)) {
      // We proposed one value at our ballot; a vote for another is forged or broken. It does not count.
      out.refused.push({
        reason: "conflict",
        detail: `slot ${msg.slot}: acceptor ${msg.acceptorId} voted another value at our ballot ${ballotKey(this.#ballot)}`,
      });
      return;
    }
    inflight.voters.add(msg.acceptorId);
    if (!this.#quorum.isQuorum(inflight.voters)) return;
    this.#inflight.delete(msg.slot);
    this.#releaseIds(inflight.value);
    this.#markChosen(msg.slot);
    out.send.push({ type: "chosen", slot: msg.slot, value: inflight.value });
    out.chosen.push({ slot: msg.slot, value: inflight.value });
    this.#fillWindow(nowMs, out);
  }

  /**
   * Another proposer (or a learner) says `slot` holds `value`. A leader checks it against what it
   * proposes there: a different value cannot have been chosen below our ballot (phase 1 would
   * have revealed it), so either a higher ballot chose it and we are deposed (a nack will tell
   * us) or the message is wrong. Either way the leader keeps its slot and reports the conflict;
   * dropping a chosen message is always safe, it only costs a re-proposal.
   */
  #onChosen(msg: ChosenMsg, nowMs: number, out: StepBuilder): void {
    if (this.#role === "leader") {
      const ours = this.#inflight.get(msg.slot)?.value ?? this.#revealed.get(msg.slot)?.value;
      if (ours !== undefined && !sameSlotValue(ours, msg.value)) {
        out.refused.push({ reason: "outvoted", detail: `chosen for slot ${msg.slot} differs from our proposal` });
        return;
      }
    }
    this.#forgetInflight(msg.slot);
    this.#revealed.delete(msg.slot);
    this.#markChosen(msg.slot);
    this.#fillWindow(nowMs, out);
  }

  /**
   * A leader's heartbeat. A follower follows it. A candidate follows it too when no other
   * proposer's ballot above it is known: the leader is alive and nobody deposed it but our own
   * candidacy, which has not won (issue 7, hole 6: a candidate cut off from acceptors must not
   * depose a healthy leader once it reconnects). A leader steps down only for a higher ballot.
   */
  #onHeartbeat(msg: HeartbeatMsg, nowMs: number, out: StepBuilder): void {
    if (msg.ballot.proposerId === this.proposerId) return;
    this.#observe(msg.ballot);
    this.#observeLeader(msg.ballot);
    if (compareBallots(msg.ballot, this.#highestOthers) < 0) return; // a deposed leader
    if (this.#role === "leader" && compareBallots(msg.ballot, this.#ballot) < 0) return;
    this.#leader = msg.ballot;
    this.#adoptChosenBelow(msg.chosenBelow);
    if (this.#role !== "follower") this.#stepDown(nowMs, out);
    this.#electionAtMs = nowMs + this.#electionTimeoutMs();
  }

  #onPropose(request: ClientRequest, nowMs: number, out: StepBuilder): void {
    this.#admit(request, out);
    this.#fillWindow(nowMs, out);
  }

  /** Queues `request` if this leader can take it, else says why not in `out.rejected`. */
  #admit(request: ClientRequest, out: StepBuilder): void {
    if (this.#role !== "leader") {
      out.rejected.push({ requestId: request.id, reason: "notLeader", leaderHint: this.#leaderHint() });
      return;
    }
    if (this.requestSize(request) > this.#limits.requestBytesMax) {
      out.rejected.push({ requestId: request.id, reason: "tooLarge", leaderHint: this.proposerId });
      return;
    }
    if (this.#heldIds.has(request.id)) return; // a retry of a request we already carry
    if (this.#pending.length >= this.#limits.pendingRequestsMax) {
      out.rejected.push({ requestId: request.id, reason: "overloaded", leaderHint: this.proposerId });
      return;
    }
    this.#pending.push(request);
    this.#heldIds.add(request.id);
  }

  /**
   * Proposes in the next slots while the window has room: slot s only while s < chosenBelow +
   * inflightSlotsMax. First the slots phase 1 left to re-propose, then new batches of pending
   * requests.
   */
  #fillWindow(nowMs: number, out: StepBuilder): void {
    if (this.#role !== "leader") return;
    while (this.windowHasRoom(this.#nextSlot)) {
      const slot = this.#nextSlot;
      if (slot < this.#reproposeEnd) {
        this.#nextSlot++;
        if (this.#chosenAbove.has(slot)) continue;
        const revealed = this.#revealed.get(slot);
        this.#revealed.delete(slot);
        this.#proposeSlot(slot, revealed?.value ?? this.#takeBatch() ?? NOOP, nowMs, out);
        continue;
      }
      const batch = this.#takeBatch();
      if (batch === null) break;
      this.#nextSlot++;
      invariant(Number.isSafeInteger(this.#nextSlot), "slot overflow");
      this.#proposeSlot(slot, batch, nowMs, out);
    }
  }

  /**
   * True while the leader may propose in `slot`: slot < chosenBelow + inflightSlotsMax. Protected
   * only so that the simulator's broken variants can put back the old rule (issue 7, hole 2);
   * nothing that ships overrides it.
   */
  protected windowHasRoom(slot: number): boolean {
    return slot < this.#chosenBelow + this.#limits.inflightSlotsMax;
  }

  /**
   * The bytes `request` adds to a batch (UTF-8, see requestBytes). Protected only so that the
   * simulator's broken variants can put back the old UTF-16 count (issue 7, hole 3).
   */
  protected requestSize(request: ClientRequest): number {
    return requestBytes(request);
  }

  /** The next batch of pending requests, within batchRequestsMax and batchBytesMax; null if none. */
  #takeBatch(): SlotValue | null {
    if (this.#pending.length === 0) return null;
    let count = 0;
    let bytes = 0;
    for (const request of this.#pending) {
      const size = this.requestSize(request);
      if (count > 0 && (count >= this.#limits.batchRequestsMax || bytes + size > this.#limits.batchBytesMax)) break;
      count++;
      bytes += size;
    }
    const requests = this.#pending.slice(0, count);
    this.#pending = this.#pending.slice(count);
    return { kind: "batch", requests };
  }

  #proposeSlot(slot: number, value: SlotValue, nowMs: number, out: StepBuilder): void {
    this.#inflight.set(slot, { value, proposedMs: nowMs, sentMs: nowMs, voters: new Set() });
    out.send.push({ type: "accept", ballot: this.#ballot, slot, value, chosenBelow: this.#chosenBelow });
  }

  #sendHeartbeat(nowMs: number, out: StepBuilder): void {
    this.#heartbeatSentMs = nowMs;
    out.send.push({
      type: "heartbeat",
      ballot: this.#ballot,
      nextSlot: this.#nextSlot,
      chosenBelow: this.#chosenBelow,
    });
  }

  /**
   * Leaves the candidate or leader role. Requests not yet in a slot are turned away so their
   * clients retry at the new leader; values already in flight may still be chosen (the next leader
   * re-proposes what it finds), and learners deliver a retried request only once.
   */
  #stepDown(nowMs: number, out: StepBuilder): void {
    this.#role = "follower";
    if (this.#leader !== null && this.#leader.proposerId === this.proposerId) this.#leader = null;
    const hint = this.#leaderHint();
    for (const request of this.#pending)
      out.rejected.push({ requestId: request.id, reason: "notLeader", leaderHint: hint });
    this.#pending = [];
    this.#inflight.clear();
    this.#heldIds.clear();
    this.#promises.clear();
    this.#revealed = new Map();
    this.#reproposeEnd = 0;
    this.#electionAtMs = nowMs + this.#electionTimeoutMs();
  }

  #forgetInflight(slot: number): void {
    const inflight = this.#inflight.get(slot);
    if (inflight === undefined) return;
    this.#inflight.delete(slot);
    this.#releaseIds(inflight.value);
  }

  #releaseIds(value: SlotValue): void {
    if (value.kind === "batch") for (const request of value.requests) this.#heldIds.delete(request.id);
  }

  #markChosen(slot: number): void {
    if (slot < this.#chosenBelow) return;
    this.#chosenAbove.add(slot);
    this.#advanceChosenBelow();
  }

  /** Someone who knows says every slot below `chosenBelow` is chosen. */
  #adoptChosenBelow(chosenBelow: number): void {
    if (chosenBelow <= this.#chosenBelow) return;
    this.#chosenBelow = chosenBelow;
    for (const slot of this.#chosenAbove) if (slot < chosenBelow) this.#chosenAbove.delete(slot);
    this.#advanceChosenBelow();
  }

  #advanceChosenBelow(): void {
    while (this.#chosenAbove.delete(this.#chosenBelow)) this.#chosenBelow++;
  }

  #observe(ballot: Ballot): void {
    this.#highestSeen = maxBallot(this.#highestSeen, ballot);
  }

  /**
   * A ballot some other proposer led with (its heartbeat, or a vote at it). Only these can depose
   * a leader we hear: a ballot that was merely prepared (a nack's promise) may never have won.
   */
  #observeLeader(ballot: Ballot): void {
    if (ballot.proposerId !== this.proposerId) this.#highestOthers = maxBallot(this.#highestOthers, ballot);
  }

  /**
   * A message whose ballot (or promised ballot) lies beyond ROUND_MAX or more than roundsAheadMax
   * above what we know: taking it would let one bad message push every later election to the end
   * of the rounds (issue 7, hole 5), so it is dropped.
   */
  #roundTooFar(msg: Message): Refusal | null {
    let round: number;
    switch (msg.type) {
      case "nack":
        round = Math.max(msg.ballot.round, msg.promised.round);
        break;
      case "promise":
      case "accepted":
      case "heartbeat":
        round = msg.ballot.round;
        break;
      default:
        return null;
    }
    const known = Math.max(this.#highestSeen.round, this.#ballot.round);
    if (round <= ROUND_MAX && round - known <= this.#limits.roundsAheadMax) return null;
    return { reason: "roundTooFar", detail: `${msg.type} with round ${round}, ${known} known` };
  }

  #leaderHint(): string | null {
    const leader = this.#leader ?? (this.#highestSeen.round > 0 ? this.#highestSeen : null);
    return leader === null || leader.proposerId === this.proposerId ? null : leader.proposerId;
  }

  #electionTimeoutMs(): number {
    return this.#limits.leaderTimeoutMs + this.#random() * this.#limits.electionJitterMs;
  }
}

class StepBuilder {
  readonly send: Message[] = [];
  readonly rejected: Rejection[] = [];
  readonly chosen: { slot: number; value: SlotValue }[] = [];
  readonly refused: Refusal[] = [];

  build(): ProposerStep {
    return { send: this.send, rejected: this.rejected, chosen: this.chosen, refused: this.refused };
  }
}
