// AcceptorHost keeps the acceptor's durability contract: a reply leaves only after its write and
// every earlier one are stored, writes are pipelined but replies keep their order (or go one at a
// time with acceptorWritesInFlightMax 1), a failed write sends nothing and the host re-opens
// a fresh store and rebuilds from it, and a storage refusal is fatal. A conflicting value from
// outside is refused as an alert (counted, logged at error) while the acceptor votes on; only its
// own restored state breaking an invariant is fatal. Driven through a fake Transport and memory
// stores whose writes the test holds back or fails.
import { type AcceptMsg, AcceptorStoreError, type Ballot, InvariantViolation, type Message } from "@paxos/core";
import { AcceptorHost, createRegistry, EXIT_CODES } from "@paxos/host";
import type { AcceptorStatus } from "@paxos/wire";
import { describe, expect, it } from "vitest";
import { ControlledAcceptorStores, FakeTransport, silentLogger, until } from "./support/fakes.ts";
import { conflictAlerts, droppedTotal, recordingLogger } from "./support/host-observation.ts";

const ballot = (round: number, proposerId = "p1-00000000"): Ballot => ({ round, proposerId });
const prepare = (round: number): Message => ({ type: "prepare", ballot: ballot(round), fromSlot: 0 });
const accept = (round: number, slot: number): AcceptMsg => ({
  type: "accept",
  ballot: ballot(round),
  slot,
  value: { kind: "batch", requests: [{ id: `r${slot}`, payload: slot }] },
  chosenBelow: 0,
});

function setup(overrides: { queueMessagesMax?: number; writesInFlightMax?: number } = {}) {
  const stores = new ControlledAcceptorStores();
  const transport = new FakeTransport();
  const fatal: { error: unknown; exitCode: number }[] = [];
  const statuses: AcceptorStatus[] = [];
  const registry = createRegistry(false);
  const { logger, records: logs } = recordingLogger("acceptor", "a1");
  const host = new AcceptorHost({
    acceptorId: "a1",
    createStore: ({ firstOpen }) => stores.create("a1", firstOpen),
    transport,
    logger,
    registry,
    publishStatus: (status) => statuses.push(status),
    onFatal: (error, exitCode) => fatal.push({ error, exitCode }),
    statusIntervalMs: 20,
    hostLimits: {
      storeReopenBackoffMinMs: 5,
      storeReopenBackoffMaxMs: 20,
      ...(overrides.queueMessagesMax === undefined ? {} : { acceptorQueueMessagesMax: overrides.queueMessagesMax }),
      ...(overrides.writesInFlightMax === undefined ? {} : { acceptorWritesInFlightMax: overrides.writesInFlightMax }),
    },
  });
  return { stores, transport, fatal, statuses, host, registry, logs };
}

describe("AcceptorHost", () => {
  it("sends a promise only once its write is stored", async () => {
    const { stores, transport, host } = setup();
    await host.start();
    stores.gate.close();
    transport.deliver(prepare(1));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(transport.published).toEqual([]);
    stores.gate.open();
    await until(() => transport.published.length === 1);
    expect(transport.published[0]?.msg).toMatchObject({ type: "promise", ballot: ballot(1), acceptorId: "a1" });
    expect(stores.storage.state.promised).toEqual(ballot(1));
    await host.stop();
  });

  it("with one write in flight at most, steps messages one at a time: the second waits for the first write", async () => {
    const { stores, transport, host } = setup({ writesInFlightMax: 1 });
    await host.start();
    stores.gate.close();
    transport.deliver(prepare(1));
    transport.deliver(accept(1, 0));
    await new Promise((resolve) => setTimeout(resolve, 20));
    // Only the prepare's write has started; the accept is not stepped yet.
    expect(stores.writes).toEqual([]);
    stores.gate.open();
    await until(() => transport.published.length === 2);
    expect(transport.published.map((p) => p.msg.type)).toEqual(["promise", "accepted"]);
    expect(stores.writes.map((w) => w.accept?.slot ?? null)).toEqual([null, 0]);
    await host.stop();
  });

  it("pipelines writes, and sends every reply after its own write and every earlier one, in order", async () => {
    const { stores, transport, host, registry } = setup();
    await host.start();
    stores.gate.close();
    transport.deliver(prepare(3));
    // Needs no write, but its nack reveals the promise of 3, which is not on disk yet: it waits.
    transport.deliver(accept(2, 0));
    transport.deliver(accept(3, 0));
    transport.deliver(accept(3, 1));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(transport.published).toEqual([]);
    // Three writes were issued without waiting for one another.
    expect(await registry.metrics()).not.toMatch(/reason="queueFull"/);
    stores.gate.open();
    await until(() => transport.published.length === 4);
    expect(transport.published.map((p) => p.msg.type)).toEqual(["promise", "nack", "accepted", "accepted"]);
    expect(stores.writes.map((w) => w.accept?.slot ?? null)).toEqual([null, 0, 1]);
    await host.stop();
  });

  it("sends none of the later replies when an earlier pipelined write fails", async () => {
    const { stores, transport, host } = setup();
    await host.start();
    transport.deliver(prepare(1));
    await until(() => transport.published.length === 1);
    stores.gate.close();
    stores.failWrites = true;
    transport.deliver(accept(1, 0));
    transport.deliver(accept(1, 1));
    stores.gate.open();
    await until(() => !host.voting);
    stores.failWrites = false;
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(transport.published.map((p) => p.msg.type)).toEqual(["promise"]);
    await host.stop();
  });

  it("after a failed write sends nothing, stops voting, and rebuilds from a new store", async () => {
    const { stores, transport, host, statuses } = setup();
    await host.start();
    transport.deliver(prepare(1));
    await until(() => transport.published.length === 1);

    stores.failWrites = true;
    transport.deliver(prepare(5));
    await until(() => !host.voting);
    expect(transport.published).toHaveLength(1); // not even a nack
    expect(host.readiness().ready).toBe(false);
    await until(() => statuses.at(-1)?.storage === "unavailable");

    stores.failWrites = false;
    await until(() => host.voting, 2_000, "voting again");
    expect(stores.opened).toBeGreaterThanOrEqual(2);
    // The promise of round 5 never reached the disk, so the rebuilt acceptor holds round 1: a
    // prepare of round 3 is promised (the failed in-memory state would have nacked it).
    transport.deliver(prepare(3));
    await until(() => transport.published.length === 2);
    expect(transport.published[1]?.msg).toMatchObject({ type: "promise", ballot: ballot(3) });
    expect(host.status()).toMatchObject({ acceptorId: "a1", promised: ballot(3), storage: "ok" });
    await host.stop();
  });

  it("hands a storage refusal from open to onFatal with exit code 78", async () => {
    const fatal: { error: unknown; exitCode: number }[] = [];
    const host = new AcceptorHost({
      acceptorId: "a1",
      createStore: () => ({
        open: () => Promise.reject(new AcceptorStoreError("amnesia", "identity key missing")),
        write: () => Promise.resolve(),
        close: () => Promise.resolve(),
      }),
      transport: new FakeTransport(),
      logger: silentLogger(),
      registry: createRegistry(false),
      publishStatus: () => undefined,
      onFatal: (error, exitCode) => fatal.push({ error, exitCode }),
    });
    await host.start();
    expect(fatal).toHaveLength(1);
    expect(fatal[0]?.exitCode).toBe(EXIT_CODES.storageRefused);
    expect(host.voting).toBe(false);
    expect(JSON.stringify(host.readiness().detail)).toContain("amnesia");
    await host.stop();
  });

  it("never re-initialises a storage wiped while it ran: that is amnesia, and fatal", async () => {
    const { stores, transport, host, fatal } = setup();
    await host.start();
    transport.deliver(prepare(1));
    await until(() => transport.published.length === 1);
    stores.storage.wipe();
    transport.deliver(prepare(2));
    await until(() => fatal.length === 1);
    expect(fatal[0]?.exitCode).toBe(EXIT_CODES.storageRefused);
    expect((fatal[0]?.error as AcceptorStoreError).code).toBe("amnesia");
    expect(transport.published).toHaveLength(1);
    expect(host.voting).toBe(false);
    await host.stop();
  });

  it("refuses a second value for a voted slot and ballot as an alert, keeps its vote and votes on", async () => {
    const { stores, transport, host, fatal, registry, logs } = setup();
    await host.start();
    const voted = accept(1, 0);
    transport.deliver(voted);
    await until(() => transport.published.length === 1);
    // The same ballot with another value in the same slot: forged, or a proposer reused a ballot.
    transport.deliver({ ...voted, value: { kind: "noop" } });
    // Steps are in order: once round 2 is promised, the forged accept has been stepped.
    transport.deliver(prepare(2));
    await until(() => transport.published.length === 2 || fatal.length > 0);
    expect(fatal).toEqual([]);

    // Nothing answered the stranger; the promise reports the vote it kept, on disk too.
    expect(transport.published[1]?.msg).toEqual({
      type: "promise",
      ballot: ballot(2),
      acceptorId: "a1",
      fromSlot: 0,
      toSlot: null,
      chosenBelow: 0,
      accepted: [{ slot: 0, ballot: ballot(1), value: voted.value }],
    });
    expect(stores.storage.state.accepted.get(0)).toEqual({ slot: 0, ballot: ballot(1), value: voted.value });
    expect(await droppedTotal(registry, "conflict")).toBeGreaterThanOrEqual(1);
    const alerts = conflictAlerts(logs);
    expect(alerts).toHaveLength(1);
    expect(String(alerts[0]?.["detail"])).toMatch(/^slot 0: ballot .* already voted for another value$/);
    expect(host.voting).toBe(true);
    expect(host.readiness().ready).toBe(true);

    // It still votes.
    transport.deliver(accept(2, 1));
    await until(() => transport.published.length === 3);
    expect(transport.published[2]?.msg).toMatchObject({
      type: "accepted",
      ballot: ballot(2),
      slot: 1,
      acceptorId: "a1",
    });
    expect(fatal).toEqual([]);
    await host.stop();
  });

  it("hands a broken invariant of its own restored state to onFatal with exit code 70", async () => {
    const { stores, transport, host, fatal } = setup();
    // The acceptor's own storage holds a vote above its promise: no message can cause that.
    stores.storage.identity = { cluster: "test", acceptorId: "a1" };
    stores.storage.state.promised = ballot(1);
    stores.storage.state.accepted.set(0, { slot: 0, ballot: ballot(2), value: { kind: "noop" } });
    await host.start();
    await until(() => fatal.length === 1);
    expect(fatal[0]?.error).toBeInstanceOf(InvariantViolation);
    expect(fatal[0]?.exitCode).toBe(EXIT_CODES.invariant);
    expect(host.voting).toBe(false);
    expect(transport.published).toEqual([]);
    await host.stop();
  });

  it("drops and counts messages beyond its queue bound", async () => {
    const { stores, transport, host, registry } = setup({ queueMessagesMax: 2 });
    await host.start();
    stores.gate.close();
    for (let round = 1; round <= 5; round++) transport.deliver(prepare(round));
    // Two are stepped and wait for their writes (they count against the bound), three are dropped.
    const text = await registry.metrics();
    expect(text).toMatch(/paxos_dropped_messages_total\{reason="queueFull"\} 3/);
    stores.gate.open();
    await until(() => transport.published.length === 2);
    await host.stop();
  });

  it("publishes its durable promise as status", async () => {
    const { transport, host, statuses } = setup();
    await host.start();
    transport.deliver(accept(4, 7));
    await until(() => statuses.some((s) => s.promised.round === 4));
    expect(statuses.at(-1)).toEqual({ acceptorId: "a1", promised: ballot(4), acceptedSlots: 1, storage: "ok" });
    await host.stop();
  });
});
