// The codec at the boundary: every protocol and service message type survives encode → decode
// unchanged, and each hostile input is refused with its own reason and without throwing.
import { DEFAULT_LIMITS, type Message, ROUND_MAX, SLOT_MAX } from "@paxos/core";
import { describe, expect, it } from "vitest";
import { decodeMessage, decodeService, encode, encodeService, type DecodeResult } from "./codec.ts";
import type { ServiceKind, ServiceMessages } from "./schemas.ts";
import { Subjects } from "./subjects.ts";

const CLUSTER = "test";
const subjects = new Subjects(CLUSTER);
const acceptors: ReadonlySet<string> = new Set(["a1", "a2", "a3"]);
const ballot = { round: 7, proposerId: "p1-deadbeef" };
const batch = {
  kind: "batch",
  requests: [
    { id: "r1", payload: { text: "hello", n: [1, 2.5, null, true] } },
    { id: "r2", payload: null },
  ],
} as const;
const noop = { kind: "noop" } as const;
const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const envelope = (msg: unknown, extra: Record<string, unknown> = {}): Uint8Array =>
  bytes(JSON.stringify({ v: 1, cluster: CLUSTER, msg, ...extra }));

/** Every message type, with the subject its publisher sends it on. */
const valid: readonly (readonly [string, Message])[] = [
  [subjects.proposer("p1-deadbeef", "prepare"), { type: "prepare", ballot, fromSlot: 3 }],
  [
    subjects.promise("a1", "p1-deadbeef"),
    {
      type: "promise",
      ballot,
      acceptorId: "a1",
      fromSlot: 0,
      toSlot: null,
      chosenBelow: 0,
      accepted: [{ slot: 3, ballot, value: batch }],
    },
  ],
  [subjects.proposer("p1-deadbeef", "accept"), { type: "accept", ballot, slot: 4, value: batch, chosenBelow: 0 }],
  [subjects.accepted("a2", ballot.proposerId), { type: "accepted", ballot, slot: 4, value: noop, acceptorId: "a2" }],
  [
    subjects.nack("a3", "p1-deadbeef"),
    { type: "nack", ballot, promised: { round: 9, proposerId: "p2-00000000" }, acceptorId: "a3" },
  ],
  [subjects.proposer("p1-deadbeef", "chosen"), { type: "chosen", slot: 4, value: batch }],
  [subjects.learner("l1", "chosen"), { type: "chosen", slot: 5, value: noop }],
  [subjects.proposer("p1-deadbeef", "heartbeat"), { type: "heartbeat", ballot, nextSlot: 9, chosenBelow: 8 }],
  [
    subjects.learner("l1", "catchup"),
    { type: "catchup", learnerId: "l1", fromSlot: 0, toSlot: DEFAULT_LIMITS.catchupSlotsMax, chosenBelow: 0 },
  ],
  [
    subjects.catchupReply("a1", "l1"),
    {
      type: "catchupReply",
      learnerId: "l1",
      acceptorId: "a1",
      fromSlot: 0,
      toSlot: 10,
      chosenBelow: 0,
      accepted: [{ slot: 2, ballot, value: noop }],
    },
  ],
  [subjects.propose("p1-deadbeef"), { type: "propose", proposerId: "p1-deadbeef", request: { id: "r9", payload: 1 } }],
];

const decode = (subject: string, data: Uint8Array): DecodeResult<Message> =>
  decodeMessage(subjects, subject, data, acceptors);

function expectRefused(result: DecodeResult<unknown>, reason: string): void {
  expect(result.ok).toBe(false);
  if (!result.ok) expect(result.reason).toBe(reason);
}

describe("decodeMessage", () => {
  it.each(valid)("accepts a valid message on %s", (subject, msg) => {
    const result = decode(subject, encode(CLUSTER, msg));
    expect(result).toEqual({ ok: true, msg });
  });

  it("covers every message type", () => {
    expect(new Set(valid.map(([, msg]) => msg.type)).size).toBe(10);
  });

  const accepted = (slot: unknown, round: unknown = 1): unknown => ({
    type: "accepted",
    ballot: { round, proposerId: "p1" },
    slot,
    value: noop,
    acceptorId: "a1",
  });
  const acceptedSubject = subjects.accepted("a1", "p1");

  it("refuses oversize bytes before decoding them", () => {
    const big = new Uint8Array(DEFAULT_LIMITS.messageBytesMax + 1).fill(0xff);
    expectRefused(decode(acceptedSubject, big), "tooLarge");
  });

  it("refuses 10,000 levels of nesting without exhausting the stack", () => {
    const deep = `{"v":1,"cluster":"test","msg":${"[".repeat(10_000)}${"]".repeat(10_000)}}`;
    expectRefused(decode(acceptedSubject, bytes(deep)), "tooDeep");
    const unterminated = "[".repeat(10_000);
    expectRefused(decode(acceptedSubject, bytes(unterminated)), "badJson");
    // A whole message's worth of nesting, to the byte limit: refused, not a stack overflow.
    const half = (DEFAULT_LIMITS.messageBytesMax - 100) / 2;
    const deepest = `{"v":1,"cluster":"test","msg":${"[".repeat(half)}${"]".repeat(half)}}`;
    expectRefused(decode(acceptedSubject, bytes(deepest)), "tooDeep");
    const objects = `${'{"a":'.repeat(10_000)}1${"}".repeat(10_000)}`;
    expectRefused(decodeService(CLUSTER, "proposeBatch", bytes(objects)), "tooDeep");
  });

  it("does not count brackets inside strings as nesting", () => {
    const msg: Message = {
      type: "chosen",
      slot: 1,
      value: { kind: "batch", requests: [{ id: "[[[{", payload: "[".repeat(100) }] },
    };
    expect(decode(subjects.learner("l1", "chosen"), encode(CLUSTER, msg)).ok).toBe(true);
  });

  it("refuses rounds and slots that are not integers in [0, 2^52]", () => {
    for (const slot of [1.5, -1, 2 ** 53, SLOT_MAX + 1, "3", null]) {
      expectRefused(decode(acceptedSubject, envelope(accepted(slot))), "schema");
    }
    for (const round of [0.5, -3, 2 ** 53, Number.MAX_SAFE_INTEGER, ROUND_MAX + 1, "1"]) {
      expectRefused(decode(acceptedSubject, envelope(accepted(1, round))), "schema");
    }
    const infinite = JSON.stringify({ v: 1, cluster: CLUSTER, msg: accepted(7) }).replace('"slot":7', '"slot":1e400');
    expectRefused(decode(acceptedSubject, bytes(infinite)), "schema");
    expect(decode(acceptedSubject, envelope(accepted(SLOT_MAX, ROUND_MAX))).ok).toBe(true);
  });

  it("refuses another cluster, another version, an unknown type", () => {
    expectRefused(decode(acceptedSubject, envelope(accepted(1), { cluster: "other" })), "cluster");
    expectRefused(decode(acceptedSubject, envelope(accepted(1), { v: 2 })), "version");
    expectRefused(decode(acceptedSubject, bytes(JSON.stringify({ cluster: CLUSTER, msg: accepted(1) }))), "version");
    expectRefused(decode(acceptedSubject, envelope({ type: "elect", ballot })), "unknownType");
    expectRefused(decode(acceptedSubject, envelope({ type: "__proto__" })), "unknownType");
    expectRefused(decode(acceptedSubject, envelope([1, 2])), "unknownType");
  });

  it("refuses bodies whose ids differ from the subject", () => {
    const [prepareSubject, prepare] = valid[0]!;
    expectRefused(decode(subjects.proposer("p2", "prepare"), encode(CLUSTER, prepare)), "subjectMismatch");
    expectRefused(decode(prepareSubject.replace(".prepare", ".accept"), encode(CLUSTER, prepare)), "subjectMismatch");
    expectRefused(decode(subjects.accepted("a2", "p1"), envelope(accepted(1))), "subjectMismatch");
    // A vote goes to the proposer whose ballot it is, and to no other.
    expectRefused(decode(subjects.accepted("a1", "p2-deadbeef"), envelope(accepted(1))), "subjectMismatch");
    const promise = valid[1]![1];
    expectRefused(decode(subjects.promise("a2", "p1-deadbeef"), encode(CLUSTER, promise)), "subjectMismatch");
    expectRefused(decode(subjects.promise("a1", "p9"), encode(CLUSTER, promise)), "subjectMismatch");
    const catchup = valid[8]![1];
    expectRefused(decode(subjects.learner("l2", "catchup"), encode(CLUSTER, catchup)), "subjectMismatch");
    const reply = valid[9]![1];
    expectRefused(decode(subjects.catchupReply("a1", "l2"), encode(CLUSTER, reply)), "subjectMismatch");
    expectRefused(decode("paxos.v1.other.acceptor.a1.accepted", envelope(accepted(1))), "subjectMismatch");
  });

  it("refuses acceptors that are not configured", () => {
    const msg = { ...(accepted(1) as object), acceptorId: "a9" };
    expectRefused(decode(subjects.accepted("a9", "p1"), envelope(msg)), "unknownAcceptor");
  });

  it("refuses non-JSON bytes and invalid UTF-8", () => {
    expectRefused(decode(acceptedSubject, bytes("{not json")), "badJson");
    expectRefused(decode(acceptedSubject, new Uint8Array([0x7b, 0xc3, 0x28, 0x7d])), "badJson");
    expectRefused(decode(acceptedSubject, new Uint8Array([0xed, 0xa0, 0x80])), "badJson");
    expectRefused(decode(acceptedSubject, new Uint8Array()), "badJson");
  });

  it("refuses schema violations: extra fields, bad ids, bad ranges, oversize arrays", () => {
    expectRefused(decode(acceptedSubject, envelope({ ...(accepted(1) as object), extra: 1 })), "schema");
    expectRefused(decode(acceptedSubject, envelope(accepted(1), { extra: 1 })), "schema");
    expectRefused(decode(acceptedSubject, bytes("null")), "schema");
    const catchup = (fromSlot: number, toSlot: number): Uint8Array =>
      envelope({ type: "catchup", learnerId: "l1", fromSlot, toSlot, chosenBelow: toSlot });
    const catchupSubject = subjects.learner("l1", "catchup");
    expect(decode(catchupSubject, catchup(5, 6)).ok).toBe(true);
    expect(decode(catchupSubject, catchup(0, DEFAULT_LIMITS.catchupSlotsMax)).ok).toBe(true);
    expectRefused(decode(catchupSubject, catchup(5, 5)), "schema");
    expectRefused(decode(catchupSubject, catchup(6, 5)), "schema");
    expectRefused(decode(catchupSubject, catchup(0, DEFAULT_LIMITS.catchupSlotsMax + 1)), "schema");
    const entry = { slot: 1, ballot, value: noop };
    const max = DEFAULT_LIMITS.catchupSlotsMax;
    const reply = (accepted: unknown[], toSlot = max + 44): Uint8Array =>
      envelope({
        type: "catchupReply",
        learnerId: "l1",
        acceptorId: "a1",
        fromSlot: 0,
        toSlot,
        chosenBelow: 0,
        accepted,
      });
    const replySubject = subjects.catchupReply("a1", "l1");
    expect(decode(replySubject, reply([entry], max)).ok).toBe(true);
    expect(decode(replySubject, reply(Array(max).fill(entry), max)).ok).toBe(true);
    expectRefused(decode(replySubject, reply([entry])), "schema");
    expectRefused(decode(replySubject, reply(Array(max + 1).fill(entry), max)), "schema");
    expectRefused(decode(replySubject, reply([{ ...entry, slot: max }], max)), "schema");
    const badId = { ...(accepted(1) as object), ballot: { round: 1, proposerId: "p.1" } };
    expectRefused(decode(acceptedSubject, envelope(badId)), "schema");
    const longRequestId = {
      type: "chosen",
      slot: 1,
      value: { kind: "batch", requests: [{ id: "x".repeat(201), payload: 1 }] },
    };
    expectRefused(decode(subjects.learner("l1", "chosen"), envelope(longRequestId)), "schema");
    const noPayload = { type: "chosen", slot: 1, value: { kind: "batch", requests: [{ id: "r" }] } };
    expectRefused(decode(subjects.learner("l1", "chosen"), envelope(noPayload)), "schema");
  });

  it("never throws, whatever the bytes", () => {
    let seed = 42;
    const next = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    for (let i = 0; i < 500; i++) {
      const data = new Uint8Array(next() % 200).map(() => next() % 256);
      expect(() => decode(acceptedSubject, data)).not.toThrow();
    }
  });
});

describe("decodeService", () => {
  const validServices: { [K in ServiceKind]: ServiceMessages[K][] } = {
    proposeBatch: [
      { proposals: [{ requestId: "r1", payload: { a: [1, "b"] } }] },
      {
        proposals: [
          { requestId: "r1", payload: 1 },
          { requestId: "r2", payload: null },
        ],
      },
    ],
    proposeBatchReply: [
      { replies: [{ status: "queued", leaderHint: null }] },
      {
        replies: [
          { status: "notLeader", leaderHint: "p2-01234567" },
          { status: "tooLarge", leaderHint: "p2-01234567" },
        ],
      },
    ],
    delivered: [
      { learnerId: "l1", deliveries: [{ kind: "delivered", index: 3, slot: 5, requestId: "r1", value: null }] },
      {
        learnerId: "l1",
        deliveries: [
          { kind: "delivered", index: 3, slot: 5, requestId: "r1", value: null },
          { kind: "duplicate", index: 3, slot: 9, requestId: "r1" },
        ],
      },
    ],
    learnerQuery: [
      { op: "entry", index: 0 },
      { op: "range", from: 10, limit: 100 },
      { op: "lookup", requestId: "r1" },
      { op: "status" },
    ],
    learnerReply: [
      { op: "entry", entry: null },
      { op: "range", entries: [{ index: 0, slot: 2, requestId: "r1", value: "x" }], next: 1 },
      { op: "lookup", entry: { index: 0, slot: 2, requestId: "r1", value: 5 } },
      { op: "status", learnerId: "l1", nextIndex: 1, nextSlot: 3, gapSlots: 0 },
    ],
    acceptorStatus: [
      { acceptorId: "a1", promised: { round: 0, proposerId: "" }, acceptedSlots: 0, storage: "ok" },
      { acceptorId: "a1", promised: ballot, acceptedSlots: 12, storage: "unavailable" },
    ],
  };

  for (const kind of Object.keys(validServices) as ServiceKind[]) {
    it(`round-trips valid ${kind} messages`, () => {
      for (const msg of validServices[kind]) {
        expect(decodeService(CLUSTER, kind, encodeService(CLUSTER, kind, msg))).toEqual({ ok: true, msg });
      }
    });
  }

  it("refuses invalid service messages with the right reason", () => {
    const proposals = (...items: unknown[]): Uint8Array => envelope({ proposals: items });
    expectRefused(decodeService(CLUSTER, "proposeBatch", proposals({ requestId: "", payload: 1 })), "schema");
    expectRefused(decodeService(CLUSTER, "proposeBatch", proposals({ requestId: "r" })), "schema");
    expectRefused(decodeService(CLUSTER, "proposeBatch", proposals()), "schema");
    const tooMany = Array.from({ length: DEFAULT_LIMITS.batchRequestsMax + 1 }, (_, i) => ({
      requestId: `r${i}`,
      payload: i,
    }));
    expectRefused(decodeService(CLUSTER, "proposeBatch", proposals(...tooMany)), "schema");
    expectRefused(decodeService(CLUSTER, "proposeBatch", envelope({ requestId: "r", payload: 1 })), "schema");
    expectRefused(
      decodeService(CLUSTER, "proposeBatchReply", envelope({ replies: [{ status: "won", leaderHint: null }] })),
      "schema",
    );
    expectRefused(decodeService(CLUSTER, "proposeBatchReply", envelope({ replies: [] })), "schema");
    expectRefused(
      decodeService(
        CLUSTER,
        "delivered",
        envelope({ learnerId: "l1", deliveries: [{ kind: "delivered", index: 1, slot: 1, requestId: "r" }] }),
      ),
      "schema",
    );
    expectRefused(decodeService(CLUSTER, "delivered", envelope({ learnerId: "l1", deliveries: [] })), "schema");
    expectRefused(decodeService(CLUSTER, "learnerQuery", envelope({ op: "range", from: 0, limit: 0 })), "schema");
    expectRefused(decodeService(CLUSTER, "learnerQuery", envelope({ op: "range", from: 0, limit: 1001 })), "schema");
    expectRefused(decodeService(CLUSTER, "learnerQuery", envelope({ op: "entry", index: -1 })), "schema");
    expectRefused(
      decodeService(
        CLUSTER,
        "acceptorStatus",
        envelope({ acceptorId: "a1", promised: { round: 1, proposerId: "" }, acceptedSlots: 0, storage: "ok" }),
      ),
      "schema",
    );
    expectRefused(decodeService("other", "learnerQuery", envelope({ op: "status" })), "cluster");
    expectRefused(decodeService(CLUSTER, "learnerQuery", bytes("\u0000")), "badJson");
  });
});

describe("decodeMessage under mutation (a seeded fuzz)", () => {
  // Every valid message, mutated many ways (bytes flipped, cut short, fields replaced with odd
  // JSON), must decode to a result, never throw, and never yield a message that fails to
  // re-encode to itself.
  it("never throws, and whatever it accepts round-trips", () => {
    let state = 0x9e3779b9;
    const random = (n: number): number => {
      state = (Math.imul(state ^ (state >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
      return state % n;
    };
    const odd: unknown[] = [null, -1, 1.5, 2 ** 53, "", "x".repeat(300), [], {}, [[[[]]]], true, { v: 1 }];
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      const [subject, msg] = valid[random(valid.length)]!;
      let data = encode(CLUSTER, msg);
      switch (random(4)) {
        case 0: {
          data = data.slice();
          for (let flips = 1 + random(3); flips > 0; flips--) data[random(data.length)] = random(256);
          break;
        }
        case 1:
          data = data.slice(0, random(data.length));
          break;
        case 2: {
          const keys = Object.keys(msg);
          const mutated = { ...msg, [keys[random(keys.length)]!]: odd[random(odd.length)] };
          data = encode(CLUSTER, mutated);
          break;
        }
        default:
          break;
      }
      const result = decode(subject, data);
      // The decoder's last-resort catch must never be what refused the input.
      if (!result.ok) expect(result.detail).not.toMatch(/^decoder error/);
      if (result.ok) {
        accepted++;
        expect(decode(subject, encode(CLUSTER, result.msg))).toEqual(result);
      }
    }
    expect(accepted).toBeGreaterThan(1_000);
  });
});
