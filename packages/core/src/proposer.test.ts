// Proves the proposer's rules of "Paxos Made Simple", 2.2 (phase 1a, phase 2a with P2c) and 3
// (Multi-Paxos: one leader, gaps filled with no-ops), plus its bounds. Each test drives a real
// Proposer with an injected `random` and explicit times, and checks the messages it emits.
import { describe, expect, it } from "vitest";
import type { Ballot } from "./ballot.ts";
import { DEFAULT_LIMITS, type Limits } from "./limits.ts";
import type { AcceptedEntry, AcceptMsg, Message, PromiseMsg } from "./messages.ts";
import { Proposer, type ProposerStep } from "./proposer.ts";
import { type ClientRequest, NOOP, type SlotValue } from "./value.ts";

const ACCEPTORS = ["a1", "a2", "a3"] as const;
const b = (round: number, proposerId: string): Ballot => ({ round, proposerId });
const req = (id: string, payload = id): ClientRequest => ({ id, payload });
const batch = (...ids: string[]): SlotValue => ({ kind: "batch", requests: ids.map((id) => req(id)) });
const entry = (slot: number, ballot: Ballot, value: SlotValue): AcceptedEntry => ({ slot, ballot, value });
const promise = (ballot: Ballot, acceptorId: string, accepted: AcceptedEntry[] = []): PromiseMsg => ({
  type: "promise",
  ballot,
  acceptorId,
  fromSlot: 0,
  toSlot: null,
  chosenBelow: 0,
  accepted,
});
const accepted = (ballot: Ballot, slot: number, value: SlotValue, acceptorId: string): Message => ({
  type: "accepted",
  ballot,
  slot,
  value,
  acceptorId,
});

/** With the default limits and random() = 0, a fresh proposer's election fires at 1000 ms. */
const ELECTION_MS = DEFAULT_LIMITS.leaderTimeoutMs;

function makeProposer(
  options: { limits?: Partial<Limits>; random?: () => number; acceptorIds?: readonly string[] } = {},
): Proposer {
  return new Proposer({
    proposerId: "p1",
    acceptorIds: options.acceptorIds ?? ACCEPTORS,
    limits: { ...DEFAULT_LIMITS, ...options.limits },
    random: options.random ?? (() => 0),
    nowMs: 0,
  });
}

/** Elects p1 at ballot 1.p1 at ELECTION_MS with promises from a1 and a2 (carrying `revealed`). */
function elect(proposer: Proposer, revealed: AcceptedEntry[] = []): ProposerStep {
  proposer.tick(ELECTION_MS);
  proposer.receive(promise(b(1, "p1"), "a1", revealed), ELECTION_MS);
  const step = proposer.receive(promise(b(1, "p1"), "a2"), ELECTION_MS);
  expect(proposer.role).toBe("leader");
  return step;
}

const accepts = (step: ProposerStep): AcceptMsg[] => step.send.filter((m): m is AcceptMsg => m.type === "accept");
const slotsOf = (step: ProposerStep): number[] => accepts(step).map((m) => m.slot);

describe("election (Paxos Made Simple 2.2 phase 1a; 3: a distinguished proposer)", () => {
  it("a follower elects itself after the leader timeout plus jitter and prepares from its chosenBelow", () => {
    const proposer = makeProposer({ random: () => 0.5 }); // timeout 1000 + 0.5 * 500 = 1250 ms
    // A leader's heartbeat tells it slots below 5 are chosen and restarts its timer at t=100.
    proposer.receive({ type: "heartbeat", ballot: b(1, "p2"), nextSlot: 7, chosenBelow: 5 }, 100);
    expect(proposer.chosenBelow).toBe(5);
    expect(proposer.tick(1349).send).toEqual([]);
    expect(proposer.role).toBe("follower");
    const step = proposer.tick(1350);
    expect(step.send).toEqual([{ type: "prepare", ballot: b(2, "p1"), fromSlot: 5 }]);
    expect(proposer.role).toBe("candidate");
  });

  it("does not elect itself before the first timeout, so a restart does not depose a healthy leader", () => {
    const proposer = makeProposer();
    expect(proposer.tick(ELECTION_MS - 1).send).toEqual([]);
    expect(proposer.tick(ELECTION_MS).send).toEqual([{ type: "prepare", ballot: b(1, "p1"), fromSlot: 0 }]);
  });

  it("becomes leader only on a majority of distinct configured promises for its current ballot", () => {
    const proposer = makeProposer({ acceptorIds: ["a1", "a2", "a3", "a4", "a5"] }); // quorum of 3
    proposer.tick(ELECTION_MS);
    const now = ELECTION_MS;
    proposer.receive(promise(b(1, "p1"), "a1"), now);
    proposer.receive(promise(b(1, "p1"), "a1"), now); // a duplicate
    proposer.receive(promise(b(1, "p1"), "x9"), now); // not a configured acceptor
    proposer.receive(promise(b(0, "p1"), "a4"), now); // another ballot
    proposer.receive(promise(b(1, "p1"), "a2"), now);
    expect(proposer.role).toBe("candidate");
    const step = proposer.receive(promise(b(1, "p1"), "a3"), now);
    expect(proposer.role).toBe("leader");
    expect(proposer.leaderId).toBe("p1");
    expect(step.send).toEqual([{ type: "heartbeat", ballot: b(1, "p1"), nextSlot: 0, chosenBelow: 0 }]);
  });

  it("a candidate resends its prepare after prepareRetransmitMs", () => {
    const proposer = makeProposer();
    proposer.tick(ELECTION_MS);
    expect(proposer.tick(ELECTION_MS + DEFAULT_LIMITS.prepareRetransmitMs - 1).send).toEqual([]);
    expect(proposer.tick(ELECTION_MS + DEFAULT_LIMITS.prepareRetransmitMs).send).toEqual([
      { type: "prepare", ballot: b(1, "p1"), fromSlot: 0 },
    ]);
  });

  it("re-proposes per slot the value of the highest ballot phase 1 revealed, and fills holes with no-ops (P2c, 3)", () => {
    const proposer = makeProposer();
    proposer.tick(ELECTION_MS);
    proposer.receive(
      promise(b(1, "p1"), "a1", [entry(0, b(0, "p9"), batch("old")), entry(3, b(0, "p9"), batch("c"))]),
      ELECTION_MS,
    );
    const step = proposer.receive(promise(b(1, "p1"), "a2", [entry(0, b(0, "p8"), batch("b"))]), ELECTION_MS);
    // 0.p9 > 0.p8 by proposerId, so slot 0 takes a1's value; slots 1 and 2 are holes below slot 3.
    expect(step.send).toEqual([
      { type: "accept", ballot: b(1, "p1"), slot: 0, value: batch("old"), chosenBelow: 0 },
      { type: "accept", ballot: b(1, "p1"), slot: 1, value: NOOP, chosenBelow: 0 },
      { type: "accept", ballot: b(1, "p1"), slot: 2, value: NOOP, chosenBelow: 0 },
      { type: "accept", ballot: b(1, "p1"), slot: 3, value: batch("c"), chosenBelow: 0 },
      { type: "heartbeat", ballot: b(1, "p1"), nextSlot: 4, chosenBelow: 0 },
    ]);
    // A new client value goes after everything phase 1 revealed.
    expect(slotsOf(proposer.propose(req("r1"), ELECTION_MS))).toEqual([4]);
  });

  it("prefers a higher round over a higher proposerId among revealed values", () => {
    const proposer = makeProposer();
    proposer.tick(ELECTION_MS);
    proposer.receive(promise(b(1, "p1"), "a1", [entry(0, b(0, "zz"), batch("low"))]), ELECTION_MS);
    const step = proposer.receive(promise(b(1, "p1"), "a3", [entry(0, b(1, "aa"), batch("high"))]), ELECTION_MS);
    expect(accepts(step)).toEqual([
      { type: "accept", ballot: b(1, "p1"), slot: 0, value: batch("high"), chosenBelow: 0 },
    ]);
  });

  it("does not re-propose slots it already knows are chosen", () => {
    const proposer = makeProposer();
    proposer.tick(ELECTION_MS);
    proposer.receive({ type: "chosen", slot: 1, value: batch("b") }, ELECTION_MS);
    proposer.receive(promise(b(1, "p1"), "a1", [entry(1, b(0, "p9"), batch("b"))]), ELECTION_MS);
    const step = proposer.receive(promise(b(1, "p1"), "a2", [entry(2, b(0, "p9"), batch("c"))]), ELECTION_MS);
    expect(slotsOf(step)).toEqual([0, 2]);
  });
});

describe("a leader that lost its majority", () => {
  it("steps down when no majority answered for a leader timeout while slots wait, and turns pending requests away", () => {
    const proposer = makeProposer({ limits: { inflightSlotsMax: 1 } });
    elect(proposer);
    const timeout = DEFAULT_LIMITS.leaderTimeoutMs;
    proposer.propose(req("r1"), ELECTION_MS);
    proposer.propose(req("r2"), ELECTION_MS); // waits: the window holds one slot
    // a1 keeps answering, but one acceptor is no majority.
    proposer.receive(accepted(b(1, "p1"), 0, batch("r1"), "a1"), ELECTION_MS + timeout - 10);
    expect(proposer.tick(ELECTION_MS + timeout - 1).rejected).toEqual([]);
    expect(proposer.role).toBe("leader");
    const step = proposer.tick(ELECTION_MS + timeout);
    expect(proposer.role).toBe("follower");
    expect(step.rejected).toEqual([{ requestId: "r2", reason: "notLeader", leaderHint: null }]);
  });

  it("stays leader while idle, and while a majority keeps answering", () => {
    const proposer = makeProposer();
    elect(proposer);
    const timeout = DEFAULT_LIMITS.leaderTimeoutMs;
    proposer.tick(ELECTION_MS + 3 * timeout);
    expect(proposer.role).toBe("leader");
    proposer.propose(req("r1"), ELECTION_MS + 3 * timeout);
    proposer.receive(accepted(b(1, "p1"), 0, batch("r1"), "a3"), ELECTION_MS + 4 * timeout - 5);
    proposer.receive(accepted(b(1, "p1"), 9, batch("x"), "a2"), ELECTION_MS + 4 * timeout - 5);
    proposer.tick(ELECTION_MS + 4 * timeout);
    expect(proposer.role).toBe("leader");
  });

  // Regression (issue 7, hole 1): contact was refreshed only by answers, so after an idle leader
  // timeout the first proposal made the next tick step the leader down before any acceptor could
  // answer, and clients got 503.
  it("does not step down the moment work arrives after an idle period longer than a leader timeout", () => {
    const proposer = makeProposer();
    elect(proposer);
    const timeout = DEFAULT_LIMITS.leaderTimeoutMs;
    const busyMs = ELECTION_MS + 10 * timeout;
    for (let t = ELECTION_MS; t < busyMs; t += 10) proposer.tick(t);
    proposer.propose(req("r1"), busyMs);
    proposer.tick(busyMs + 10);
    proposer.tick(busyMs + timeout - 1);
    expect(proposer.role).toBe("leader");
    proposer.receive(accepted(b(1, "p1"), 0, batch("r1"), "a1"), busyMs + 20);
    expect(proposer.receive(accepted(b(1, "p1"), 0, batch("r1"), "a2"), busyMs + 20).chosen).toHaveLength(1);
    // But a slot that waits a whole timeout with no majority answering still makes it step down.
    proposer.propose(req("r2"), busyMs + 30);
    proposer.tick(busyMs + 30 + timeout);
    expect(proposer.role).toBe("follower");
  });
});

describe("phase 1 in ranges (issue 7, hole 2: no promise may outgrow one message)", () => {
  it("prepares again from the lowest end a majority reported, and leads once every range is covered", () => {
    const proposer = makeProposer();
    proposer.tick(ELECTION_MS);
    const first = (acceptorId: string, toSlot: number, entries: AcceptedEntry[]): PromiseMsg => ({
      ...promise(b(1, "p1"), acceptorId, entries),
      toSlot,
    });
    proposer.receive(
      first("a1", 2, [entry(0, b(0, "p9"), batch("x0")), entry(1, b(0, "p9"), batch("x1"))]),
      ELECTION_MS,
    );
    // a2 reported further; a1's shorter range bounds what the majority covers: slots [0, 2).
    const step = proposer.receive(
      first("a2", 4, [entry(1, b(0, "p9"), batch("x1")), entry(3, b(0, "p9"), batch("low"))]),
      ELECTION_MS,
    );
    expect(proposer.role).toBe("candidate");
    // With a majority promised, it says so with heartbeats, so that no follower preempts it.
    expect(step.send).toEqual([
      { type: "prepare", ballot: b(1, "p1"), fromSlot: 2 },
      { type: "heartbeat", ballot: b(1, "p1"), nextSlot: 0, chosenBelow: 0 },
    ]);
    // A late promise for the first range does not count towards the second.
    proposer.receive(first("a3", 2, []), ELECTION_MS);
    expect(proposer.role).toBe("candidate");
    const second = (acceptorId: string, entries: AcceptedEntry[]): PromiseMsg => ({
      ...promise(b(1, "p1"), acceptorId, entries),
      fromSlot: 2,
    });
    proposer.receive(second("a3", [entry(3, b(0, "p8"), batch("lower"))]), ELECTION_MS);
    const lead = proposer.receive(second("a2", [entry(3, b(0, "p9"), batch("high"))]), ELECTION_MS);
    expect(proposer.role).toBe("leader");
    expect(accepts(lead).map((m) => [m.slot, m.value])).toEqual([
      [0, batch("x0")],
      [1, batch("x1")],
      [2, NOOP],
      [3, batch("high")],
    ]);
  });

  it("ignores a promise that reports an empty range", () => {
    const proposer = makeProposer();
    proposer.tick(ELECTION_MS);
    proposer.receive({ ...promise(b(1, "p1"), "a1"), toSlot: 0 }, ELECTION_MS);
    proposer.receive({ ...promise(b(1, "p1"), "a2"), toSlot: 0 }, ELECTION_MS);
    expect(proposer.role).toBe("candidate");
  });
});

describe("far slots and rounds (issue 7, hole 5)", () => {
  // Regression: one accept stored far ahead made the next leader fill every slot up to it with
  // no-ops in a single step (a million accepts for slot 1e6).
  it("re-proposes up to a value revealed far ahead through the window, a few slots per step", () => {
    const proposer = makeProposer({ limits: { inflightSlotsMax: 4 } });
    const step = elect(proposer, [entry(1_000_000, b(0, "p9"), batch("far"))]);
    expect(slotsOf(step)).toEqual([0, 1, 2, 3]);
    expect(accepts(step).every((m) => m.value.kind === "noop")).toBe(true);
    // Holes below the far value take waiting client requests rather than more no-ops.
    proposer.propose(req("r1"), ELECTION_MS);
    for (const acceptorId of ["a1", "a2"]) proposer.receive(accepted(b(1, "p1"), 0, NOOP, acceptorId), ELECTION_MS);
    expect(proposer.load).toEqual({ inflightSlots: 4, pendingRequests: 0 });
  });

  it("drops messages with rounds near 2^53 instead of failing its next election", () => {
    const proposer = makeProposer();
    const huge = { round: Number.MAX_SAFE_INTEGER, proposerId: "p9" };
    const step = proposer.receive({ type: "heartbeat", ballot: huge, nextSlot: 0, chosenBelow: 0 }, 0);
    expect(step.refused.map((r) => r.reason)).toEqual(["roundTooFar"]);
    proposer.receive({ type: "nack", ballot: b(0, "p1"), promised: huge, acceptorId: "a1" }, 0);
    expect(() => proposer.tick(ELECTION_MS)).not.toThrow();
    expect(proposer.ballot).toEqual(b(1, "p1"));
  });
});

describe("chosen messages and live leaders (issue 7, hole 6)", () => {
  it("a leader refuses a chosen message that contradicts its proposal in that slot", () => {
    const proposer = makeProposer();
    elect(proposer);
    proposer.propose(req("r1"), ELECTION_MS);
    const wrong = proposer.receive({ type: "chosen", slot: 0, value: batch("forged") }, ELECTION_MS);
    expect(wrong.refused.map((r) => r.reason)).toEqual(["outvoted"]);
    expect(proposer.load.inflightSlots).toBe(1);
    expect(proposer.chosenBelow).toBe(0);
    proposer.receive({ type: "chosen", slot: 0, value: batch("r1") }, ELECTION_MS);
    expect(proposer.chosenBelow).toBe(1);
  });

  it("a candidate that hears a live leader no other ballot deposed gives up and follows it", () => {
    const proposer = makeProposer();
    proposer.receive({ type: "heartbeat", ballot: b(3, "p2"), nextSlot: 0, chosenBelow: 0 }, 0);
    proposer.tick(ELECTION_MS); // cut off: the heartbeats stop reaching us, so we stand at 4.p1
    expect(proposer.role).toBe("candidate");
    proposer.receive({ type: "heartbeat", ballot: b(3, "p2"), nextSlot: 0, chosenBelow: 0 }, ELECTION_MS + 5_000);
    expect(proposer.role).toBe("follower");
    expect(proposer.leaderId).toBe("p2");
    expect(proposer.tick(ELECTION_MS + 5_000 + DEFAULT_LIMITS.prepareRetransmitMs).send).toEqual([]);
  });
});

describe("chosen watermark from promises", () => {
  it("a new leader adopts the highest chosenBelow its promises report and proposes nothing below it", () => {
    const proposer = makeProposer();
    proposer.tick(ELECTION_MS);
    proposer.receive(
      { ...promise(b(1, "p1"), "a1", [entry(9, b(0, "p0"), batch("late"))]), chosenBelow: 8 },
      ELECTION_MS,
    );
    const step = proposer.receive(
      { ...promise(b(1, "p1"), "a2", [entry(2, b(0, "p0"), batch("old"))]), chosenBelow: 0 },
      ELECTION_MS,
    );
    expect(proposer.role).toBe("leader");
    expect(proposer.chosenBelow).toBe(8);
    expect(slotsOf(step)).toEqual([8, 9]);
    expect(accepts(step).every((m) => m.chosenBelow === 8)).toBe(true);
  });
});

describe("leading (Paxos Made Simple 2.2 phase 2a; 3: many slots, a bounded window)", () => {
  it("batches pending requests up to batchRequestsMax", () => {
    const proposer = makeProposer({ limits: { inflightSlotsMax: 1, batchRequestsMax: 3 } });
    elect(proposer);
    const now = ELECTION_MS;
    expect(accepts(proposer.propose(req("r1"), now))).toEqual([
      { type: "accept", ballot: b(1, "p1"), slot: 0, value: batch("r1"), chosenBelow: 0 },
    ]);
    for (const id of ["r2", "r3", "r4", "r5", "r6"]) expect(proposer.propose(req(id), now).send).toEqual([]);
    expect(proposer.load).toEqual({ inflightSlots: 1, pendingRequests: 5 });
    proposer.receive(accepted(b(1, "p1"), 0, batch("r1"), "a1"), now);
    const step = proposer.receive(accepted(b(1, "p1"), 0, batch("r1"), "a2"), now);
    expect(accepts(step)).toEqual([
      { type: "accept", ballot: b(1, "p1"), slot: 1, value: batch("r2", "r3", "r4"), chosenBelow: 1 },
    ]);
    proposer.receive(accepted(b(1, "p1"), 1, batch("r2", "r3", "r4"), "a3"), now);
    const last = proposer.receive(accepted(b(1, "p1"), 1, batch("r2", "r3", "r4"), "a1"), now);
    expect(accepts(last)).toEqual([
      { type: "accept", ballot: b(1, "p1"), slot: 2, value: batch("r5", "r6"), chosenBelow: 2 },
    ]);
  });

  it("requests handed over together share slots: proposeMany fills the window once, after taking them all", () => {
    const proposer = makeProposer({ limits: { batchRequestsMax: 3, requestBytesMax: 40 } });
    elect(proposer);
    const step = proposer.proposeMany(
      [req("r1"), req("r2"), req("big", "x".repeat(40)), req("r3"), req("r1"), req("r4")],
      ELECTION_MS,
    );
    // One at a time, the open window would have given r1 … r4 a slot each.
    expect(accepts(step).map((m) => [m.slot, m.value])).toEqual([
      [0, batch("r1", "r2", "r3")],
      [1, batch("r4")],
    ]);
    // Each request is judged alone: the large one is refused, the repeated id is carried once.
    expect(step.rejected).toEqual([{ requestId: "big", reason: "tooLarge", leaderHint: "p1" }]);
    expect(makeProposer().proposeMany([req("a"), req("b")], 0).rejected).toEqual([
      { requestId: "a", reason: "notLeader", leaderHint: null },
      { requestId: "b", reason: "notLeader", leaderHint: null },
    ]);
  });

  it("batches pending requests up to batchBytesMax, but always takes at least one", () => {
    // Each request below weighs 4 + 3 + 19 = 26 UTF-8 bytes: two fit in 60, three do not.
    const proposer = makeProposer({ limits: { inflightSlotsMax: 1, batchBytesMax: 60 } });
    elect(proposer);
    const now = ELECTION_MS;
    proposer.propose(req("r0", "x"), now);
    for (const id of ["r1", "r2", "r3"]) proposer.propose(req(id, "x"), now);
    proposer.receive(accepted(b(1, "p1"), 0, { kind: "batch", requests: [req("r0", "x")] }, "a1"), now);
    const step = proposer.receive(accepted(b(1, "p1"), 0, { kind: "batch", requests: [req("r0", "x")] }, "a2"), now);
    expect(accepts(step).map((m) => m.value)).toEqual([{ kind: "batch", requests: [req("r1", "x"), req("r2", "x")] }]);
    expect(proposer.load.pendingRequests).toBe(1);
  });

  // Regression (issue 7, hole 2): the window bounded the count in flight, so while one slot waited
  // for retransmission later slots kept being chosen above it, every acceptor's watermark stayed
  // behind, and after a leader change each promise carried them all and no longer fit a message.
  it("proposes in slot s only while s < chosenBelow + inflightSlotsMax: a stuck slot holds the window", () => {
    const proposer = makeProposer({ limits: { inflightSlotsMax: 2, batchRequestsMax: 1 } });
    elect(proposer);
    const now = ELECTION_MS;
    const sent: number[] = [];
    for (const id of ["r0", "r1", "r2", "r3", "r4"]) {
      sent.push(...slotsOf(proposer.propose(req(id), now)));
      expect(proposer.load.inflightSlots).toBeLessThanOrEqual(2);
    }
    expect(sent).toEqual([0, 1]);
    expect(proposer.load).toEqual({ inflightSlots: 2, pendingRequests: 3 });
    // Slot 1 is chosen while slot 0 still waits: the window does not move past slot 0.
    proposer.receive(accepted(b(1, "p1"), 1, batch("r1"), "a1"), now);
    const step = proposer.receive(accepted(b(1, "p1"), 1, batch("r1"), "a3"), now);
    expect(slotsOf(step)).toEqual([]);
    expect(proposer.load).toEqual({ inflightSlots: 1, pendingRequests: 3 });
    // Slot 0 chosen (here by a chosen message from elsewhere): the watermark moves to 2.
    expect(slotsOf(proposer.receive({ type: "chosen", slot: 0, value: batch("r0") }, now))).toEqual([2, 3]);
    expect(proposer.chosenBelow).toBe(2);
  });

  it("retransmits an accept a majority has not answered after acceptRetransmitMs, and stops once chosen", () => {
    const proposer = makeProposer();
    elect(proposer);
    const start = ELECTION_MS;
    proposer.propose(req("r1"), start);
    const retransmitMs = DEFAULT_LIMITS.acceptRetransmitMs;
    expect(accepts(proposer.tick(start + retransmitMs - 1))).toEqual([]);
    expect(accepts(proposer.tick(start + retransmitMs))).toEqual([
      { type: "accept", ballot: b(1, "p1"), slot: 0, value: batch("r1"), chosenBelow: 0 },
    ]);
    expect(accepts(proposer.tick(start + retransmitMs + 1))).toEqual([]); // the timer restarted
    proposer.receive(accepted(b(1, "p1"), 0, batch("r1"), "a2"), start);
    proposer.receive(accepted(b(1, "p1"), 0, batch("r1"), "a3"), start);
    expect(accepts(proposer.tick(start + 10 * retransmitMs))).toEqual([]);
  });

  it("sends a heartbeat every heartbeatIntervalMs while leading", () => {
    const proposer = makeProposer();
    elect(proposer);
    const heartbeats = (step: ProposerStep) => step.send.filter((m) => m.type === "heartbeat");
    expect(heartbeats(proposer.tick(ELECTION_MS + DEFAULT_LIMITS.heartbeatIntervalMs - 1))).toEqual([]);
    expect(heartbeats(proposer.tick(ELECTION_MS + DEFAULT_LIMITS.heartbeatIntervalMs))).toHaveLength(1);
  });

  it("emits chosen once a majority of distinct configured acceptors accepted at its ballot", () => {
    const proposer = makeProposer();
    elect(proposer);
    const now = ELECTION_MS;
    proposer.propose(req("r1"), now);
    const value = batch("r1");
    for (const msg of [
      accepted(b(1, "p1"), 0, value, "a1"),
      accepted(b(1, "p1"), 0, value, "a1"), // duplicate
      accepted(b(1, "p1"), 0, value, "x9"), // unknown acceptor
      accepted(b(0, "p1"), 0, value, "a2"), // another ballot
    ]) {
      expect(proposer.receive(msg, now)).toEqual({ send: [], rejected: [], chosen: [], refused: [] });
    }
    const step = proposer.receive(accepted(b(1, "p1"), 0, value, "a3"), now);
    expect(step.chosen).toEqual([{ slot: 0, value }]);
    expect(step.send).toEqual([{ type: "chosen", slot: 0, value }]);
    expect(proposer.chosenBelow).toBe(1);
    // A late vote for a chosen slot changes nothing.
    expect(proposer.receive(accepted(b(1, "p1"), 0, value, "a2"), now).chosen).toEqual([]);
  });

  it("refuses a vote for another value at its ballot as a conflict, and does not count it", () => {
    const proposer = makeProposer();
    elect(proposer);
    const now = ELECTION_MS;
    proposer.propose(req("r1"), now);
    const forged = proposer.receive(accepted(b(1, "p1"), 0, batch("forged"), "a1"), now);
    expect(forged).toEqual({
      send: [],
      rejected: [],
      chosen: [],
      refused: [{ reason: "conflict", detail: expect.any(String) as string }],
    });
    // a1's forged vote did not count: one real vote is not yet a majority.
    expect(proposer.receive(accepted(b(1, "p1"), 0, batch("r1"), "a2"), now).chosen).toEqual([]);
    expect(proposer.receive(accepted(b(1, "p1"), 0, batch("r1"), "a3"), now).chosen).toHaveLength(1);
  });
});

describe("stepping down (Paxos Made Simple 2.2: a proposer abandons a ballot when a higher one exists)", () => {
  it("nacks from a majority make a leader step down, reject pending requests, and later elect itself above them", () => {
    const proposer = makeProposer({ limits: { inflightSlotsMax: 1 } });
    elect(proposer);
    const now = ELECTION_MS;
    proposer.propose(req("r1"), now); // in flight
    proposer.propose(req("r2"), now); // pending
    // Nacks for another ballot or from unknown acceptors are ignored.
    proposer.receive({ type: "nack", ballot: b(0, "p1"), promised: b(5, "p2"), acceptorId: "a1" }, now);
    proposer.receive({ type: "nack", ballot: b(1, "p1"), promised: b(5, "p2"), acceptorId: "x9" }, now);
    expect(proposer.role).toBe("leader");
    // One acceptor is a minority: some proposer prepared above us there, our majority may stand.
    proposer.receive({ type: "nack", ballot: b(1, "p1"), promised: b(5, "p2"), acceptorId: "a3" }, now);
    proposer.receive({ type: "nack", ballot: b(1, "p1"), promised: b(5, "p2"), acceptorId: "a3" }, now);
    expect(proposer.role).toBe("leader");
    const step = proposer.receive({ type: "nack", ballot: b(1, "p1"), promised: b(5, "p2"), acceptorId: "a1" }, now);
    expect(proposer.role).toBe("follower");
    expect(step.rejected.map((r) => [r.requestId, r.reason])).toEqual([["r2", "notLeader"]]);
    expect(proposer.load).toEqual({ inflightSlots: 0, pendingRequests: 0 });
    // Backoff: 2 heartbeats plus random() * electionJitterMs (random() = 0 here).
    const backoffMs = 2 * DEFAULT_LIMITS.heartbeatIntervalMs;
    expect(proposer.tick(now + backoffMs - 1).send).toEqual([]);
    expect(proposer.tick(now + backoffMs).send).toEqual([{ type: "prepare", ballot: b(6, "p1"), fromSlot: 0 }]);
  });

  it("after a nack, names the proposer of the higher ballot as the leader hint of rejected requests", () => {
    // The nack says p2 holds 5.p2; a client told "notLeader, hint null" must guess where to retry.
    const proposer = makeProposer({ limits: { inflightSlotsMax: 1 } });
    elect(proposer);
    const now = ELECTION_MS;
    proposer.propose(req("r1"), now);
    proposer.propose(req("r2"), now);
    proposer.receive({ type: "nack", ballot: b(1, "p1"), promised: b(5, "p2"), acceptorId: "a2" }, now);
    const step = proposer.receive({ type: "nack", ballot: b(1, "p1"), promised: b(5, "p2"), acceptorId: "a3" }, now);
    expect(step.rejected).toEqual([{ requestId: "r2", reason: "notLeader", leaderHint: "p2" }]);
    expect(proposer.propose(req("r3"), now).rejected).toEqual([
      { requestId: "r3", reason: "notLeader", leaderHint: "p2" },
    ]);
  });

  it("a nack of its prepare makes a candidate step down too", () => {
    const proposer = makeProposer();
    proposer.tick(ELECTION_MS);
    proposer.receive({ type: "nack", ballot: b(1, "p1"), promised: b(3, "p3"), acceptorId: "a2" }, ELECTION_MS);
    expect(proposer.role).toBe("follower");
    expect(proposer.leaderId).toBeNull();
  });

  it("a heartbeat from a higher ballot makes a leader step down and follow it", () => {
    const proposer = makeProposer({ limits: { inflightSlotsMax: 1 } });
    elect(proposer);
    const now = ELECTION_MS;
    proposer.propose(req("r1"), now);
    proposer.propose(req("r2"), now);
    // A heartbeat from a deposed leader (a lower ballot) changes nothing.
    proposer.receive({ type: "heartbeat", ballot: b(0, "p2"), nextSlot: 0, chosenBelow: 0 }, now);
    expect(proposer.role).toBe("leader");
    const step = proposer.receive({ type: "heartbeat", ballot: b(2, "p2"), nextSlot: 3, chosenBelow: 1 }, now);
    expect(proposer.role).toBe("follower");
    expect(proposer.leaderId).toBe("p2");
    expect(step.rejected).toEqual([{ requestId: "r2", reason: "notLeader", leaderHint: "p2" }]);
    expect(proposer.chosenBelow).toBe(1);
  });

  it("a heartbeat resets a follower's election timer", () => {
    const proposer = makeProposer();
    proposer.receive({ type: "heartbeat", ballot: b(1, "p2"), nextSlot: 0, chosenBelow: 0 }, 900);
    expect(proposer.tick(ELECTION_MS).send).toEqual([]);
    expect(proposer.tick(900 + ELECTION_MS - 1).send).toEqual([]);
    expect(proposer.tick(900 + ELECTION_MS).send).toEqual([{ type: "prepare", ballot: b(2, "p1"), fromSlot: 0 }]);
  });

  it("a heartbeat from a lower ballot than one seen does not reset the timer of a follower", () => {
    const proposer = makeProposer();
    proposer.receive({ type: "heartbeat", ballot: b(4, "p3"), nextSlot: 0, chosenBelow: 0 }, 0);
    proposer.receive({ type: "heartbeat", ballot: b(2, "p2"), nextSlot: 0, chosenBelow: 0 }, 900);
    expect(proposer.leaderId).toBe("p3");
    expect(proposer.tick(ELECTION_MS).send).toEqual([{ type: "prepare", ballot: b(5, "p1"), fromSlot: 0 }]);
  });
});

describe("client requests", () => {
  it("a non-leader rejects proposals with a hint at the leader it follows (none when unknown)", () => {
    const proposer = makeProposer();
    expect(proposer.propose(req("r1"), 0).rejected).toEqual([
      { requestId: "r1", reason: "notLeader", leaderHint: null },
    ]);
    proposer.receive({ type: "heartbeat", ballot: b(1, "p2"), nextSlot: 0, chosenBelow: 0 }, 10);
    const step = proposer.receive({ type: "propose", proposerId: "p1", request: req("r2") }, 20);
    expect(step.rejected).toEqual([{ requestId: "r2", reason: "notLeader", leaderHint: "p2" }]);
    expect(step.send).toEqual([]);
  });

  it("rejects a request larger than requestBytesMax as tooLarge", () => {
    const proposer = makeProposer({ limits: { requestBytesMax: 100 } });
    elect(proposer);
    const step = proposer.propose(req("big", "x".repeat(100)), ELECTION_MS);
    expect(step.rejected).toEqual([{ requestId: "big", reason: "tooLarge", leaderHint: "p1" }]);
    expect(step.send).toEqual([]);
    expect(proposer.load.pendingRequests).toBe(0);
  });

  it("rejects requests beyond pendingRequestsMax as overloaded", () => {
    const proposer = makeProposer({ limits: { inflightSlotsMax: 1, pendingRequestsMax: 2 } });
    elect(proposer);
    for (const id of ["r0", "r1", "r2"]) expect(proposer.propose(req(id), ELECTION_MS).rejected).toEqual([]);
    expect(proposer.propose(req("r3"), ELECTION_MS).rejected).toEqual([
      { requestId: "r3", reason: "overloaded", leaderHint: "p1" },
    ]);
  });

  it("does not queue a request id it already holds, pending or in flight", () => {
    const proposer = makeProposer({ limits: { inflightSlotsMax: 1 } });
    elect(proposer);
    const now = ELECTION_MS;
    proposer.propose(req("r1"), now); // in flight in slot 0
    proposer.propose(req("r2"), now); // pending
    expect(proposer.propose(req("r2"), now)).toEqual({ send: [], rejected: [], chosen: [], refused: [] });
    expect(proposer.propose(req("r1"), now)).toEqual({ send: [], rejected: [], chosen: [], refused: [] });
    expect(proposer.load.pendingRequests).toBe(1);
    proposer.receive(accepted(b(1, "p1"), 0, batch("r1"), "a1"), now);
    const step = proposer.receive(accepted(b(1, "p1"), 0, batch("r1"), "a2"), now);
    expect(accepts(step).map((m) => m.value)).toEqual([batch("r2")]);
    // Once chosen, the id is released: a later retry is carried again (learners deliver it once).
    expect(proposer.propose(req("r1"), now).rejected).toEqual([]);
    expect(proposer.load.pendingRequests).toBe(1);
  });
});
