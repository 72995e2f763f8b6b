// LeaderTracker: the leader is the highest ballot heard within the stale bound; a reordered old
// heartbeat never lowers a proposer's ballot. Driven with a hand-moved clock.
import { describe, expect, it } from "vitest";
import { LeaderTracker } from "./leader-tracker.ts";

function tracker(): { leaders: LeaderTracker; advance: (ms: number) => void } {
  let nowMs = 1_000;
  return { leaders: new LeaderTracker({ staleMs: 100, now: () => nowMs }), advance: (ms) => (nowMs += ms) };
}

describe("LeaderTracker", () => {
  it("knows no leader before any heartbeat", () => {
    expect(tracker().leaders.leader()).toBeNull();
  });

  it("takes the highest ballot heard recently, and forgets silent proposers", () => {
    const { leaders, advance } = tracker();
    leaders.heartbeat({ round: 2, proposerId: "p-b" });
    leaders.heartbeat({ round: 2, proposerId: "p-a" });
    expect(leaders.leader()?.proposerId).toBe("p-b");
    leaders.heartbeat({ round: 3, proposerId: "p-a" });
    expect(leaders.leader()?.proposerId).toBe("p-a");
    advance(60);
    leaders.heartbeat({ round: 2, proposerId: "p-b" });
    advance(60);
    // p-a (round 3) went silent 120 ms ago: p-b leads now.
    expect(leaders.leader()?.ballot).toEqual({ round: 2, proposerId: "p-b" });
    advance(101);
    expect(leaders.leader()).toBeNull();
  });

  it("holds a bounded number of proposers, dropping the lowest ballots, so a flood of ids cannot grow it", () => {
    const { leaders } = tracker();
    leaders.heartbeat({ round: 7, proposerId: "leader" });
    for (let i = 0; i < 10_000; i++) leaders.heartbeat({ round: 1, proposerId: `forged-${i}` });
    expect(leaders.leader()?.proposerId).toBe("leader");
    expect(leaders.proposersHeld).toBeLessThanOrEqual(64);
  });

  it("keeps a proposer's highest ballot when an older heartbeat arrives late", () => {
    const { leaders } = tracker();
    leaders.heartbeat({ round: 5, proposerId: "p-a" });
    leaders.heartbeat({ round: 4, proposerId: "p-a" });
    expect(leaders.leader()?.ballot.round).toBe(5);
  });

  it("waitForLeader resolves on the first heartbeat, or null after the timeout", async () => {
    const leaders = new LeaderTracker({ staleMs: 1_000, now: () => Date.now() });
    expect(await leaders.waitForLeader(20)).toBeNull();
    const waiting = leaders.waitForLeader(1_000);
    leaders.heartbeat({ round: 1, proposerId: "p-a" });
    expect((await waiting)?.proposerId).toBe("p-a");
  });

  it("waitForLeader with a test ignores leaders it refuses, and returns the current one on timeout", async () => {
    const leaders = new LeaderTracker({ staleMs: 1_000, now: () => Date.now() });
    leaders.heartbeat({ round: 1, proposerId: "p-a" });
    const notA = (leader: { proposerId: string }): boolean => leader.proposerId !== "p-a";
    expect((await leaders.waitForLeader(20, undefined, notA))?.proposerId).toBe("p-a");
    const waiting = leaders.waitForLeader(1_000, undefined, notA);
    leaders.heartbeat({ round: 1, proposerId: "p-a" });
    leaders.heartbeat({ round: 2, proposerId: "p-b" });
    expect((await waiting)?.proposerId).toBe("p-b");
  });
});
