// Subjects: every builder's output parses back to the publisher, kind and target it was built
// from; wildcards match exactly the subjects they should (by NATS rules); bad ids throw WireError.
import { describe, expect, it } from "vitest";
import { subjectMatches } from "./bus.ts";
import { WireError } from "./ids.ts";
import { Subjects } from "./subjects.ts";

const s = new Subjects("prod-1");

describe("Subjects", () => {
  it("builds subjects under the versioned cluster prefix", () => {
    expect(s.prefix).toBe("paxos.v1.prod-1");
    expect(s.proposer("p1-0a1b2c3d", "prepare")).toBe("paxos.v1.prod-1.proposer.p1-0a1b2c3d.prepare");
    expect(s.promise("a1", "p1")).toBe("paxos.v1.prod-1.acceptor.a1.promise.p1");
    expect(s.nack("a1", "p1")).toBe("paxos.v1.prod-1.acceptor.a1.nack.p1");
    expect(s.accepted("a1", "p1")).toBe("paxos.v1.prod-1.acceptor.a1.accepted.p1");
    expect(s.catchupReply("a1", "l1")).toBe("paxos.v1.prod-1.acceptor.a1.catchupReply.l1");
    expect(s.status("a1")).toBe("paxos.v1.prod-1.acceptor.a1.status");
    expect(s.learner("l1", "catchup")).toBe("paxos.v1.prod-1.learner.l1.catchup");
    expect(s.learner("l1", "chosen")).toBe("paxos.v1.prod-1.learner.l1.chosen");
    expect(s.learner("l1", "delivered")).toBe("paxos.v1.prod-1.learner.l1.delivered");
    expect(s.propose("p1")).toBe("paxos.v1.prod-1.propose.p1");
    expect(s.learnersQuery()).toBe("paxos.v1.prod-1.learners.query");
  });

  it("parses every built subject back to its parts", () => {
    const cases = [
      [s.proposer("p1", "prepare"), { publisherRole: "proposer", publisherId: "p1", kind: "prepare", targetId: null }],
      [s.proposer("p1", "accept"), { publisherRole: "proposer", publisherId: "p1", kind: "accept", targetId: null }],
      [s.proposer("p1", "chosen"), { publisherRole: "proposer", publisherId: "p1", kind: "chosen", targetId: null }],
      [
        s.proposer("p1", "heartbeat"),
        { publisherRole: "proposer", publisherId: "p1", kind: "heartbeat", targetId: null },
      ],
      [s.promise("a1", "p1"), { publisherRole: "acceptor", publisherId: "a1", kind: "promise", targetId: "p1" }],
      [s.nack("a1", "p1"), { publisherRole: "acceptor", publisherId: "a1", kind: "nack", targetId: "p1" }],
      [s.accepted("a1", "p1"), { publisherRole: "acceptor", publisherId: "a1", kind: "accepted", targetId: "p1" }],
      [
        s.catchupReply("a1", "l1"),
        { publisherRole: "acceptor", publisherId: "a1", kind: "catchupReply", targetId: "l1" },
      ],
      [s.status("a1"), { publisherRole: "acceptor", publisherId: "a1", kind: "status", targetId: null }],
      [s.learner("l1", "catchup"), { publisherRole: "learner", publisherId: "l1", kind: "catchup", targetId: null }],
      [s.learner("l1", "chosen"), { publisherRole: "learner", publisherId: "l1", kind: "chosen", targetId: null }],
      [
        s.learner("l1", "delivered"),
        { publisherRole: "learner", publisherId: "l1", kind: "delivered", targetId: null },
      ],
      [s.propose("p1"), { publisherRole: "gateway", publisherId: null, kind: "propose", targetId: "p1" }],
      [s.learnersQuery(), { publisherRole: "gateway", publisherId: null, kind: "learnersQuery", targetId: null }],
    ] as const;
    for (const [subject, parts] of cases) expect(s.parse(subject)).toEqual(parts);
  });

  it("parses nothing of another cluster, version or shape", () => {
    for (const subject of [
      "paxos.v1.other.acceptor.a1.accepted",
      "paxos.v2.prod-1.acceptor.a1.accepted",
      "paxos.v1.prod-1",
      "paxos.v1.prod-1.",
      "paxos.v1.prod-1.acceptor.a1",
      "paxos.v1.prod-1.acceptor.a1.accepted",
      "paxos.v1.prod-1.acceptor.a1.accepted.p1.extra",
      "paxos.v1.prod-1.acceptor.a1.promise",
      "paxos.v1.prod-1.acceptor.*.accepted.p1",
      "paxos.v1.prod-1.acceptor.a1.accepted.*",
      "paxos.v1.prod-1.acceptor.a1.promise.*",
      "paxos.v1.prod-1.proposer.p1.promise",
      "paxos.v1.prod-1.proposer.p1.prepare.x",
      "paxos.v1.prod-1.learner.l1.accepted",
      "paxos.v1.prod-1.propose",
      "paxos.v1.prod-1.learners.other",
      "paxos.v1.prod-1.gateway.g1.prepare",
    ]) {
      expect(s.parse(subject), subject).toBeNull();
    }
  });

  it("gives each role wildcards that match exactly what it should receive", () => {
    expect(subjectMatches(s.allProposers("prepare"), s.proposer("p9", "prepare"))).toBe(true);
    expect(subjectMatches(s.allProposers("prepare"), s.proposer("p9", "accept"))).toBe(false);
    expect(subjectMatches(s.promisesTo("p1"), s.promise("a3", "p1"))).toBe(true);
    expect(subjectMatches(s.promisesTo("p1"), s.promise("a3", "p2"))).toBe(false);
    expect(subjectMatches(s.nacksTo("p1"), s.nack("a3", "p1"))).toBe(true);
    expect(subjectMatches(s.nacksTo("p1"), s.promise("a3", "p1"))).toBe(false);
    expect(subjectMatches(s.allAccepted(), s.accepted("a2", "p1"))).toBe(true);
    expect(subjectMatches(s.acceptedFor("p1"), s.accepted("a2", "p1"))).toBe(true);
    expect(subjectMatches(s.acceptedFor("p1"), s.accepted("a2", "p2"))).toBe(false);
    expect(subjectMatches(s.allAccepted(), s.status("a2"))).toBe(false);
    expect(subjectMatches(s.catchupRepliesTo("l1"), s.catchupReply("a1", "l1"))).toBe(true);
    expect(subjectMatches(s.catchupRepliesTo("l1"), s.catchupReply("a1", "l2"))).toBe(false);
    expect(subjectMatches(s.allStatus(), s.status("a1"))).toBe(true);
    expect(subjectMatches(s.allLearners("chosen"), s.learner("l2", "chosen"))).toBe(true);
    expect(subjectMatches(s.allLearners("chosen"), s.proposer("l2", "chosen"))).toBe(false);
    expect(subjectMatches(s.allLearners("delivered"), s.learner("l2", "delivered"))).toBe(true);
  });

  it("throws WireError on ids that are not subject-safe", () => {
    for (const bad of ["", "a.b", "a*", ">", "a b", "é", "x".repeat(65)]) {
      expect(() => new Subjects(bad)).toThrow(WireError);
      expect(() => s.proposer(bad, "prepare")).toThrow(WireError);
      expect(() => s.promise("a1", bad)).toThrow(WireError);
      expect(() => s.accepted(bad, "p1")).toThrow(WireError);
      expect(() => s.accepted("a1", bad)).toThrow(WireError);
      expect(() => s.catchupReply("a1", bad)).toThrow(WireError);
      expect(() => s.learner(bad, "catchup")).toThrow(WireError);
      expect(() => s.propose(bad)).toThrow(WireError);
      expect(() => s.promisesTo(bad)).toThrow(WireError);
    }
    expect(s.proposer("x".repeat(64), "prepare")).toContain("x".repeat(64));
  });

  it("templates every subject to the wildcard of its kind, which matches it", () => {
    const cases = [
      [s.proposer("p1-0a1b2c3d", "accept"), "paxos.v1.prod-1.proposer.*.accept"],
      [s.promise("a1", "p1-0a1b2c3d"), "paxos.v1.prod-1.acceptor.*.promise.*"],
      [s.accepted("a2", "p1"), "paxos.v1.prod-1.acceptor.*.accepted.*"],
      [s.catchupReply("a1", "l1"), "paxos.v1.prod-1.acceptor.*.catchupReply.*"],
      [s.learner("l1", "delivered"), "paxos.v1.prod-1.learner.*.delivered"],
      [s.propose("p2-00000000"), "paxos.v1.prod-1.propose.*"],
      [s.learnersQuery(), "paxos.v1.prod-1.learners.query"],
    ] as const;
    for (const [subject, template] of cases) {
      expect(s.template(subject)).toBe(template);
      expect(subjectMatches(template, subject)).toBe(true);
    }
    expect(s.template("_INBOX.abc.def")).toBe("other");
    expect(s.template("paxos.v1.other.acceptor.a1.accepted")).toBe("other");
  });
});

describe("subjectMatches", () => {
  it("follows NATS wildcard rules", () => {
    expect(subjectMatches("a.b.c", "a.b.c")).toBe(true);
    expect(subjectMatches("a.b.c", "a.b")).toBe(false);
    expect(subjectMatches("a.b", "a.b.c")).toBe(false);
    expect(subjectMatches("a.*.c", "a.x.c")).toBe(true);
    expect(subjectMatches("a.*.c", "a.x.y.c")).toBe(false);
    expect(subjectMatches("a.>", "a.b")).toBe(true);
    expect(subjectMatches("a.>", "a.b.c.d")).toBe(true);
    expect(subjectMatches("a.>", "a")).toBe(false);
    expect(subjectMatches(">", "a")).toBe(true);
    expect(subjectMatches("*", "a.b")).toBe(false);
  });
});
