// ProposerHost runs the core proposer on a tick timer with an injected clock, answers client
// requests at once (queued while leading, the core's reason otherwise), sends every step's
// messages, and refuses a vote for another value at its ballot as an alert (counted, logged at
// error) without counting it or stopping. Driven through a fake Transport.
import type { AcceptMsg, Ballot } from "@paxos/core";
import { createRegistry, newProposerId, ProposerHost } from "@paxos/host";
import { describe, expect, it } from "vitest";
import { FakeTransport, until } from "./support/fakes.ts";
import { conflictAlerts, droppedTotal, recordingLogger } from "./support/host-observation.ts";

function setup() {
  let nowMs = 0;
  const transport = new FakeTransport();
  const fatal: { error: unknown; exitCode: number }[] = [];
  const registry = createRegistry(false);
  const { logger, records: logs } = recordingLogger("proposer", "p1");
  const host = new ProposerHost({
    proposerId: "p1-0000abcd",
    acceptorIds: ["a1", "a2", "a3"],
    transport,
    logger,
    registry,
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
  return { host, transport, fatal, registry, logs, advance: (ms: number) => (nowMs += ms) };
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

  it("does not count a vote for another value at its ballot: an alert, and it still decides", async () => {
    const s = setup();
    const ballot = await elect(s);
    s.host.propose({ requestId: "r1", payload: "v" });
    const accept = s.transport.published.find((p) => p.msg.type === "accept")?.msg as AcceptMsg | undefined;
    if (accept === undefined) throw new Error("no accept");
    const chosen = () => s.transport.published.filter((p) => p.msg.type === "chosen").map((p) => p.msg);
    // A forged vote from a1 for a value this leader never proposed at its ballot.
    s.transport.deliver({ type: "accepted", ballot, slot: accept.slot, value: { kind: "noop" }, acceptorId: "a1" });
    expect(await droppedTotal(s.registry, "conflict")).toBeGreaterThanOrEqual(1);
    const alerts = conflictAlerts(s.logs);
    expect(alerts).toHaveLength(1);
    expect(String(alerts[0]?.["detail"])).toMatch(/acceptor a1 voted another value at our ballot/);
    expect(s.fatal).toEqual([]);
    expect(s.host.role).toBe("leader");
    expect(s.host.readiness().ready).toBe(true);

    // Had the forged vote counted, a2's real one would make a majority.
    s.transport.deliver({ type: "accepted", ballot, slot: accept.slot, value: accept.value, acceptorId: "a2" });
    expect(chosen()).toEqual([]);
    // a1's real vote still counts: the proposal is decided, with its own value.
    s.transport.deliver({ type: "accepted", ballot, slot: accept.slot, value: accept.value, acceptorId: "a1" });
    expect(chosen()).toEqual([{ type: "chosen", slot: accept.slot, value: accept.value }]);
    expect(s.fatal).toEqual([]);
    s.host.stop();
  });
});
