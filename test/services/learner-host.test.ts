// LearnerHost delivers what it learns at once, and appends it to its store behind: a learned slot
// is already on the disks of a majority of acceptors. A failed append is retried on a fresh
// store; a restart rebuilds the log without delivering again, and one that lost its last appends
// delivers them again at the same indices, and does not call an index undecided until it has
// caught up with a leader's heartbeat; a value from
// outside that conflicts with the votes or the log is refused as an alert (counted, logged at
// error) while the learner learns on; and two values for one slot in its own stored log stop the
// process. Driven through a fake Transport and a controlled store.
import { type Ballot, InvariantViolation, type Message, type SlotValue } from "@paxos/core";
import { createRegistry, EXIT_CODES, LearnerHost } from "@paxos/host";
import type { Delivered } from "@paxos/wire";
import { describe, expect, it } from "vitest";
import { ControlledLearnerStores, FakeTransport, until } from "./support/fakes.ts";
import { conflictAlerts, droppedTotal, recordingLogger } from "./support/host-observation.ts";

const ballot: Ballot = { round: 1, proposerId: "p1-00000000" };
const batch = (...ids: string[]): SlotValue => ({
  kind: "batch",
  requests: ids.map((id) => ({ id, payload: `v-${id}` })),
});
const accepted = (acceptorId: string, slot: number, value: SlotValue): Message => ({
  type: "accepted",
  ballot,
  slot,
  value,
  acceptorId,
});

function setup(stores = new ControlledLearnerStores()) {
  const transport = new FakeTransport();
  const delivered: Delivered[] = [];
  const fatal: { error: unknown; exitCode: number }[] = [];
  const registry = createRegistry(false);
  const { logger, records: logs } = recordingLogger("learner", "l1");
  const host = new LearnerHost({
    learnerId: "l1",
    acceptorIds: ["a1", "a2", "a3"],
    createStore: () => stores.create(),
    transport,
    logger,
    registry,
    publishDelivered: (deliveries) => delivered.push(...deliveries),
    onFatal: (error, exitCode) => fatal.push({ error, exitCode }),
    hostLimits: { learnerAppendRetryMaxMs: 20 },
  });
  return { stores, transport, delivered, fatal, host, registry, logs };
}

describe("LearnerHost", () => {
  it("publishes a delivery and answers queries about it while its append is still on its way", async () => {
    const { stores, transport, delivered, host } = setup();
    await host.start();
    stores.gate.close();
    transport.deliver(accepted("a1", 0, batch("r1")));
    transport.deliver(accepted("a2", 0, batch("r1")));
    await until(() => delivered.length === 1);
    expect(stores.slots).toEqual([]);
    expect(host.readiness().detail).toMatchObject({ nextIndex: 1, durableIndex: 0 });
    stores.gate.open();
    await until(() => stores.slots.length === 1);
    expect(host.readiness().detail).toMatchObject({ nextIndex: 1, durableIndex: 1 });
    expect(delivered[0]).toEqual({
      kind: "delivered",
      index: 0,
      slot: 0,
      requestId: "r1",
      value: "v-r1",
    });
    expect(stores.slots).toHaveLength(1);
    const entry = { index: 0, slot: 0, requestId: "r1", value: "v-r1" };
    expect(host.query({ op: "entry", index: 0 })).toEqual({ op: "entry", entry });
    expect(host.query({ op: "lookup", requestId: "r1" })).toEqual({ op: "lookup", entry });
    expect(host.query({ op: "range", from: 0, limit: 10 })).toEqual({ op: "range", entries: [entry], next: 1 });
    expect(host.query({ op: "status" })).toEqual({
      op: "status",
      learnerId: "l1",
      nextIndex: 1,
      nextSlot: 1,
      gapSlots: 0,
    });
    await host.stop();
  });

  it("reports a request chosen twice as a duplicate with its first index", async () => {
    const { transport, delivered, host } = setup();
    await host.start();
    transport.deliver({ type: "chosen", slot: 0, value: batch("r1", "r2") });
    transport.deliver({ type: "chosen", slot: 1, value: { kind: "noop" } });
    transport.deliver({ type: "chosen", slot: 2, value: batch("r2", "r3") });
    await until(() => delivered.length === 4);
    expect(delivered.map((d) => [d.kind, d.requestId, d.index])).toEqual([
      ["delivered", "r1", 0],
      ["delivered", "r2", 1],
      ["duplicate", "r2", 1],
      ["delivered", "r3", 2],
    ]);
    await host.stop();
  });

  it("retries a failed append on a fresh store, and is not ready meanwhile", async () => {
    const { stores, transport, delivered, host } = setup();
    await host.start();
    stores.failAppends = true;
    transport.deliver({ type: "chosen", slot: 0, value: batch("r1") });
    await until(() => !host.readiness().ready);
    expect(delivered).toHaveLength(1);
    stores.failAppends = false;
    await until(() => stores.slots.length === 1);
    expect(stores.created).toBeGreaterThan(1);
    expect(host.readiness().ready).toBe(true);
    await host.stop();
  });

  it("rebuilds its log from the store on restart without delivering again", async () => {
    const stores = new ControlledLearnerStores();
    const first = setup(stores);
    await first.host.start();
    first.transport.deliver({ type: "chosen", slot: 0, value: batch("r1") });
    first.transport.deliver({ type: "chosen", slot: 1, value: batch("r2") });
    await until(() => first.delivered.length === 2 && stores.slots.length === 2);
    await first.host.stop();

    const second = setup(stores);
    await second.host.start();
    expect(second.host.query({ op: "status" })).toMatchObject({ nextIndex: 2, nextSlot: 2 });
    expect(second.host.query({ op: "lookup", requestId: "r2" })).toMatchObject({ entry: { index: 1, slot: 1 } });
    second.transport.deliver({ type: "chosen", slot: 2, value: batch("r1") });
    await until(() => second.delivered.length === 1);
    expect(second.delivered[0]).toMatchObject({ kind: "duplicate", requestId: "r1", index: 0, slot: 2 });
    await second.host.stop();
  });

  it("after losing its last appends, delivers them again at the same indices and waits for a heartbeat before calling an index undecided", async () => {
    const stores = new ControlledLearnerStores();
    const first = setup(stores);
    await first.host.start();
    first.transport.deliver({ type: "chosen", slot: 0, value: batch("r1") });
    await until(() => stores.slots.length === 1);
    // A crash before the next append lands: it was delivered, never stored.
    stores.failAppends = true;
    first.transport.deliver({ type: "chosen", slot: 1, value: batch("r2", "r3") });
    await until(() => first.delivered.length === 3 && !first.host.readiness().ready);
    await first.host.stop();
    stores.failAppends = false;

    const second = setup(stores);
    await second.host.start();
    expect(second.host.query({ op: "status" })).toMatchObject({ nextIndex: 1, nextSlot: 1 });
    expect(second.host.query({ op: "entry", index: 0 })).toMatchObject({ entry: { requestId: "r1" } });
    // Index 1 was delivered before the crash: until the learner has caught up it does not answer.
    expect(second.host.query({ op: "entry", index: 1 })).toBeNull();
    const heartbeat: Message = { type: "heartbeat", ballot, nextSlot: 2, chosenBelow: 2 };
    second.transport.deliver(heartbeat);
    await until(() => second.transport.published.some((sent) => sent.msg.type === "catchup"));
    expect(second.host.query({ op: "entry", index: 1 })).toBeNull();
    // What catch-up brings is delivered again, where it was.
    second.transport.deliver({ type: "chosen", slot: 1, value: batch("r2", "r3") });
    await until(() => second.delivered.length === 2);
    expect(second.delivered.map((d) => [d.requestId, d.index])).toEqual([
      ["r2", 1],
      ["r3", 2],
    ]);
    expect(first.delivered.slice(1).map((d) => [d.requestId, d.index])).toEqual([
      ["r2", 1],
      ["r3", 2],
    ]);
    second.transport.deliver(heartbeat);
    await until(() => second.host.readiness().detail["caughtUp"] === true);
    expect(second.host.query({ op: "entry", index: 3 })).toEqual({ op: "entry", entry: null });
    await second.host.stop();
  });

  it("refuses values that conflict with its votes or its log as an alert, and learns the real one", async () => {
    const { stores, transport, fatal, delivered, host, registry, logs } = setup();
    await host.start();
    const real = batch("r1");
    const forged = batch("forged");
    transport.deliver(accepted("a1", 0, real));
    // Another value at the same ballot: kept apart, so it neither borrows a1's vote nor is learned.
    transport.deliver(accepted("a2", 0, forged));
    transport.deliver(accepted("a3", 0, real));
    await until(() => delivered.length === 1 || fatal.length > 0);
    expect(fatal).toEqual([]);
    expect(await droppedTotal(registry, "conflict")).toBe(1);
    // A chosen message contradicting what was learned.
    transport.deliver({ type: "chosen", slot: 0, value: forged });
    transport.deliver({ type: "chosen", slot: 1, value: batch("r2") });
    await until(() => delivered.length === 2 || fatal.length > 0);
    expect(fatal).toEqual([]);

    expect(delivered.map((d) => [d.kind, d.requestId, d.index, d.slot])).toEqual([
      ["delivered", "r1", 0, 0],
      ["delivered", "r2", 1, 1],
    ]);
    expect(await droppedTotal(registry, "conflict")).toBeGreaterThanOrEqual(2);
    expect(conflictAlerts(logs).length).toBeGreaterThanOrEqual(1);
    expect(fatal).toEqual([]);
    expect(host.readiness().ready).toBe(true);
    // The forged value is neither stored nor served.
    expect(stores.slots).toEqual([
      [0, real],
      [1, batch("r2")],
    ]);
    expect(host.query({ op: "entry", index: 0 })).toEqual({
      op: "entry",
      entry: { index: 0, slot: 0, requestId: "r1", value: "v-r1" },
    });
    expect(host.query({ op: "lookup", requestId: "forged" })).toEqual({ op: "lookup", entry: null });
    expect(host.query({ op: "range", from: 0, limit: 10 })).toMatchObject({ next: 2 });
    expect(JSON.stringify(host.query({ op: "range", from: 0, limit: 10 }))).not.toContain("forged");
    await host.stop();
  });

  it("stops fatally (exit code 70) when its own stored log holds two values for one slot", async () => {
    const stores = new ControlledLearnerStores();
    stores.slots.push([0, batch("r1")], [0, batch("other")]);
    const { fatal, delivered, host } = setup(stores);
    await expect(host.start()).rejects.toBeInstanceOf(InvariantViolation);
    expect(fatal).toHaveLength(1);
    expect(fatal[0]?.error).toBeInstanceOf(InvariantViolation);
    expect(fatal[0]?.exitCode).toBe(EXIT_CODES.invariant);
    expect(delivered).toEqual([]);
    expect(host.readiness().ready).toBe(false);
    await host.stop();
  });
});
