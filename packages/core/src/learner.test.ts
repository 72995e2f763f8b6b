// Proves the learner's rules: it learns a slot from a majority of distinct acceptors at one ballot
// ("Paxos Made Simple", 2.3), delivers client values in slot order with no-ops and duplicates
// taking no index (section 3), and catches up missed slots. Each test drives a real Learner.
import { describe, expect, it } from "vitest";
import type { Ballot } from "./ballot.ts";
import { InvariantViolation } from "./invariant.ts";
import { DEFAULT_LIMITS, type Limits } from "./limits.ts";
import { Learner, type LearnerStep } from "./learner.ts";
import type { AcceptedEntry, CatchupReplyMsg, Message } from "./messages.ts";
import { NOOP, type SlotValue } from "./value.ts";

const ACCEPTORS = ["a1", "a2", "a3"];
const b = (round: number, proposerId: string): Ballot => ({ round, proposerId });
const batch = (...ids: string[]): SlotValue => ({ kind: "batch", requests: ids.map((id) => ({ id, payload: id })) });
const entry = (slot: number, ballot: Ballot, value: SlotValue): AcceptedEntry => ({ slot, ballot, value });
const accepted = (slot: number, ballot: Ballot, value: SlotValue, acceptorId: string): Message => ({
  type: "accepted",
  ballot,
  slot,
  value,
  acceptorId,
});
const heartbeat = (chosenBelow: number): Message => ({
  type: "heartbeat",
  ballot: b(1, "p1"),
  nextSlot: chosenBelow,
  chosenBelow,
});
const reply = (
  acceptorId: string,
  fromSlot: number,
  toSlot: number,
  entries: AcceptedEntry[],
  chosenBelow = 0,
): CatchupReplyMsg => ({
  type: "catchupReply",
  learnerId: "l1",
  acceptorId,
  fromSlot,
  toSlot,
  chosenBelow,
  accepted: entries,
});

function makeLearner(limits: Partial<Limits> = {}, restored: [number, SlotValue][] = [], nowMs = 0): Learner {
  return new Learner(
    { learnerId: "l1", acceptorIds: ACCEPTORS, limits: { ...DEFAULT_LIMITS, ...limits } },
    restored,
    nowMs,
  );
}

/** Has a majority (a1, a2) report `value` in `slot` at `ballot`; returns the deciding step. */
function choose(learner: Learner, slot: number, value: SlotValue, ballot = b(1, "p1"), nowMs = 0): LearnerStep {
  learner.receive(accepted(slot, ballot, value, "a1"), nowMs);
  return learner.receive(accepted(slot, ballot, value, "a2"), nowMs);
}

describe("learning (Paxos Made Simple 2.3)", () => {
  it("learns once a majority of distinct acceptors accepted one value at the same ballot", () => {
    const learner = makeLearner();
    expect(learner.receive(accepted(0, b(1, "p1"), batch("r1"), "a1"), 0).learned).toEqual([]);
    const step = learner.receive(accepted(0, b(1, "p1"), batch("r1"), "a3"), 0);
    expect(step.learned).toEqual([{ slot: 0, value: batch("r1") }]);
    expect(learner.slotValue(0)).toEqual(batch("r1"));
  });

  it("does not add up votes across ballots, even for the same value", () => {
    const learner = makeLearner();
    learner.receive(accepted(0, b(1, "p1"), batch("r1"), "a1"), 0);
    learner.receive(accepted(0, b(2, "p2"), batch("r1"), "a2"), 0);
    expect(learner.slotValue(0)).toBeUndefined();
    expect(learner.receive(accepted(0, b(2, "p2"), batch("r1"), "a1"), 0).learned).toHaveLength(1);
  });

  it("never counts unknown acceptor ids or duplicates", () => {
    const learner = makeLearner();
    for (const acceptorId of ["a1", "a1", "x1", "x2", "A2", ""]) {
      expect(learner.receive(accepted(0, b(1, "p1"), batch("r1"), acceptorId), 0).learned).toEqual([]);
    }
    expect(learner.slotValue(0)).toBeUndefined();
  });

  it("learns from a chosen message of the leader or a peer", () => {
    const learner = makeLearner();
    const step = learner.receive({ type: "chosen", slot: 0, value: batch("r1") }, 0);
    expect(step.learned).toEqual([{ slot: 0, value: batch("r1") }]);
    expect(learner.receive({ type: "chosen", slot: 0, value: batch("r1") }, 0).learned).toEqual([]);
  });

  it("keeps what it learned and refuses another value for the slot as a conflict", () => {
    const learner = makeLearner();
    choose(learner, 0, batch("r1"));
    for (const other of [batch("r2"), NOOP]) {
      const step = learner.receive({ type: "chosen", slot: 0, value: other }, 0);
      expect(step.refused).toEqual([{ reason: "conflict", detail: expect.any(String) as string }]);
      expect(step.learned).toEqual([]);
    }
    expect(learner.slotValue(0)).toEqual(batch("r1"));
  });

  it("refuses a restored log that holds two values for one slot: that is its own storage", () => {
    expect(() =>
      makeLearner({}, [
        [0, batch("r1")],
        [0, batch("r2")],
      ]),
    ).toThrow(InvariantViolation);
  });

  it("counts a second value at one ballot apart, so neither borrows the other's voters", () => {
    const learner = makeLearner();
    learner.receive(accepted(0, b(1, "p1"), batch("forged"), "a1"), 0);
    const conflicting = learner.receive(accepted(0, b(1, "p1"), batch("r1"), "a2"), 0);
    expect(conflicting.refused).toEqual([{ reason: "conflict", detail: expect.any(String) as string }]);
    expect(conflicting.learned).toEqual([]);
    // a1 already voted at this ballot: its second value is refused, not counted for r1.
    expect(learner.receive(accepted(0, b(1, "p1"), batch("r1"), "a1"), 0).refused).toEqual([
      { reason: "conflict", detail: expect.any(String) as string },
    ]);
    // A majority for r1 still makes it chosen.
    const step = learner.receive(accepted(0, b(1, "p1"), batch("r1"), "a3"), 0);
    expect(step.learned).toEqual([{ slot: 0, value: batch("r1") }]);
  });

  it("holds votes for a few ballots per slot, dropping the lowest", () => {
    const learner = makeLearner();
    for (let round = 1; round <= 10; round++) learner.receive(accepted(0, b(round, "p1"), batch(`r${round}`), "a1"), 0);
    // Rounds 1..6 were dropped; a vote at round 2 now is older than every ballot held.
    expect(learner.receive(accepted(0, b(2, "p1"), batch("r2"), "a2"), 0).learned).toEqual([]);
    expect(learner.receive(accepted(0, b(10, "p1"), batch("r10"), "a2"), 0).learned).toEqual([
      { slot: 0, value: batch("r10") },
    ]);
  });
});

describe("delivery in log order (Paxos Made Simple 3: the state machine executes slots in order)", () => {
  it("delivers in slot order even when slots are learned out of order", () => {
    const learner = makeLearner();
    expect(choose(learner, 2, batch("r3")).delivered).toEqual([]);
    expect(choose(learner, 1, batch("r2")).delivered).toEqual([]);
    expect(learner.nextSlot).toBe(0);
    const step = choose(learner, 0, batch("r1"));
    expect(step.delivered).toEqual([
      { kind: "delivered", index: 0, slot: 0, request: { id: "r1", payload: "r1" } },
      { kind: "delivered", index: 1, slot: 1, request: { id: "r2", payload: "r2" } },
      { kind: "delivered", index: 2, slot: 2, request: { id: "r3", payload: "r3" } },
    ]);
    expect(learner.nextSlot).toBe(3);
  });

  it("gives each request of a batch its own index, and no-ops take no index", () => {
    const learner = makeLearner();
    choose(learner, 0, NOOP);
    choose(learner, 1, batch("r1", "r2"));
    const step = choose(learner, 2, NOOP);
    expect(step.delivered).toEqual([]);
    expect(choose(learner, 3, batch("r3")).delivered).toEqual([
      { kind: "delivered", index: 2, slot: 3, request: { id: "r3", payload: "r3" } },
    ]);
    expect(learner.nextIndex).toBe(3);
    expect(learner.entry(1)).toEqual({ index: 1, slot: 1, request: { id: "r2", payload: "r2" } });
    expect(learner.entry(3)).toBeUndefined();
  });

  it("delivers a request chosen in two slots once, and reports the second as a duplicate of the first index", () => {
    const learner = makeLearner();
    choose(learner, 0, batch("r0"));
    choose(learner, 1, batch("r1"));
    const step = choose(learner, 2, batch("r2", "r1"));
    expect(step.delivered).toEqual([
      { kind: "delivered", index: 2, slot: 2, request: { id: "r2", payload: "r2" } },
      { kind: "duplicate", index: 1, slot: 2, requestId: "r1" },
    ]);
    expect(learner.indexOf("r1")).toBe(1);
    expect(learner.nextIndex).toBe(3);
  });

  it("restoring from a log rebuilds indexes without delivering again", () => {
    const learner = makeLearner({}, [
      [0, batch("r1")],
      [1, NOOP],
      [2, batch("r2", "r3")],
    ]);
    expect(learner.nextSlot).toBe(3);
    expect(learner.nextIndex).toBe(3);
    expect(learner.indexOf("r3")).toBe(2);
    expect(learner.entry(0)).toEqual({ index: 0, slot: 0, request: { id: "r1", payload: "r1" } });
    // What comes next continues the numbering; a retried old request is a duplicate.
    expect(choose(learner, 3, batch("r4", "r1")).delivered).toEqual([
      { kind: "delivered", index: 3, slot: 3, request: { id: "r4", payload: "r4" } },
      { kind: "duplicate", index: 0, slot: 3, requestId: "r1" },
    ]);
    // A restored slot is learned: a vote for another value there is not counted again.
    expect(learner.receive({ type: "chosen", slot: 2, value: batch("r2", "r3") }, 0).learned).toEqual([]);
  });

  it("restoring a log with a hole delivers up to the hole only", () => {
    const learner = makeLearner({}, [
      [0, batch("r1")],
      [2, batch("r3")],
    ]);
    expect(learner.nextSlot).toBe(1);
    expect(learner.nextIndex).toBe(1);
    expect(choose(learner, 1, batch("r2")).delivered.map((d) => d.index)).toEqual([1, 2]);
  });
});

describe("catch-up (missed accepted messages are asked for again)", () => {
  it("far behind, asks for the next range as soon as an answer brought progress", () => {
    const learner = makeLearner({ catchupSlotsMax: 4 });
    learner.receive(heartbeat(10), 0);
    const interval = DEFAULT_LIMITS.catchupIntervalMs;
    expect(learner.tick(interval).send).toMatchObject([{ type: "catchup", fromSlot: 0, toSlot: 4 }]);
    const entries = [0, 1, 2, 3].map((slot) => entry(slot, b(1, "p1"), batch(`r${slot}`)));
    learner.receive(reply("a1", 0, 4, entries, 10), interval + 5);
    learner.receive(reply("a2", 0, 4, entries, 10), interval + 5);
    expect(learner.nextSlot).toBe(4);
    // No second interval of waiting: the next range is asked for on the next tick.
    expect(learner.tick(interval + 6).send).toMatchObject([{ type: "catchup", fromSlot: 4, toSlot: 8 }]);
    // Without progress, it waits a full interval before asking again.
    expect(learner.tick(interval + 7).send).toEqual([]);
    expect(learner.tick(2 * interval + 6).send).toMatchObject([{ type: "catchup", fromSlot: 4, toSlot: 8 }]);
  });

  it("asks for a gap known from a heartbeat's chosenBelow after catchupIntervalMs, not before", () => {
    const learner = makeLearner();
    choose(learner, 0, batch("r0"), b(1, "p1"), 100);
    learner.receive(heartbeat(3), 100);
    expect(learner.gapSlots).toBe(2);
    expect(learner.tick(100 + DEFAULT_LIMITS.catchupIntervalMs - 1).send).toEqual([]);
    expect(learner.tick(100 + DEFAULT_LIMITS.catchupIntervalMs).send).toMatchObject([
      { type: "catchup", learnerId: "l1", fromSlot: 1, toSlot: 3 },
    ]);
    // Asked once; the next request waits another interval.
    expect(learner.tick(100 + DEFAULT_LIMITS.catchupIntervalMs + 1).send).toEqual([]);
    expect(learner.tick(100 + 2 * DEFAULT_LIMITS.catchupIntervalMs).send).toHaveLength(1);
  });

  it("waits catchupIntervalMs from when a gap appears, not from the last delivery", () => {
    // Idle since t=0. At t=10000 the leader's heartbeat says slot 0 is chosen; the accepted
    // messages for it are still on their way. Asking at once would send a catch-up to every
    // acceptor and peer for every first value after a quiet period.
    const learner = makeLearner();
    learner.receive(heartbeat(1), 10_000);
    expect(learner.tick(10_000).send).toEqual([]);
    expect(learner.tick(10_000 + DEFAULT_LIMITS.catchupIntervalMs - 1).send).toEqual([]);
    expect(learner.tick(10_000 + DEFAULT_LIMITS.catchupIntervalMs).send).toMatchObject([
      { type: "catchup", learnerId: "l1", fromSlot: 0, toSlot: 1 },
    ]);
  });

  it("bounds a catch-up request by catchupSlotsMax", () => {
    const learner = makeLearner({ catchupSlotsMax: 4 });
    learner.receive(heartbeat(100), 0);
    expect(learner.tick(DEFAULT_LIMITS.catchupIntervalMs).send).toMatchObject([
      { type: "catchup", learnerId: "l1", fromSlot: 0, toSlot: 4 },
    ]);
  });

  it("does not ask while there is no gap", () => {
    const learner = makeLearner();
    choose(learner, 0, batch("r0"));
    learner.receive(heartbeat(1), 0);
    expect(learner.gapSlots).toBe(0);
    expect(learner.tick(100 * DEFAULT_LIMITS.catchupIntervalMs).send).toEqual([]);
  });

  it("counts a catchupReply's entries as votes, and ignores replies for other learners or from unknown acceptors", () => {
    const learner = makeLearner();
    learner.receive(reply("a1", 0, 2, [entry(0, b(1, "p1"), batch("r0")), entry(1, b(1, "p1"), batch("r1"))]), 0);
    learner.receive({ ...reply("a2", 0, 2, [entry(0, b(1, "p1"), batch("r0"))]), learnerId: "l2" }, 0);
    learner.receive(reply("x9", 0, 2, [entry(0, b(1, "p1"), batch("r0"))]), 0);
    expect(learner.slotValue(0)).toBeUndefined();
    const step = learner.receive(reply("a3", 0, 2, [entry(0, b(1, "p1"), batch("r0"))]), 0);
    expect(step.learned).toEqual([{ slot: 0, value: batch("r0") }]);
    // A catch-up vote and a live accepted message at the same ballot add up.
    expect(learner.receive(accepted(1, b(1, "p1"), batch("r1"), "a2"), 0).learned).toEqual([
      { slot: 1, value: batch("r1") },
    ]);
  });

  it("for a slot known chosen, takes the highest-ballot value a majority reports after the choice (P2c)", () => {
    // Slot 0 was chosen as r1 at 2.p2 by a2 and a3; a3 is down. a1 still holds an older proposal.
    const learner = makeLearner();
    learner.receive(heartbeat(1), 0);
    const ask = learner.tick(DEFAULT_LIMITS.catchupIntervalMs).send;
    expect(ask).toMatchObject([{ type: "catchup", learnerId: "l1", fromSlot: 0, toSlot: 1 }]);
    learner.receive(reply("a1", 0, 1, [entry(0, b(1, "p1"), batch("r0"))], 1), 600);
    const step = learner.receive(reply("a2", 0, 1, [entry(0, b(2, "p2"), batch("r1"))], 1), 600);
    expect(step.learned).toEqual([{ slot: 0, value: batch("r1") }]);
  });

  it("never decides a slot from catch-up replies made before the slot was chosen", () => {
    // a1 accepted r0 in slot 0 at 1.p1 (a minority). The learner saw that vote and, after an
    // interval, asked for slot 0: a1 answered "r0 at 1.p1", a2 answered "nothing". Then p2 ran
    // phase 1 with a2 and a3 (which revealed nothing in slot 0) and got r1 chosen there at 2.p2.
    // The two old answers arrive only after the heartbeat that says slot 0 is chosen. They are a
    // majority of reports, but they were made before the choice: r0 must not be learned.
    const learner = makeLearner();
    learner.receive(accepted(0, b(1, "p1"), batch("r0"), "a1"), 0);
    expect(learner.tick(DEFAULT_LIMITS.catchupIntervalMs).send).toMatchObject([
      { type: "catchup", learnerId: "l1", fromSlot: 0, toSlot: 1 },
    ]);
    learner.receive(heartbeat(1), 700);
    learner.receive(reply("a1", 0, 1, [entry(0, b(1, "p1"), batch("r0"))]), 800);
    learner.receive(reply("a2", 0, 1, []), 800);
    expect(learner.slotValue(0)).toBeUndefined();
    choose(learner, 0, batch("r1"), b(2, "p2"), 900);
    expect(learner.slotValue(0)).toEqual(batch("r1"));
  });

  it("answers a peer's catch-up with chosen messages for the slots it learned, within catchupSlotsMax", () => {
    const learner = makeLearner({ catchupSlotsMax: 3 });
    choose(learner, 0, batch("r0"));
    choose(learner, 2, NOOP);
    choose(learner, 3, batch("r3"));
    const step = learner.receive({ type: "catchup", learnerId: "l2", fromSlot: 0, toSlot: 10, chosenBelow: 0 }, 0);
    expect(step.send).toEqual([
      { type: "chosen", slot: 0, value: batch("r0") },
      { type: "chosen", slot: 2, value: NOOP },
    ]);
    // Its own catch-up, echoed back by the transport, is not answered.
    expect(
      learner.receive({ type: "catchup", learnerId: "l1", fromSlot: 0, toSlot: 10, chosenBelow: 0 }, 0).send,
    ).toEqual([]);
  });
});

describe("bounded catch-up answers", () => {
  it("answers a peer within its byte budget and refuses it once spent, until the budget refills", () => {
    const learner = makeLearner({
      catchupBytesPerSecondMax: 1_000,
      catchupTotalBytesPerSecondMax: 1_000,
      messageBytesMax: 1_000,
    });
    for (let slot = 0; slot < 8; slot++) choose(learner, slot, batch("y".repeat(300)));
    const ask = { type: "catchup", learnerId: "l2", fromSlot: 0, toSlot: 8, chosenBelow: 0 } as const;
    const first = learner.receive(ask, 0);
    expect(first.send.length).toBeGreaterThan(0);
    expect(first.send.length).toBeLessThan(8);
    expect(first.refused.map((r) => r.reason)).toEqual(["overBudget"]);
    expect(learner.receive(ask, 0).send).toEqual([]);
    expect(learner.receive(ask, 1_000).send.length).toBeGreaterThan(0);
  });

  it("holds catch-up reports only for slots a vote could be held for, whatever chosenBelow an answer claims", () => {
    const learner = makeLearner({ slotsAheadMax: 8, catchupSlotsMax: 16 });
    learner.receive({ type: "heartbeat", ballot: b(1, "p1"), nextSlot: 4, chosenBelow: 4 }, 0);
    // An answer claiming a far chosenBelow for a far range is held for no slot we did not know chosen.
    const step = learner.receive(
      {
        type: "catchupReply",
        learnerId: "l1",
        acceptorId: "a1",
        fromSlot: 1_000,
        toSlot: 1_016,
        chosenBelow: 2 ** 40,
        accepted: [],
      },
      0,
    );
    expect(step).toEqual({ learned: [], delivered: [], send: [], refused: [] });
    expect(learner.heldSlots.reports).toBe(0);
    // Within what it knows chosen, reports are held.
    learner.receive(
      { type: "catchupReply", learnerId: "l1", acceptorId: "a1", fromSlot: 0, toSlot: 4, chosenBelow: 4, accepted: [] },
      0,
    );
    expect(learner.heldSlots.reports).toBe(4);
  });
});

describe("bounded votes (issue 7, hole 5)", () => {
  it("drops votes for slots slotsAheadMax or more beyond its next slot, holding nothing for them", () => {
    const learner = makeLearner({ slotsAheadMax: 16 });
    const far = learner.receive(accepted(16, b(1, "p1"), batch("far"), "a1"), 0);
    expect(far.refused.map((r) => r.reason)).toEqual(["slotTooFar"]);
    expect(choose(learner, 16, batch("far")).learned).toEqual([]);
    expect(learner.gapSlots).toBe(0);
    // Within the bound it counts votes as always.
    expect(choose(learner, 15, batch("near")).learned).toEqual([{ slot: 15, value: batch("near") }]);
  });
});
