// Proves the majority rule of QuorumConfig: only distinct, configured acceptor ids count, so any
// two quorums share an acceptor ("Paxos Made Simple", 2.2). Checks sizes, members and bad configs.
import { describe, expect, it } from "vitest";
import { InvariantViolation } from "./invariant.ts";
import { QuorumConfig } from "./quorum.ts";

describe("QuorumConfig (Paxos Made Simple 2.2: any two majorities intersect)", () => {
  it("needs a strict majority of the configured acceptors", () => {
    expect(new QuorumConfig(["a1"]).size).toBe(1);
    expect(new QuorumConfig(["a1", "a2"]).size).toBe(2);
    expect(new QuorumConfig(["a1", "a2", "a3"]).size).toBe(2);
    expect(new QuorumConfig(["a1", "a2", "a3", "a4"]).size).toBe(3);
    expect(new QuorumConfig(["a1", "a2", "a3", "a4", "a5"]).size).toBe(3);
  });

  it("counts only configured ids toward a quorum", () => {
    const quorum = new QuorumConfig(["a1", "a2", "a3"]);
    expect(quorum.isQuorum(new Set(["a1"]))).toBe(false);
    expect(quorum.isQuorum(new Set(["a1", "x9"]))).toBe(false);
    expect(quorum.isQuorum(new Set(["x1", "x2", "x3", "a2"]))).toBe(false);
    expect(quorum.isQuorum(new Set(["a1", "a3"]))).toBe(true);
    expect(quorum.isMember("a2")).toBe(true);
    expect(quorum.isMember("a4")).toBe(false);
  });

  it("refuses duplicate, empty or missing acceptor ids", () => {
    expect(() => new QuorumConfig(["a1", "a1", "a2"])).toThrow(InvariantViolation);
    expect(() => new QuorumConfig(["a1", ""])).toThrow(InvariantViolation);
    expect(() => new QuorumConfig([])).toThrow(InvariantViolation);
  });
});
