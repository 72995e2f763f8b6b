import {
  type AcceptorWrite,
  type Ballot,
  ballotKey,
  compareBallots,
  type Delivery,
  type JsonValue,
  type QuorumConfig,
  type SlotValue,
  sameSlotValue,
  slotValueKey,
  ZERO_BALLOT,
} from "@paxos/core";

/** The invariant a violation broke. */
export type ViolationKind =
  | "agreement"
  | "validity"
  | "integrity"
  | "acceptorMonotonicity"
  | "oneValuePerBallot"
  | "atMostOnceDelivery"
  | "assertion"
  | "boundedness"
  | "liveness";

/** A broken invariant, found at one step of one run. */
export interface Violation {
  readonly kind: ViolationKind;
  readonly message: string;
}

/** Thrown by the checkers to stop a run at the step that broke an invariant. */
export class ViolationError extends Error {
  readonly violation: Violation;

  constructor(kind: ViolationKind, message: string) {
    super(`${kind}: ${message}`);
    this.violation = { kind, message };
  }
}

function fail(kind: ViolationKind, message: string): never {
  throw new ViolationError(kind, message);
}

/**
 * The safety checkers. The simulator reports every durable acceptor write, every restart, every
 * value a learner learns and every delivery; each report is checked at once against the ground
 * truth the checker keeps, so a run stops at the first step that breaks an invariant:
 * - agreement: at most one value is chosen per slot, where "chosen" is the ground truth (a
 *   majority of acceptors durably accepted it at one ballot), and every learner learns that value;
 * - validity: only submitted requests or no-ops are chosen;
 * - integrity: a learner's value for a slot never changes, and learners' logs agree;
 * - acceptor monotonicity: a promise never decreases (across restarts too), an acceptor never
 *   accepts below the promise it held, and never holds an accepted ballot above its promise;
 * - one value per (slot, ballot);
 * - at-most-once delivery: each request id gets one index, the same at every learner, and every
 *   learner delivers the same request at each index.
 */
export class SafetyChecker {
  readonly #quorum: QuorumConfig;
  /** Submitted requests: id → payload JSON text. */
  readonly #submitted = new Map<string, string>();
  /** Per (slot, ballot): the value and the acceptors that durably accepted it. */
  readonly #votes = new Map<string, { readonly value: SlotValue; readonly acceptors: Set<string> }>();
  /** Ground truth: the value chosen in each slot. */
  readonly #chosen = new Map<number, SlotValue>();
  /** Per acceptor: what its disk holds, and the highest promise it ever held in memory. */
  readonly #disk = new Map<string, { promised: Ballot; readonly accepted: Map<number, Ballot> }>();
  readonly #promiseHigh = new Map<string, Ballot>();
  /** Per learner: slot → value it learned; the next index it must deliver. */
  readonly #learned = new Map<string, Map<number, string>>();
  readonly #nextIndex = new Map<string, number>();
  /** Across learners: the index each request id was delivered at, and the request at each index. */
  readonly #indexOf = new Map<string, number>();
  readonly #requestAt = new Map<number, string>();
  #slotsChosen = 0;

  constructor(quorum: QuorumConfig) {
    this.#quorum = quorum;
  }

  /** Slots with a ground-truth chosen value so far. */
  get slotsChosen(): number {
    return this.#slotsChosen;
  }

  /** The ground-truth value of `slot`, if one was chosen. */
  chosen(slot: number): SlotValue | undefined {
    return this.#chosen.get(slot);
  }

  /** A client submitted `id` with `payload`. */
  submitted(id: string, payload: JsonValue): void {
    this.#submitted.set(id, JSON.stringify(payload));
  }

  /** `acceptorId` made `write` durable; `before` is the promise its disk held until then. */
  acceptorWrote(acceptorId: string, write: AcceptorWrite): void {
    const disk = this.#diskOf(acceptorId);
    if (compareBallots(write.promised, disk.promised) < 0) {
      fail(
        "acceptorMonotonicity",
        `${acceptorId} wrote promise ${ballotKey(write.promised)} below its stored ${ballotKey(disk.promised)}`,
      );
    }
    const accept = write.accept;
    if (accept !== null) {
      if (compareBallots(accept.ballot, disk.promised) < 0) {
        fail(
          "acceptorMonotonicity",
          `${acceptorId} accepted ballot ${ballotKey(accept.ballot)} in slot ${accept.slot} below its promise ${ballotKey(disk.promised)}`,
        );
      }
      if (compareBallots(accept.ballot, write.promised) > 0) {
        fail(
          "acceptorMonotonicity",
          `${acceptorId} holds accepted ballot ${ballotKey(accept.ballot)} in slot ${accept.slot} above its promise ${ballotKey(write.promised)}`,
        );
      }
      disk.accepted.set(accept.slot, accept.ballot);
      this.#recordVote(acceptorId, accept.slot, accept.ballot, accept.value);
    }
    disk.promised = write.promised;
  }

  /** After every acceptor step and restart: the promise it holds in memory. */
  acceptorPromise(acceptorId: string, promised: Ballot, context: string): void {
    const high = this.#promiseHigh.get(acceptorId) ?? ZERO_BALLOT;
    if (compareBallots(promised, high) < 0) {
      fail(
        "acceptorMonotonicity",
        `${acceptorId} promise went back from ${ballotKey(high)} to ${ballotKey(promised)} (${context})`,
      );
    }
    this.#promiseHigh.set(acceptorId, promised);
  }

  /** `learnerId` durably learned `value` for `slot`. */
  learned(learnerId: string, slot: number, value: SlotValue): void {
    const truth = this.#chosen.get(slot);
    if (truth === undefined) {
      fail("agreement", `${learnerId} learned ${describe(value)} in slot ${slot}, which no majority accepted`);
    }
    if (!sameSlotValue(truth, value)) {
      fail("agreement", `${learnerId} learned ${describe(value)} in slot ${slot}, but ${describe(truth)} was chosen`);
    }
    let log = this.#learned.get(learnerId);
    if (log === undefined) {
      log = new Map();
      this.#learned.set(learnerId, log);
    }
    const key = slotValueKey(value);
    const before = log.get(slot);
    if (before !== undefined && before !== key) fail("integrity", `${learnerId} changed its value for slot ${slot}`);
    log.set(slot, key);
  }

  /** `learnerId` delivered `delivery`. */
  delivered(learnerId: string, delivery: Delivery): void {
    const id = delivery.kind === "delivered" ? delivery.request.id : delivery.requestId;
    const first = this.#indexOf.get(id);
    if (delivery.kind === "duplicate") {
      if (first !== delivery.index) {
        fail(
          "atMostOnceDelivery",
          `${learnerId} reported ${id} as a duplicate of index ${delivery.index}, not ${first}`,
        );
      }
      return;
    }
    const expected = this.#nextIndex.get(learnerId) ?? 0;
    if (delivery.index !== expected) {
      fail("atMostOnceDelivery", `${learnerId} delivered index ${delivery.index}, expected ${expected}`);
    }
    this.#nextIndex.set(learnerId, expected + 1);
    if (first !== undefined && first !== delivery.index) {
      fail("atMostOnceDelivery", `request ${id} delivered at index ${delivery.index} and at index ${first}`);
    }
    const there = this.#requestAt.get(delivery.index);
    if (there !== undefined && there !== id) {
      fail(
        "integrity",
        `${learnerId} delivered ${id} at index ${delivery.index}, where another learner delivered ${there}`,
      );
    }
    this.#indexOf.set(id, delivery.index);
    this.#requestAt.set(delivery.index, id);
  }

  /**
   * A learner restarted from its disk at `nextIndex`: at most what it delivered before (it
   * delivers before its append lands, so a crash may cost it the last appends), never more. It
   * delivers again from there, and `delivered` holds every index to the request it had before.
   */
  learnerRestarted(learnerId: string, nextIndex: number): void {
    const delivered = this.#nextIndex.get(learnerId) ?? 0;
    if (nextIndex > delivered) {
      fail("integrity", `${learnerId} restarted at index ${nextIndex}, but it had delivered only up to ${delivered}`);
    }
    this.#nextIndex.set(learnerId, nextIndex);
  }

  #diskOf(acceptorId: string): { promised: Ballot; readonly accepted: Map<number, Ballot> } {
    let disk = this.#disk.get(acceptorId);
    if (disk === undefined) {
      disk = { promised: ZERO_BALLOT, accepted: new Map() };
      this.#disk.set(acceptorId, disk);
    }
    return disk;
  }

  #recordVote(acceptorId: string, slot: number, ballot: Ballot, value: SlotValue): void {
    this.#checkValid(slot, value);
    const key = `${slot}/${ballotKey(ballot)}`;
    let votes = this.#votes.get(key);
    if (votes === undefined) {
      votes = { value, acceptors: new Set() };
      this.#votes.set(key, votes);
    } else if (!sameSlotValue(votes.value, value)) {
      fail(
        "oneValuePerBallot",
        `slot ${slot} ballot ${ballotKey(ballot)}: ${describe(votes.value)} and ${describe(value)} both accepted`,
      );
    }
    votes.acceptors.add(acceptorId);
    if (!this.#quorum.isQuorum(votes.acceptors)) return;
    const chosen = this.#chosen.get(slot);
    if (chosen === undefined) {
      this.#chosen.set(slot, value);
      this.#slotsChosen++;
    } else if (!sameSlotValue(chosen, value)) {
      fail("agreement", `slot ${slot}: ${describe(chosen)} and then ${describe(value)} chosen`);
    }
  }

  #checkValid(slot: number, value: SlotValue): void {
    if (value.kind === "noop") return;
    for (const request of value.requests) {
      const payload = this.#submitted.get(request.id);
      if (payload === undefined) fail("validity", `slot ${slot} carries request ${request.id}, never submitted`);
      if (payload !== JSON.stringify(request.payload)) {
        fail("validity", `slot ${slot} carries request ${request.id} with a payload its client never sent`);
      }
    }
  }
}

/** A short readable form of a slot value, for traces and violation messages (long payloads cut). */
export function describe(value: SlotValue): string {
  if (value.kind === "noop") return "noop";
  const short = (text: string): string => (text.length > 24 ? `${text.slice(0, 20)}…(${text.length})` : text);
  return `[${value.requests.map((r) => `${r.id}=${short(JSON.stringify(r.payload))}`).join(",")}]`;
}
