// Proves the acceptor's voting rules of "Paxos Made Simple", 2.2 (P1a, phase 1b, phase 2b) and the
// maxBal line of Lamport's TLA+ Phase2b, one rule per test: each feeds messages to a real Acceptor
// and checks what it asks to persist and what it sends.
import { describe, expect, it } from "vitest";
import { Acceptor, type AcceptorState, emptyAcceptorState } from "./acceptor.ts";
import type { Ballot } from "./ballot.ts";
import { InvariantViolation } from "./invariant.ts";
import { DEFAULT_LIMITS, type Limits, MESSAGE_OVERHEAD_BYTES, ROUND_MAX } from "./limits.ts";
import type { AcceptedEntry, AcceptMsg, CatchupMsg, PrepareMsg } from "./messages.ts";
import { NOOP, type SlotValue, utf8Bytes } from "./value.ts";

const b = (round: number, proposerId: string): Ballot => ({ round, proposerId });
const value = (id: string, payload = id): SlotValue => ({ kind: "batch", requests: [{ id, payload }] });
const prepare = (ballot: Ballot, fromSlot = 0): PrepareMsg => ({ type: "prepare", ballot, fromSlot });
const accept = (ballot: Ballot, slot: number, v: SlotValue): AcceptMsg => ({
  type: "accept",
  ballot,
  slot,
  value: v,
  chosenBelow: 0,
});
const catchup = (fromSlot: number, toSlot: number): CatchupMsg => ({
  type: "catchup",
  learnerId: "l1",
  fromSlot,
  toSlot,
  chosenBelow: 0,
});
const entry = (slot: number, ballot: Ballot, v: SlotValue): AcceptedEntry => ({ slot, ballot, value: v });

const fresh = (): Acceptor => new Acceptor("a1", emptyAcceptorState());
/** How long an acceptor treats a leader it heard as alive. */
const LEASE_MS = DEFAULT_LIMITS.leaderTimeoutMs;

/** An acceptor that promised `promised` and accepted the given entries (a consistent state). */
function restored(promised: Ballot, entries: AcceptedEntry[]): Acceptor {
  const state: AcceptorState = { promised, accepted: new Map(entries.map((e) => [e.slot, e])), chosenBelow: 0 };
  return new Acceptor("a1", state);
}

describe("acceptor phase 1 (Paxos Made Simple 2.2, phase 1b and P1a)", () => {
  it("promises a higher prepare, persists the promise, and reports accepted entries from fromSlot on", () => {
    const acceptor = restored(b(1, "p1"), [
      entry(0, b(1, "p1"), value("r0")),
      entry(3, b(1, "p1"), value("r3")),
      entry(7, b(1, "p1"), NOOP),
    ]);
    const step = acceptor.receive(prepare(b(2, "p2"), 3), 0);
    expect(step.persist).toEqual({ promised: b(2, "p2"), accept: null, chosenBelow: 0 });
    expect(step.send).toEqual([
      {
        type: "promise",
        ballot: b(2, "p2"),
        acceptorId: "a1",
        fromSlot: 3,
        toSlot: null,
        chosenBelow: 0,
        accepted: [entry(3, b(1, "p1"), value("r3")), entry(7, b(1, "p1"), NOOP)],
      },
    ]);
    expect(acceptor.promised).toEqual(b(2, "p2"));
  });

  it("nacks a lower prepare with its promise and persists nothing (P1a)", () => {
    const acceptor = restored(b(2, "p2"), []);
    for (const low of [b(1, "p9"), b(2, "p1"), b(0, "")]) {
      const step = acceptor.receive(prepare(low), 0);
      expect(step.persist).toBeNull();
      expect(step.send).toEqual([{ type: "nack", ballot: low, promised: b(2, "p2"), acceptorId: "a1" }]);
    }
    expect(acceptor.promised).toEqual(b(2, "p2"));
  });

  it("answers a repeated prepare of the promised ballot again, without a new write", () => {
    const acceptor = fresh();
    const first = acceptor.receive(prepare(b(1, "p1")), 0);
    expect(first.persist).not.toBeNull();
    acceptor.receive(accept(b(1, "p1"), 0, value("r0")), 0);
    const again = acceptor.receive(prepare(b(1, "p1")), 0);
    expect(again.persist).toBeNull();
    expect(again.send).toEqual([
      {
        type: "promise",
        ballot: b(1, "p1"),
        acceptorId: "a1",
        fromSlot: 0,
        toSlot: null,
        chosenBelow: 0,
        accepted: [entry(0, b(1, "p1"), value("r0"))],
      },
    ]);
  });
});

describe("acceptor phase 2 (Paxos Made Simple 2.2, phase 2b; TLA+ Phase2b sets maxBal)", () => {
  it("accepts at its promise: persists the entry with the promise, and reports accepted", () => {
    const acceptor = fresh();
    acceptor.receive(prepare(b(1, "p1")), 0);
    const step = acceptor.receive(accept(b(1, "p1"), 0, value("r0")), 0);
    expect(step.persist).toEqual({ promised: b(1, "p1"), accept: entry(0, b(1, "p1"), value("r0")), chosenBelow: 0 });
    expect(step.send).toEqual([
      { type: "accepted", ballot: b(1, "p1"), slot: 0, value: value("r0"), acceptorId: "a1" },
    ]);
    expect(acceptor.state.accepted.get(0)).toEqual(entry(0, b(1, "p1"), value("r0")));
  });

  it("accepts above its promise, and the write raises the promise, so a later lower prepare is nacked", () => {
    // a1 promised 1.p1 but missed the prepare of 3.p3; it then accepts at 3.p3. A prepare at 2.p2
    // (between the two) must now be nacked: had a1 promised it, p2 would not learn of this vote.
    const acceptor = restored(b(1, "p1"), []);
    const step = acceptor.receive(accept(b(3, "p3"), 0, value("r0")), 0);
    expect(step.persist).toEqual({ promised: b(3, "p3"), accept: entry(0, b(3, "p3"), value("r0")), chosenBelow: 0 });
    expect(acceptor.promised).toEqual(b(3, "p3"));
    const later = acceptor.receive(prepare(b(2, "p2")), 0);
    expect(later.persist).toBeNull();
    expect(later.send).toEqual([{ type: "nack", ballot: b(2, "p2"), promised: b(3, "p3"), acceptorId: "a1" }]);
  });

  it("a higher-ballot accept replaces the slot's entry; other slots keep theirs", () => {
    const acceptor = restored(b(1, "p1"), [entry(0, b(1, "p1"), value("r0")), entry(1, b(1, "p1"), value("r1"))]);
    acceptor.receive(accept(b(2, "p2"), 0, value("r9")), 0);
    expect(acceptor.state.accepted.get(0)).toEqual(entry(0, b(2, "p2"), value("r9")));
    expect(acceptor.state.accepted.get(1)).toEqual(entry(1, b(1, "p1"), value("r1")));
  });

  it("nacks an accept below its promise and persists nothing", () => {
    const acceptor = restored(b(2, "p2"), [entry(0, b(1, "p1"), value("r0"))]);
    const step = acceptor.receive(accept(b(1, "p1"), 1, value("r1")), 0);
    expect(step.persist).toBeNull();
    expect(step.send).toEqual([{ type: "nack", ballot: b(1, "p1"), promised: b(2, "p2"), acceptorId: "a1" }]);
    expect(acceptor.state.accepted.has(1)).toBe(false);
    expect(acceptor.state.accepted.get(0)).toEqual(entry(0, b(1, "p1"), value("r0")));
  });

  it("answers a retransmitted accept without a write", () => {
    const acceptor = fresh();
    const first = acceptor.receive(accept(b(1, "p1"), 4, value("r4")), 0);
    expect(first.persist).not.toBeNull();
    const again = acceptor.receive(accept(b(1, "p1"), 4, value("r4")), 0);
    expect(again.persist).toBeNull();
    expect(again.send).toEqual(first.send);
  });

  it("keeps its vote and refuses a second value at the same ballot as a conflict, sending nothing", () => {
    const acceptor = fresh();
    acceptor.receive(accept(b(1, "p1"), 0, value("r0")), 0);
    for (const other of [value("r0", "other"), NOOP]) {
      const step = acceptor.receive(accept(b(1, "p1"), 0, other), 0);
      expect(step).toEqual({
        persist: null,
        send: [],
        refused: { reason: "conflict", detail: expect.any(String) as string },
      });
    }
    expect(acceptor.state.accepted.get(0)?.value).toEqual(value("r0"));
    // The vote itself still answers its retransmission.
    expect(acceptor.receive(accept(b(1, "p1"), 0, value("r0")), 0).send).toHaveLength(1);
  });
});

describe("acceptor chosen watermark (keeps promises small however long the log)", () => {
  it("raises its watermark from an accept, persists it with the vote, and never lowers it", () => {
    const acceptor = new Acceptor("a1", emptyAcceptorState());
    const step = acceptor.receive({ ...accept(b(1, "p1"), 7, value("r7")), chosenBelow: 5 }, 0);
    expect(step.persist?.chosenBelow).toBe(5);
    const later = acceptor.receive({ ...accept(b(1, "p1"), 8, value("r8")), chosenBelow: 2 }, 0);
    expect(later.persist?.chosenBelow).toBe(5);
    expect(acceptor.state.chosenBelow).toBe(5);
  });

  it("leaves slots below the watermark out of a promise and tells the candidate where it stands", () => {
    const acceptor = new Acceptor("a1", emptyAcceptorState());
    acceptor.receive(accept(b(1, "p1"), 3, value("r3")), 0);
    acceptor.receive({ ...accept(b(1, "p1"), 6, value("r6")), chosenBelow: 5 }, 0);
    // After a leader timeout: until then p1's accepts keep it the live leader (see "leader lease").
    const step = acceptor.receive(prepare(b(2, "p2"), 0), LEASE_MS);
    expect(step.send).toEqual([
      {
        type: "promise",
        ballot: b(2, "p2"),
        acceptorId: "a1",
        fromSlot: 0,
        toSlot: null,
        chosenBelow: 5,
        accepted: [entry(6, b(1, "p1"), value("r6"))],
      },
    ]);
    // Catch-up still answers below the watermark: learners that missed those slots need them.
    const catchupStep = acceptor.receive(catchup(3, 4), 0);
    expect(catchupStep.send[0]?.type === "catchupReply" && catchupStep.send[0].accepted.length).toBe(1);
  });
});

describe("acceptor state and restore", () => {
  it("refuses to restore a state that accepted a ballot above its promise", () => {
    const state: AcceptorState = {
      promised: b(1, "p1"),
      accepted: new Map([[0, entry(0, b(2, "p2"), value("r0"))]]),
      chosenBelow: 0,
    };
    expect(() => new Acceptor("a1", state)).toThrow(InvariantViolation);
  });

  it("restores promise and accepted entries, and keeps voting by them", () => {
    const first = fresh();
    const writes = [
      first.receive(prepare(b(1, "p1")), 0).persist,
      first.receive(accept(b(1, "p1"), 0, value("r0")), 0).persist,
    ];
    // Apply the writes as a store would, then restart from what it holds.
    let promised: Ballot = b(0, "");
    const accepted = new Map<number, AcceptedEntry>();
    for (const write of writes) {
      if (write === null) continue;
      promised = write.promised;
      if (write.accept !== null) accepted.set(write.accept.slot, write.accept);
    }
    const second = new Acceptor("a1", { promised, accepted, chosenBelow: 0 });
    expect(second.state).toEqual(first.state);
    expect(second.receive(prepare(b(0, "p0")), 0).send[0]?.type).toBe("nack");
  });

  it("hands out copies of its state, not its own maps", () => {
    const acceptor = fresh();
    const snapshot = acceptor.state.accepted as Map<number, AcceptedEntry>;
    snapshot.set(9, entry(9, b(1, "p1"), NOOP));
    expect(acceptor.state.accepted.has(9)).toBe(false);
  });

  it("ignores messages that are not for acceptors", () => {
    const acceptor = fresh();
    const step = acceptor.receive({ type: "chosen", slot: 0, value: NOOP }, 0);
    expect(step).toEqual({ persist: null, send: [], refused: null });
  });
});

describe("acceptor catch-up (learners count the reply as votes, Paxos Made Simple 2.3)", () => {
  it("answers only the asked range [fromSlot, toSlot), in slot order, and writes nothing", () => {
    const acceptor = restored(b(2, "p2"), [
      entry(9, b(2, "p2"), value("r9")),
      entry(1, b(1, "p1"), value("r1")),
      entry(2, b(2, "p2"), NOOP),
      entry(5, b(2, "p2"), value("r5")),
    ]);
    const narrow = acceptor.receive(catchup(2, 6), 0);
    expect(narrow.persist).toBeNull();
    expect(narrow.send).toEqual([
      {
        type: "catchupReply",
        learnerId: "l1",
        acceptorId: "a1",
        fromSlot: 2,
        toSlot: 6,
        chosenBelow: 0,
        accepted: [entry(2, b(2, "p2"), NOOP), entry(5, b(2, "p2"), value("r5"))],
      },
    ]);
    // A range wider than the number of entries takes the other path through the map.
    const wide = acceptor.receive(catchup(0, 1_000_000), 0);
    expect(wide.send[0]?.type === "catchupReply" && wide.send[0].accepted.map((e) => e.slot)).toEqual([1, 2, 5, 9]);
  });

  it("answers each learner within its byte budget, refuses it once spent, and serves it again as it refills", () => {
    const big = (id: string): SlotValue => value(id, "x".repeat(900));
    const limits = {
      ...DEFAULT_LIMITS,
      messageBytesMax: 4_000,
      catchupBytesPerSecondMax: 4_000,
      catchupTotalBytesPerSecondMax: 6_000,
    };
    const entries = Array.from({ length: 16 }, (_, slot) => entry(slot, b(1, "p1"), big(`r${slot}`)));
    const acceptor = new Acceptor(
      "a1",
      { promised: b(1, "p1"), accepted: new Map(entries.map((e) => [e.slot, e])), chosenBelow: 0 },
      limits,
    );
    const slotsOf = (step: ReturnType<Acceptor["receive"]>): number[] =>
      step.send.flatMap((m) => (m.type === "catchupReply" ? m.accepted.map((e) => e.slot) : []));
    const first = acceptor.receive(catchup(0, 16), 0);
    expect(slotsOf(first).length).toBeGreaterThan(1);
    // The same learner at once: its budget is spent (a small request bought all of one second).
    const again = acceptor.receive(catchup(0, 16), 0);
    expect(again.send).toEqual([]);
    expect(again.refused?.reason).toBe("overBudget");
    // Another learner has its own budget, within what is left of the total.
    const other = acceptor.receive({ ...catchup(0, 16), learnerId: "l2" }, 0);
    expect(slotsOf(other).length).toBeGreaterThanOrEqual(1);
    expect(acceptor.receive({ ...catchup(0, 16), learnerId: "l3" }, 0).refused?.reason).toBe("overBudget");
    // A second later the budget has refilled.
    expect(slotsOf(acceptor.receive(catchup(0, 16), 1_000)).length).toBeGreaterThan(1);
  });

  it("answers with an empty list when it accepted nothing in the range, so the learner hears it had nothing", () => {
    const acceptor = restored(b(1, "p1"), [entry(0, b(1, "p1"), NOOP)]);
    expect(acceptor.receive(catchup(1, 10), 0)).toEqual({
      persist: null,
      refused: null,
      send: [
        {
          type: "catchupReply",
          learnerId: "l1",
          acceptorId: "a1",
          fromSlot: 1,
          toSlot: 10,
          chosenBelow: 0,
          accepted: [],
        },
      ],
    });
  });
});

describe("acceptor bounds (issue 7, hole 5: one message must not poison the next leader)", () => {
  it("drops an accept for a slot slotsAheadMax or more above the chosen watermark, storing nothing", () => {
    const acceptor = fresh();
    const far = acceptor.receive(accept(b(1, "p1"), DEFAULT_LIMITS.slotsAheadMax, value("far")), 0);
    expect(far).toMatchObject({ persist: null, send: [], refused: { reason: "slotTooFar" } });
    // Measured from the higher of its own watermark and the leader's: a leader ahead is believed.
    const near = acceptor.receive(
      { ...accept(b(1, "p1"), DEFAULT_LIMITS.slotsAheadMax, value("near")), chosenBelow: 1 },
      0,
    );
    expect(near.persist).not.toBeNull();
  });

  it("drops prepares and accepts whose round is beyond ROUND_MAX or roundsAheadMax above its promise", () => {
    const acceptor = restored(b(5, "p1"), []);
    for (const round of [5 + DEFAULT_LIMITS.roundsAheadMax + 1, ROUND_MAX + 1, Number.MAX_SAFE_INTEGER]) {
      expect(acceptor.receive(prepare(b(round, "p9")), 0)).toMatchObject({
        persist: null,
        send: [],
        refused: { reason: "roundTooFar" },
      });
      expect(acceptor.receive(accept(b(round, "p9"), 0, NOOP), 0).refused?.reason).toBe("roundTooFar");
    }
    expect(acceptor.promised).toEqual(b(5, "p1"));
    expect(acceptor.receive(prepare(b(5 + DEFAULT_LIMITS.roundsAheadMax, "p9")), 0).persist).not.toBeNull();
  });

  it("drops an accept whose value is larger than any leader builds", () => {
    const acceptor = fresh();
    const huge = value("r1", "x".repeat(DEFAULT_LIMITS.batchBytesMax + 100));
    expect(acceptor.receive(accept(b(1, "p1"), 0, huge), 0)).toMatchObject({
      persist: null,
      refused: { reason: "valueTooLarge" },
    });
  });
});

describe("acceptor leader lease (issue 7, hole 6: a returning candidate must not depose a live leader)", () => {
  it("ignores another proposer's higher prepare while it hears the leader, and takes it once the leader is silent", () => {
    const acceptor = fresh();
    acceptor.receive(prepare(b(1, "p1")), 0);
    acceptor.receive({ type: "heartbeat", ballot: b(1, "p1"), nextSlot: 0, chosenBelow: 0 }, 100);
    const early = acceptor.receive(prepare(b(9, "p2")), 100 + LEASE_MS - 1);
    expect(early).toMatchObject({ persist: null, send: [], refused: { reason: "leaderAlive" } });
    expect(acceptor.promised).toEqual(b(1, "p1"));
    const late = acceptor.receive(prepare(b(9, "p2")), 100 + LEASE_MS);
    expect(late.persist?.promised).toEqual(b(9, "p2"));
  });

  it("lets the live leader itself prepare a higher ballot, and an accept renews the lease", () => {
    const acceptor = fresh();
    acceptor.receive(prepare(b(1, "p1")), 0);
    acceptor.receive(accept(b(1, "p1"), 0, NOOP), 500);
    expect(acceptor.receive(prepare(b(2, "p2")), 500 + LEASE_MS - 1).refused?.reason).toBe("leaderAlive");
    expect(acceptor.receive(prepare(b(3, "p1")), 600).persist?.promised).toEqual(b(3, "p1"));
  });

  it("takes no lease from a heartbeat below its promise (a deposed leader)", () => {
    const acceptor = restored(b(4, "p2"), []);
    acceptor.receive({ type: "heartbeat", ballot: b(3, "p1"), nextSlot: 0, chosenBelow: 0 }, 0);
    expect(acceptor.receive(prepare(b(5, "p3")), 1).persist?.promised).toEqual(b(5, "p3"));
  });
});

describe("acceptor answers that fit one message (issue 7, holes 2 and 3)", () => {
  const small: Limits = { ...DEFAULT_LIMITS, messageBytesMax: 8_192, batchBytesMax: 2_048, requestBytesMax: 2_048 };
  /** Many full values of 3-byte characters above the watermark: far more than one message. */
  function heavy(): Acceptor {
    const entries: AcceptedEntry[] = [];
    for (let slot = 0; slot < 40; slot++) entries.push(entry(slot, b(1, "p1"), value(`r${slot}`, "漢".repeat(600))));
    return new Acceptor(
      "a1",
      { promised: b(1, "p1"), accepted: new Map(entries.map((e) => [e.slot, e])), chosenBelow: 0 },
      small,
    );
  }
  const bytes = (m: unknown): number => utf8Bytes(JSON.stringify(m));

  it("answers phase 1 in ranges: each promise fits, and the ranges together report every entry", () => {
    const acceptor = heavy();
    const reported: number[] = [];
    let fromSlot = 0;
    for (let i = 0; i < 100; i++) {
      const [promise] = acceptor.receive(prepare(b(2, "p2"), fromSlot), LEASE_MS).send;
      if (promise?.type !== "promise") throw new Error("expected a promise");
      expect(bytes(promise)).toBeLessThanOrEqual(small.messageBytesMax - MESSAGE_OVERHEAD_BYTES);
      expect(promise.fromSlot).toBe(fromSlot);
      reported.push(...promise.accepted.map((e) => e.slot));
      if (promise.toSlot === null) break;
      expect(promise.toSlot).toBeGreaterThan(fromSlot);
      expect(promise.accepted.every((e) => e.slot < (promise.toSlot ?? 0))).toBe(true);
      fromSlot = promise.toSlot;
    }
    expect(reported).toEqual(Array.from({ length: 40 }, (_, slot) => slot));
  });

  it("shortens a catch-up answer that would not fit, and says where it ends", () => {
    const [reply] = heavy().receive(catchup(0, 16), 0).send;
    if (reply?.type !== "catchupReply") throw new Error("expected a catch-up reply");
    expect(bytes(reply)).toBeLessThanOrEqual(small.messageBytesMax - MESSAGE_OVERHEAD_BYTES);
    expect(reply.toSlot).toBeLessThan(16);
    expect(reply.accepted.map((e) => e.slot)).toEqual(Array.from({ length: reply.toSlot }, (_, slot) => slot));
  });
});
