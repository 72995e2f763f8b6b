// Proves that ballots are totally and consistently ordered (round first, then proposerId) with
// ZERO_BALLOT below every real ballot, as "Paxos Made Simple", 2.2 requires of proposal numbers.
// Checks the order laws over every pair and triple of a small set of ballots.
import { describe, expect, it } from "vitest";
import { type Ballot, ballotKey, compareBallots, maxBallot, ZERO_BALLOT } from "./ballot.ts";

const b = (round: number, proposerId: string): Ballot => ({ round, proposerId });

// Includes equal-but-distinct objects, so equality is by value, not identity.
const sample: readonly Ballot[] = [
  ZERO_BALLOT,
  b(1, "p1"),
  b(1, "p2"),
  b(1, "p2"),
  b(2, "p1"),
  b(2, "p1-ab12cd34"),
  b(10, "a"),
  b(9, "z"),
];

const sign = (n: number): number => Math.sign(n);

describe("ballot order (Paxos Made Simple 2.2: proposal numbers are totally ordered)", () => {
  it("orders by round first, then by proposerId", () => {
    expect(compareBallots(b(1, "p2"), b(2, "p1"))).toBeLessThan(0);
    expect(compareBallots(b(10, "a"), b(9, "z"))).toBeGreaterThan(0); // numeric, not textual, rounds
    expect(compareBallots(b(3, "p1"), b(3, "p2"))).toBeLessThan(0);
    expect(compareBallots(b(3, "p2"), b(3, "p1"))).toBeGreaterThan(0);
    expect(compareBallots(b(3, "p1"), b(3, "p1"))).toBe(0);
  });

  it("puts ZERO_BALLOT below every real ballot", () => {
    for (const ballot of sample.filter((x) => x.round > 0)) {
      expect(compareBallots(ZERO_BALLOT, ballot)).toBeLessThan(0);
      expect(compareBallots(ballot, ZERO_BALLOT)).toBeGreaterThan(0);
    }
    expect(compareBallots(ZERO_BALLOT, b(0, ""))).toBe(0);
    expect(Object.isFrozen(ZERO_BALLOT)).toBe(true);
  });

  it("is antisymmetric, and zero exactly for equal round and proposerId", () => {
    for (const x of sample) {
      for (const y of sample) {
        expect(sign(compareBallots(x, y)) + sign(compareBallots(y, x))).toBe(0);
        expect(compareBallots(x, y) === 0).toBe(x.round === y.round && x.proposerId === y.proposerId);
      }
    }
  });

  it("is transitive", () => {
    for (const x of sample) {
      for (const y of sample) {
        for (const z of sample) {
          if (compareBallots(x, y) <= 0 && compareBallots(y, z) <= 0) {
            expect(compareBallots(x, z)).toBeLessThanOrEqual(0);
          }
        }
      }
    }
  });

  it("agrees with a sort by (round, proposerId)", () => {
    const sorted = [...sample].sort(compareBallots).map(ballotKey);
    expect(sorted).toEqual(["0.", "1.p1", "1.p2", "1.p2", "2.p1", "2.p1-ab12cd34", "9.z", "10.a"]);
  });
});

describe("maxBallot and ballotKey", () => {
  it("maxBallot returns the higher ballot, and the first one on a tie", () => {
    const low = b(1, "p2");
    const high = b(2, "p1");
    expect(maxBallot(low, high)).toBe(high);
    expect(maxBallot(high, low)).toBe(high);
    const twin = b(2, "p1");
    expect(maxBallot(high, twin)).toBe(high);
    expect(maxBallot(twin, high)).toBe(twin);
  });

  it("ballotKey is round.proposerId and distinguishes distinct ballots", () => {
    expect(ballotKey(b(7, "p1-00ff00ff"))).toBe("7.p1-00ff00ff");
    const keys = new Set(sample.map(ballotKey));
    const distinct = new Set(sample.map((x) => `${x.round}/${x.proposerId}`));
    expect(keys.size).toBe(distinct.size);
  });
});
