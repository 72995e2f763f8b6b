// Each safety checker fails on the event that breaks its invariant, independent of any protocol
// code: the checkers are fed hand-made histories.
import { type Ballot, type ClientRequest, QuorumConfig, type SlotValue } from "@paxos/core";
import { describe, expect, it } from "vitest";
import { SafetyChecker, ViolationError } from "./checkers.ts";

const b = (round: number, proposerId = "p1"): Ballot => ({ round, proposerId });
const batch = (...requests: ClientRequest[]): SlotValue => ({ kind: "batch", requests });
const x: ClientRequest = { id: "c1-r1", payload: "x" };
const y: ClientRequest = { id: "c1-r2", payload: "y" };

function checker(): SafetyChecker {
  const c = new SafetyChecker(new QuorumConfig(["a1", "a2", "a3"]));
  c.submitted(x.id, x.payload);
  c.submitted(y.id, y.payload);
  return c;
}

function kindOf(action: () => void): string | undefined {
  try {
    action();
  } catch (error) {
    if (error instanceof ViolationError) return error.violation.kind;
    throw error;
  }
  return undefined;
}

describe("SafetyChecker", () => {
  it("accepts a correct history", () => {
    const c = checker();
    c.acceptorWrote("a1", { promised: b(1), accept: null, chosenBelow: 0 });
    c.acceptorWrote("a1", { promised: b(1), accept: { slot: 0, ballot: b(1), value: batch(x) }, chosenBelow: 0 });
    c.acceptorWrote("a2", { promised: b(1), accept: { slot: 0, ballot: b(1), value: batch(x) }, chosenBelow: 0 });
    c.learned("l1", 0, batch(x));
    c.delivered("l1", { kind: "delivered", index: 0, slot: 0, request: x });
    expect(c.chosen(0)).toEqual(batch(x));
  });

  it("agreement: two values chosen in one slot at different ballots", () => {
    const c = checker();
    c.acceptorWrote("a1", { promised: b(1), accept: { slot: 0, ballot: b(1), value: batch(x) }, chosenBelow: 0 });
    c.acceptorWrote("a2", { promised: b(1), accept: { slot: 0, ballot: b(1), value: batch(x) }, chosenBelow: 0 });
    c.acceptorWrote("a2", { promised: b(2), accept: { slot: 0, ballot: b(2), value: batch(y) }, chosenBelow: 0 });
    expect(
      kindOf(() =>
        c.acceptorWrote("a3", { promised: b(2), accept: { slot: 0, ballot: b(2), value: batch(y) }, chosenBelow: 0 }),
      ),
    ).toBe("agreement");
  });

  it("agreement: a learner learns what no majority accepted", () => {
    const c = checker();
    c.acceptorWrote("a1", { promised: b(1), accept: { slot: 0, ballot: b(1), value: batch(x) }, chosenBelow: 0 });
    expect(kindOf(() => c.learned("l1", 0, batch(x)))).toBe("agreement");
  });

  it("validity: a request nobody submitted", () => {
    const c = checker();
    const forged: ClientRequest = { id: "c9-r1", payload: 1 };
    expect(
      kindOf(() =>
        c.acceptorWrote("a1", {
          promised: b(1),
          accept: { slot: 0, ballot: b(1), value: batch(forged) },
          chosenBelow: 0,
        }),
      ),
    ).toBe("validity");
    expect(
      kindOf(() =>
        c.acceptorWrote("a1", {
          promised: b(1),
          accept: { slot: 0, ballot: b(1), value: batch({ id: x.id, payload: "z" }) },
          chosenBelow: 0,
        }),
      ),
    ).toBe("validity");
  });

  it("acceptor monotonicity: a lower promise, an accept below the promise, an accepted ballot above the promise", () => {
    const c = checker();
    c.acceptorWrote("a1", { promised: b(3), accept: null, chosenBelow: 0 });
    expect(kindOf(() => c.acceptorWrote("a1", { promised: b(2), accept: null, chosenBelow: 0 }))).toBe(
      "acceptorMonotonicity",
    );
    expect(
      kindOf(() =>
        c.acceptorWrote("a1", { promised: b(3), accept: { slot: 0, ballot: b(2), value: batch(x) }, chosenBelow: 0 }),
      ),
    ).toBe("acceptorMonotonicity");
    expect(
      kindOf(() =>
        c.acceptorWrote("a1", { promised: b(3), accept: { slot: 0, ballot: b(4), value: batch(x) }, chosenBelow: 0 }),
      ),
    ).toBe("acceptorMonotonicity");
    c.acceptorPromise("a2", b(5), "step");
    expect(kindOf(() => c.acceptorPromise("a2", b(4), "restart"))).toBe("acceptorMonotonicity");
  });

  it("one value per (slot, ballot)", () => {
    const c = checker();
    c.acceptorWrote("a1", { promised: b(1), accept: { slot: 0, ballot: b(1), value: batch(x) }, chosenBelow: 0 });
    expect(
      kindOf(() =>
        c.acceptorWrote("a2", { promised: b(1), accept: { slot: 0, ballot: b(1), value: batch(y) }, chosenBelow: 0 }),
      ),
    ).toBe("oneValuePerBallot");
  });

  it("integrity: a learner restarting ahead of what it delivered, or delivering another request again", () => {
    const c = checker();
    c.acceptorWrote("a1", { promised: b(1), accept: { slot: 0, ballot: b(1), value: batch(x) }, chosenBelow: 0 });
    c.acceptorWrote("a2", { promised: b(1), accept: { slot: 0, ballot: b(1), value: batch(x) }, chosenBelow: 0 });
    c.learned("l1", 0, batch(x));
    c.delivered("l1", { kind: "delivered", index: 0, slot: 0, request: x });
    expect(kindOf(() => c.learnerRestarted("l1", 2))).toBe("integrity");
    // Behind is allowed (its last append was lost): it delivers the same request at index 0 again.
    c.learnerRestarted("l1", 0);
    c.delivered("l1", { kind: "delivered", index: 0, slot: 0, request: x });
    c.learnerRestarted("l1", 0);
    expect(kindOf(() => c.delivered("l1", { kind: "delivered", index: 0, slot: 0, request: y }))).toBe("integrity");
  });

  it("at-most-once delivery: a request at two indices, or an index skipped", () => {
    const c = checker();
    c.delivered("l1", { kind: "delivered", index: 0, slot: 0, request: x });
    expect(kindOf(() => c.delivered("l1", { kind: "delivered", index: 1, slot: 1, request: x }))).toBe(
      "atMostOnceDelivery",
    );
    const d = checker();
    expect(kindOf(() => d.delivered("l1", { kind: "delivered", index: 1, slot: 0, request: x }))).toBe(
      "atMostOnceDelivery",
    );
    const e = checker();
    e.delivered("l1", { kind: "delivered", index: 0, slot: 0, request: x });
    expect(kindOf(() => e.delivered("l2", { kind: "delivered", index: 0, slot: 0, request: x }))).toBe(undefined);
    expect(kindOf(() => e.delivered("l2", { kind: "delivered", index: 1, slot: 1, request: x }))).toBe(
      "atMostOnceDelivery",
    );
  });

  it("integrity: two learners deliver different requests at one index", () => {
    const c = checker();
    c.delivered("l1", { kind: "delivered", index: 0, slot: 0, request: x });
    expect(kindOf(() => c.delivered("l2", { kind: "delivered", index: 0, slot: 0, request: y }))).toBe("integrity");
  });
});
