// BusTransport and the service API over a recording in-test Bus: each message type goes out on
// its publisher's subject, each role subscribes to what it needs, invalid inbound messages are
// dropped and reported, and handler errors never escape into the bus.
import type { Endpoint, Message } from "@paxos/core";
import { describe, expect, it } from "vitest";
import { subjectMatches, type Bus, type BusMessage } from "./bus.ts";
import { BusTransport } from "./bus-transport.ts";
import { encodeService, type DecodeFailureReason } from "./codec.ts";
import { publishAcceptorStatus, subscribeAcceptorStatus, publishDelivered, subscribeDelivered } from "./service-api.ts";
import { Subjects } from "./subjects.ts";

/** A synchronous bus that records what is published and delivers it to matching subscribers. */
class RecordingBus implements Bus {
  readonly published: { subject: string; headers: Record<string, string> | undefined }[] = [];
  readonly subscriptions: {
    subject: string;
    handler: (m: BusMessage) => void;
    live: boolean;
    queue: string | undefined;
  }[] = [];

  publish(subject: string, data: Uint8Array, headers?: Record<string, string>): void {
    this.published.push({ subject, headers });
    const message: BusMessage = { subject, data, headers: headers ?? {}, respond: () => false };
    for (const s of this.subscriptions) if (s.live && subjectMatches(s.subject, subject)) s.handler(message);
  }
  subscribe(subject: string, handler: (m: BusMessage) => void, opts?: { queue?: string }): { unsubscribe(): void } {
    const entry = { subject, handler, live: true, queue: opts?.queue };
    this.subscriptions.push(entry);
    return { unsubscribe: () => (entry.live = false) };
  }
  request(): Promise<BusMessage> {
    return Promise.reject(new Error("not used"));
  }
  requestMany(): Promise<BusMessage[]> {
    return Promise.resolve([]);
  }
  flush(): Promise<void> {
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const subjects = new Subjects("unit");
const ballot = { round: 3, proposerId: "p1" };
const proposer: Endpoint = { role: "proposer", id: "p1" };
const acceptor: Endpoint = { role: "acceptor", id: "a1" };
const learner: Endpoint = { role: "learner", id: "l1" };
const TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

function setup(): {
  bus: RecordingBus;
  transport: BusTransport;
  drops: [DecodeFailureReason, string][];
  errors: unknown[];
} {
  const bus = new RecordingBus();
  const drops: [DecodeFailureReason, string][] = [];
  const errors: unknown[] = [];
  const transport = new BusTransport({
    bus,
    subjects,
    acceptorIds: ["a1", "a2", "a3"],
    onDrop: (reason, subject) => drops.push([reason, subject]),
    onHandlerError: (error) => errors.push(error),
  });
  return { bus, transport, drops, errors };
}

describe("BusTransport", () => {
  it("publishes each message type on its publisher's subject", () => {
    const { bus, transport } = setup();
    const cases: [Endpoint, Message, string][] = [
      [proposer, { type: "prepare", ballot, fromSlot: 0 }, subjects.proposer("p1", "prepare")],
      [
        proposer,
        { type: "accept", ballot, slot: 1, value: { kind: "noop" }, chosenBelow: 0 },
        subjects.proposer("p1", "accept"),
      ],
      [proposer, { type: "heartbeat", ballot, nextSlot: 1, chosenBelow: 0 }, subjects.proposer("p1", "heartbeat")],
      [proposer, { type: "chosen", slot: 1, value: { kind: "noop" } }, subjects.proposer("p1", "chosen")],
      [learner, { type: "chosen", slot: 1, value: { kind: "noop" } }, subjects.learner("l1", "chosen")],
      [
        acceptor,
        { type: "promise", ballot, acceptorId: "a1", fromSlot: 0, toSlot: null, chosenBelow: 0, accepted: [] },
        subjects.promise("a1", "p1"),
      ],
      [acceptor, { type: "nack", ballot, promised: ballot, acceptorId: "a1" }, subjects.nack("a1", "p1")],
      [
        acceptor,
        { type: "accepted", ballot, slot: 1, value: { kind: "noop" }, acceptorId: "a1" },
        subjects.accepted("a1", ballot.proposerId),
      ],
      [
        acceptor,
        {
          type: "catchupReply",
          learnerId: "l1",
          acceptorId: "a1",
          fromSlot: 0,
          toSlot: 1,
          chosenBelow: 0,
          accepted: [],
        },
        subjects.catchupReply("a1", "l1"),
      ],
      [
        learner,
        { type: "catchup", learnerId: "l1", fromSlot: 0, toSlot: 1, chosenBelow: 0 },
        subjects.learner("l1", "catchup"),
      ],
    ];
    for (const [from, msg] of cases) transport.publish(from, msg, { traceparent: TRACEPARENT });
    expect(bus.published.map((p) => p.subject)).toEqual(cases.map(([, , subject]) => subject));
    expect(bus.published[0]?.headers).toEqual({ traceparent: TRACEPARENT });
  });

  it("refuses to publish a type the role never sends", () => {
    const { transport } = setup();
    expect(() => transport.publish(acceptor, { type: "prepare", ballot, fromSlot: 0 })).toThrow();
    expect(() =>
      transport.publish(proposer, { type: "propose", proposerId: "p1", request: { id: "r", payload: 1 } }),
    ).toThrow();
  });

  it("subscribes each role without a queue group to what it needs, and delivers valid messages", () => {
    const { bus, transport, drops } = setup();
    const received = new Map<string, [Message, Readonly<Record<string, string>>][]>();
    for (const endpoint of [acceptor, proposer, learner, { role: "proposer", id: "p2" } as const]) {
      const list: [Message, Readonly<Record<string, string>>][] = [];
      received.set(endpoint.id, list);
      transport.subscribe(endpoint, (msg, context) => list.push([msg, context]));
    }
    const prepare: Message = { type: "prepare", ballot, fromSlot: 0 };
    const promise: Message = {
      type: "promise",
      ballot,
      acceptorId: "a1",
      fromSlot: 0,
      toSlot: null,
      chosenBelow: 0,
      accepted: [],
    };
    const accepted: Message = { type: "accepted", ballot, slot: 1, value: { kind: "noop" }, acceptorId: "a2" };
    transport.publish(proposer, prepare, { traceparent: TRACEPARENT, other: "dropped" });
    transport.publish(acceptor, promise);
    transport.publish({ role: "acceptor", id: "a2" }, accepted);
    expect(drops).toEqual([]);
    expect(received.get("a1")).toEqual([[prepare, { traceparent: TRACEPARENT }]]);
    expect(received.get("p1")?.map(([m]) => m)).toEqual([promise, accepted]);
    // A vote at p1's ballot reaches p1 and the learners only: a follower decodes none of them.
    expect(received.get("p2")?.map(([m]) => m)).toEqual([]);
    expect(received.get("l1")?.map(([m]) => m)).toEqual([accepted]);
    expect(bus.subscriptions.map((s) => s.queue)).toEqual(bus.subscriptions.map(() => undefined));
    expect(bus.subscriptions.filter((s) => s.live)).toHaveLength(4 + 5 + 6 + 5);
  });

  it("drops and reports invalid inbound messages, and keeps delivering", () => {
    const { bus, transport, drops } = setup();
    const got: Message[] = [];
    transport.subscribe(learner, (msg) => got.push(msg));
    bus.publish(subjects.accepted("a1", ballot.proposerId), new TextEncoder().encode("garbage"));
    bus.publish(subjects.accepted("a9", ballot.proposerId), new Uint8Array([0xff]));
    transport.publish(
      { role: "acceptor", id: "a9" },
      {
        type: "accepted",
        ballot,
        slot: 1,
        value: { kind: "noop" },
        acceptorId: "a9",
      },
    );
    const good: Message = { type: "accepted", ballot, slot: 2, value: { kind: "noop" }, acceptorId: "a3" };
    transport.publish({ role: "acceptor", id: "a3" }, good);
    expect(drops).toEqual([
      ["badJson", subjects.accepted("a1", ballot.proposerId)],
      ["badJson", subjects.accepted("a9", ballot.proposerId)],
      ["unknownAcceptor", subjects.accepted("a9", ballot.proposerId)],
    ]);
    expect(got).toEqual([good]);
  });

  it("catches what a handler throws and reports it", () => {
    const { transport, errors } = setup();
    transport.subscribe(acceptor, () => {
      throw new Error("boom");
    });
    expect(() => transport.publish(proposer, { type: "prepare", ballot, fromSlot: 0 })).not.toThrow();
    expect(errors).toHaveLength(1);
  });

  it("does not send what receivers would refuse as too large", () => {
    const { bus, transport, drops } = setup();
    const payload = "x".repeat(1_000_001);
    transport.publish(proposer, {
      type: "accept",
      ballot,
      slot: 1,
      chosenBelow: 0,
      value: { kind: "batch", requests: [{ id: "r", payload }] },
    });
    expect(bus.published).toEqual([]);
    expect(drops.map(([reason]) => reason)).toEqual(["tooLarge"]);
  });

  it("unsubscribes and closes", async () => {
    const { bus, transport } = setup();
    const got: Message[] = [];
    const subscription = transport.subscribe(acceptor, (msg) => got.push(msg));
    subscription.unsubscribe();
    transport.subscribe(learner, (msg) => got.push(msg));
    await transport.close();
    transport.publish(proposer, { type: "prepare", ballot, fromSlot: 0 });
    transport.publish(proposer, { type: "heartbeat", ballot, nextSlot: 0, chosenBelow: 0 });
    expect(got).toEqual([]);
    expect(bus.subscriptions.every((s) => !s.live)).toBe(true);
  });
});

describe("service API subject checks", () => {
  it("drops delivered events and statuses whose body disagrees with the subject", () => {
    const bus = new RecordingBus();
    const drops: DecodeFailureReason[] = [];
    const events: unknown[] = [];
    const options = { onDrop: (reason: DecodeFailureReason) => drops.push(reason) };
    subscribeDelivered(bus, subjects, (event) => events.push(event), options);
    subscribeAcceptorStatus(bus, subjects, ["a1"], (status) => events.push(status), options);
    const delivery = { kind: "duplicate", index: 0, slot: 0, requestId: "r" } as const;
    const event = { ...delivery, learnerId: "l1" };
    publishDelivered(bus, subjects, "l1", [delivery]);
    bus.publish(
      subjects.learner("l2", "delivered"),
      encodeService("unit", "delivered", { learnerId: "l1", deliveries: [delivery] }),
    );
    const status = { acceptorId: "a1", promised: ballot, acceptedSlots: 1, storage: "ok" } as const;
    publishAcceptorStatus(bus, subjects, status);
    publishAcceptorStatus(bus, subjects, { ...status, acceptorId: "a2" });
    expect(events).toEqual([event, status]);
    expect(drops).toEqual(["subjectMismatch", "unknownAcceptor"]);
  });
});
