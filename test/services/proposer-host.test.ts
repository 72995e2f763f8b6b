// ProposerHost runs the core proposer on a tick timer with an injected clock, answers client
// requests at once (queued while leading, the core's reason otherwise), sends every step's
// messages, and stops fatally on a broken invariant. Driven through a fake Transport.
import { type AcceptMsg, type Ballot, InvariantViolation } from "@paxos/core";
import { createRegistry, EXIT_CODES, newProposerId, ProposerHost } from "@paxos/host";
import { describe, expect, it } from "vitest";
import { FakeTransport, silentLogger, until } from "./support/fakes.ts";

function setup() {
  let nowMs = 0;
  const transport = new FakeTransport();
  const fatal: { error: unknown; exitCode: number }[] = [];
  const host = new ProposerHost({
    proposerId: "p1-0000abcd",
    acceptorIds: ["a1", "a2", "a3"],
    transport,
    logger: silentLogger(),
    registry: createRegistry(false),
    onFatal: (error, exitCode) => fatal.push({ error, exitCode }),
    // Virtual time for the core, real timers for the ticks.
    clock: {
      now: () => nowMs,
      setTimer: (delayMs, fn) => {
        const timer = setTimeout(fn, delayMs);
        return { cancel: () => clearTimeout(timer) };
      },
    },
    random: () => 0,
    hostLimits: { proposerTickIntervalMs: 2 },
  });
  return { host, transport, fatal, advance: (ms: number) => (nowMs += ms) };
}

/** Lets the host's ticks elect it: timeout, prepare, then promises from a1 and a2. */
async function elect(s: ReturnType<typeof setup>): Promise<Ballot> {
  s.host.start();
  s.advance(1_000);
  await until(() => s.transport.published.some((p) => p.msg.type === "prepare"));
  const prepare = s.transport.published.find((p) => p.msg.type === "prepare")?.msg;
  if (prepare?.type !== "prepare") throw new Error("no prepare");
  for (const acceptorId of ["a1", "a2"]) {
    s.transport.deliver({
      type: "promise",
      ballot: prepare.ballot,
      acceptorId,
      fromSlot: 0,
      toSlot: null,
      chosenBelow: 0,
      accepted: [],
    });
  }
  expect(s.host.role).toBe("leader");
  return prepare.ballot;
}

describe("ProposerHost", () => {
  it("draws a fresh 8-hex nonce for every proposer id", () => {
    const ids = new Set([newProposerId("p1"), newProposerId("p1"), newProposerId("p1")]);
    expect(ids.size).toBe(3);
    for (const id of ids) expect(id).toMatch(/^p1-[0-9a-f]{8}$/);
  });

  it("turns requests away while following, and is not ready until a leader is known", () => {
    const s = setup();
    s.host.start();
    expect(s.host.propose({ requestId: "r1", payload: 1 })).toEqual({ status: "notLeader", leaderHint: null });
    expect(s.host.readiness().ready).toBe(false);
    s.host.stop();
  });

  it("leads after a quorum of promises, queues a request and announces it chosen", async () => {
    const s = setup();
    const ballot = await elect(s);
    expect(s.host.readiness().ready).toBe(true);
    expect(s.host.propose({ requestId: "r1", payload: "v" })).toEqual({ status: "queued", leaderHint: "p1-0000abcd" });
    const accept = s.transport.published.find((p) => p.msg.type === "accept")?.msg as AcceptMsg | undefined;
    expect(accept).toMatchObject({ ballot, value: { kind: "batch", requests: [{ id: "r1", payload: "v" }] } });
    if (accept === undefined) throw new Error("no accept");
    for (const acceptorId of ["a1", "a2"]) {
      s.transport.deliver({ type: "accepted", ballot, slot: accept.slot, value: accept.value, acceptorId });
    }
    expect(s.transport.published.map((p) => p.msg.type)).toContain("chosen");
    expect(s.host.propose({ requestId: "x".repeat(10), payload: "y".repeat(70_000) })).toMatchObject({
      status: "tooLarge",
    });
    s.host.stop();
  });

  it("stops fatally (exit code 70) when an acceptor reports another value at its ballot", async () => {
    const s = setup();
    const ballot = await elect(s);
    s.host.propose({ requestId: "r1", payload: "v" });
    const accept = s.transport.published.find((p) => p.msg.type === "accept")?.msg as AcceptMsg | undefined;
    if (accept === undefined) throw new Error("no accept");
    s.transport.deliver({ type: "accepted", ballot, slot: accept.slot, value: { kind: "noop" }, acceptorId: "a1" });
    expect(s.fatal).toHaveLength(1);
    expect(s.fatal[0]?.error).toBeInstanceOf(InvariantViolation);
    expect(s.fatal[0]?.exitCode).toBe(EXIT_CODES.invariant);
    expect(s.host.readiness().ready).toBe(false);
    s.host.stop();
  });
});
