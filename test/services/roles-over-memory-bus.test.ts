// The three hosts, wired by startAcceptorRole/startProposerRole/startLearnerRole, agree on values
// end to end over one in-process MemoryBus: a leader is elected, a value proposed with the service
// API's `propose` is delivered and readable with `queryLearners`, and a follower points clients
// at the leader. The same wiring the services and the embedded cluster run.
import { MemoryAcceptorStore } from "@paxos/embedded";
import {
  createRegistry,
  newProposerId,
  type ProposerHost,
  type RoleContext,
  type RunningRole,
  startAcceptorRole,
  startLearnerRole,
  startProposerRole,
} from "@paxos/host";
import { MemoryBus } from "@paxos/embedded";
import { type DeliveredEvent, proposeBatch, queryLearners, Subjects, subscribeDelivered } from "@paxos/wire";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ControlledLearnerStores, silentLogger, until } from "./support/fakes.ts";

const acceptorIds = ["a1", "a2", "a3"];

describe("roles over a MemoryBus", () => {
  const bus = new MemoryBus();
  const subjects = new Subjects("t");
  const fatal: unknown[] = [];
  const roles: RunningRole<unknown>[] = [];
  const proposers: RunningRole<ProposerHost>[] = [];
  const delivered: DeliveredEvent[] = [];
  const context = (): RoleContext => ({
    bus,
    subjects,
    acceptorIds,
    logger: silentLogger(),
    registry: createRegistry(false),
    onFatal: (error) => fatal.push(error),
  });

  beforeAll(async () => {
    for (const id of acceptorIds) {
      roles.push(
        await startAcceptorRole(
          context(),
          id,
          () => new MemoryAcceptorStore({ cluster: "t", acceptorId: id, allowInit: true }),
        ),
      );
    }
    const learnerStores = new ControlledLearnerStores();
    roles.push(await startLearnerRole(context(), "l1", () => learnerStores.create()));
    for (const name of ["p1", "p2"]) proposers.push(startProposerRole(context(), newProposerId(name)));
    roles.push(...proposers);
    subscribeDelivered(bus, subjects, (event) => delivered.push(event), { onDrop: () => undefined });
  });

  afterAll(async () => {
    for (const role of roles.reverse()) await role.stop();
    await bus.close();
  });

  it("elects a leader, chooses a proposed value and serves it from the learner", async () => {
    await until(() => proposers.some((p) => p.host.role === "leader"), 15_000, "a leader");
    const leader = proposers.find((p) => p.host.role === "leader");
    const follower = proposers.find((p) => p.host.role !== "leader");
    if (leader === undefined || follower === undefined) throw new Error("expected one leader and one follower");
    await until(() => follower.host.leaderId === leader.host.proposerId, 10_000, "the follower to hear the leader");

    const replies = await proposeBatch(
      bus,
      subjects,
      leader.host.proposerId,
      [
        { requestId: "req-1", payload: { hello: "world" } },
        { requestId: "req-1b", payload: 1 },
        { requestId: "req-1c", payload: 2 },
      ],
      5_000,
    );
    expect(replies).toEqual(Array(3).fill({ status: "queued", leaderHint: leader.host.proposerId }));
    await until(() => delivered.length === 3, 10_000, "the deliveries");
    expect(delivered[0]).toMatchObject({
      learnerId: "l1",
      kind: "delivered",
      index: 0,
      requestId: "req-1",
      value: { hello: "world" },
    });
    // One batch, one core step: the three share a slot rather than taking one each.
    expect(delivered.map((d) => [d.index, d.requestId])).toEqual([
      [0, "req-1"],
      [1, "req-1b"],
      [2, "req-1c"],
    ]);
    expect(new Set(delivered.map((d) => d.slot)).size).toBe(1);

    const [status] = await queryLearners(bus, subjects, { op: "status" }, 200);
    expect(status).toMatchObject({ op: "status", learnerId: "l1", nextIndex: 3 });
    const [lookup] = await queryLearners(bus, subjects, { op: "lookup", requestId: "req-1" }, 200);
    expect(lookup).toMatchObject({ op: "lookup", entry: { index: 0, requestId: "req-1", value: { hello: "world" } } });

    const notLeader = await proposeBatch(
      bus,
      subjects,
      follower.host.proposerId,
      [{ requestId: "req-2", payload: 2 }],
      5_000,
    );
    expect(notLeader).toEqual([{ status: "notLeader", leaderHint: leader.host.proposerId }]);
    expect(fatal).toEqual([]);
  });
});
