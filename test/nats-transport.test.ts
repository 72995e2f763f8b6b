// BusTransport and the service API over NatsBus against a real nats-server on a free loopback
// port: each message type reaches exactly the endpoints it is addressed to, hostile bytes are
// dropped and reported while the subscriber keeps working, request/reply works, and messages
// flow again after the server is killed and restarted on the same port. The bus itself is tested
// on an open server; one more server with a permission file shows that a NatsBus with credentials
// gets its replies under its own inbox prefix and that a wrong password is refused at connect
// (test/nats-permissions.test.ts checks the permissions themselves).
import type { Endpoint, Message } from "@paxos/core";
import { ClusterCredentials, inboxPrefix, NatsBus, type NatsBusStatus } from "@paxos/transport-nats";
import {
  BusError,
  BusTransport,
  proposeBatch,
  ProposeBatcher,
  queryLearners,
  serveLearnerQueries,
  serveProposals,
  Subjects,
  type DecodeFailureReason,
} from "@paxos/wire";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNats, type NatsServer } from "./support/nats-server.ts";

const subjects = new Subjects("natstest");
const acceptorIds = ["a1", "a2", "a3"];
const ballot = { round: 1, proposerId: "p1" };
const TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/** One process's view: its bus, its transport, what it received and what it dropped. */
interface Peer {
  readonly endpoint: Endpoint;
  readonly bus: NatsBus;
  readonly transport: BusTransport;
  readonly received: { msg: Message; context: Readonly<Record<string, string>> }[];
  readonly drops: { reason: DecodeFailureReason; subject: string }[];
  readonly statuses: NatsBusStatus[];
}

let server: NatsServer;
const peers = new Map<string, Peer>();
const peer = (id: string): Peer => {
  const found = peers.get(id);
  if (found === undefined) throw new Error(`no peer ${id}`);
  return found;
};

async function connectPeer(endpoint: Endpoint): Promise<Peer> {
  const statuses: NatsBusStatus[] = [];
  const bus = await NatsBus.connect({
    servers: server.url,
    name: `${endpoint.role}-${endpoint.id}`,
    onStatus: (status) => statuses.push(status),
    reconnectTimeWaitMs: 100,
    reconnectJitterMs: 50,
  });
  const drops: Peer["drops"] = [];
  const received: Peer["received"] = [];
  const transport = new BusTransport({
    bus,
    subjects,
    acceptorIds,
    onDrop: (reason, subject) => drops.push({ reason, subject }),
  });
  transport.subscribe(endpoint, (msg, context) => received.push({ msg, context }));
  await bus.flush();
  const result = { endpoint, bus, transport, received, drops, statuses };
  peers.set(endpoint.id, result);
  return result;
}

/** Polls `condition` every 10 ms until it holds, failing after `timeoutMs`. */
async function waitFor(what: string, condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const types = (p: Peer): string[] => p.received.map(({ msg }) => msg.type);

beforeAll(async () => {
  server = await startNats();
  await connectPeer({ role: "proposer", id: "p1" });
  await connectPeer({ role: "proposer", id: "p2" });
  await connectPeer({ role: "acceptor", id: "a1" });
  await connectPeer({ role: "learner", id: "l1" });
});

afterAll(async () => {
  for (const p of peers.values()) {
    await p.transport.close();
    await p.bus.close();
  }
  await server?.stop();
});

describe("BusTransport over NATS", () => {
  it("delivers each message type to the endpoints it is addressed to", async () => {
    const [p1, p2, a1, l1] = ["p1", "p2", "a1", "l1"].map(peer) as [Peer, Peer, Peer, Peer];
    p1.transport.publish(p1.endpoint, { type: "prepare", ballot, fromSlot: 0 }, { traceparent: TRACEPARENT });
    p1.transport.publish(p1.endpoint, { type: "accept", ballot, slot: 0, value: { kind: "noop" }, chosenBelow: 0 });
    await waitFor("a1 to get prepare and accept", () => types(a1).length === 2);
    expect(types(a1)).toEqual(["prepare", "accept"]);
    expect(a1.received[0]?.context).toEqual({ traceparent: TRACEPARENT });

    a1.transport.publish(a1.endpoint, {
      type: "promise",
      ballot,
      acceptorId: "a1",
      fromSlot: 0,
      toSlot: null,
      chosenBelow: 0,
      accepted: [],
    });
    a1.transport.publish(a1.endpoint, {
      type: "accepted",
      ballot,
      slot: 0,
      value: { kind: "noop" },
      acceptorId: "a1",
    });
    // A vote at p1's ballot goes to p1 and the learners, not to p2. One publisher's messages keep
    // their order per subscriber, so once the accepted (sent after the promise) has reached l1,
    // the promise would have too, were it addressed to l1; p2 is checked after the next round.
    await waitFor("accepted at p1 and l1", () => [p1, l1].every((p) => types(p).includes("accepted")));
    expect(types(p1)).toEqual(["promise", "accepted"]);
    expect(types(l1)).toEqual(["accepted"]);

    p1.transport.publish(p1.endpoint, { type: "heartbeat", ballot, nextSlot: 1, chosenBelow: 1 });
    p1.transport.publish(p1.endpoint, { type: "chosen", slot: 0, value: { kind: "noop" } });
    // p1's messages and l1's catchup below go out on different connections, in no set order.
    await waitFor("chosen at l1 and p2", () => [l1, p2].every((p) => types(p).includes("chosen")));
    l1.transport.publish(l1.endpoint, { type: "catchup", learnerId: "l1", fromSlot: 0, toSlot: 1, chosenBelow: 0 });
    await waitFor("catchup at a1", () => types(a1).includes("catchup"));
    a1.transport.publish(a1.endpoint, {
      type: "catchupReply",
      learnerId: "l1",
      acceptorId: "a1",
      fromSlot: 0,
      toSlot: 1,
      chosenBelow: 0,
      accepted: [],
    });
    // l1 hears its own catchup too (learners answer each other's), on another connection than
    // a1's reply: the two may arrive in either order.
    await waitFor(
      "catchup and catchupReply at l1",
      () => types(l1).includes("catchupReply") && types(l1).includes("catchup"),
    );
    expect(types(l1).slice(0, 3)).toEqual(["accepted", "heartbeat", "chosen"]);
    expect(types(l1).slice(3).sort()).toEqual(["catchup", "catchupReply"]);
    expect(types(p2)).toEqual(["heartbeat", "chosen"]);
    for (const p of [p1, p2, a1, l1]) expect(p.drops).toEqual([]);
  });

  it("drops and reports hostile bytes on a protocol subject, and keeps delivering", async () => {
    const a1 = peer("a1");
    const raw = peer("p2").bus;
    const before = a1.received.length;
    const prepareSubject = subjects.proposer("p1", "prepare");
    raw.publish(prepareSubject, new TextEncoder().encode("{not json"));
    raw.publish(prepareSubject, new Uint8Array([0xc3, 0x28]));
    raw.publish(prepareSubject, new TextEncoder().encode(`${"[".repeat(10_000)}${"]".repeat(10_000)}`));
    raw.publish(
      prepareSubject,
      new TextEncoder().encode(
        JSON.stringify({ v: 1, cluster: "natstest", msg: { type: "prepare", ballot, fromSlot: 0.5 } }),
      ),
    );
    // A prepare in p1's name sent on p2's subject: the ids disagree.
    raw.publish(
      subjects.proposer("p2", "prepare"),
      new TextEncoder().encode(
        JSON.stringify({ v: 1, cluster: "natstest", msg: { type: "prepare", ballot, fromSlot: 0 } }),
      ),
    );
    raw.publish(prepareSubject, new Uint8Array(1_000_001));
    await waitFor("six drops at a1", () => a1.drops.length === 6);
    expect(a1.drops.map((d) => d.reason)).toEqual([
      "badJson",
      "badJson",
      "tooDeep",
      "schema",
      "subjectMismatch",
      "tooLarge",
    ]);
    expect(a1.received.length).toBe(before);

    const p1 = peer("p1");
    p1.transport.publish(p1.endpoint, { type: "prepare", ballot: { round: 2, proposerId: "p1" }, fromSlot: 5 });
    await waitFor("the next valid prepare at a1", () => a1.received.length === before + 1);
    expect(a1.received.at(-1)?.msg).toEqual({ type: "prepare", ballot: { round: 2, proposerId: "p1" }, fromSlot: 5 });
  });
});

describe("service API over NATS", () => {
  it("carries proposals and learner queries by request/reply", async () => {
    const drops: DecodeFailureReason[] = [];
    const options = { onDrop: (reason: DecodeFailureReason) => drops.push(reason) };
    const seen: string[] = [];
    const served = serveProposals(
      peer("p1").bus,
      subjects,
      "p1",
      (proposals, context) => {
        seen.push(proposals.map((req) => `${req.requestId}:${context["traceparent"] ?? "none"}`).join(","));
        return proposals.map((req) =>
          req.payload === "too big" ? { status: "tooLarge", leaderHint: "p1" } : { status: "queued", leaderHint: "p1" },
        );
      },
      options,
    );
    const learners = ["l1", "a1"].map((id) =>
      serveLearnerQueries(
        peer(id).bus,
        subjects,
        `learner-${id}`,
        () => ({ op: "status", learnerId: `learner-${id}`, nextIndex: 3, nextSlot: 4, gapSlots: 0 }),
        options,
      ),
    );
    const gateway = peer("p2").bus;
    await Promise.all([peer("p1").bus.flush(), peer("l1").bus.flush(), peer("a1").bus.flush()]);

    const replies = await proposeBatch(gateway, subjects, "p1", [{ requestId: "r1", payload: { x: 1 } }], 2_000, {
      traceparent: TRACEPARENT,
    });
    expect(replies).toEqual([{ status: "queued", leaderHint: "p1" }]);
    expect(seen).toEqual([`r1:${TRACEPARENT}`]);

    // Proposals made in one turn travel in one request, each answered in its place.
    const batcher = new ProposeBatcher({ bus: gateway, subjects });
    const batched = await Promise.all(
      ["b1", "b2", "b3"].map((requestId) =>
        batcher.propose("p1", { requestId, payload: requestId === "b2" ? "too big" : requestId }, 2_000),
      ),
    );
    expect(batched.map((r) => r.status)).toEqual(["queued", "tooLarge", "queued"]);
    expect(seen.at(-1)).toBe("b1:none,b2:none,b3:none");

    const answers = await queryLearners(gateway, subjects, { op: "status" }, 300);
    expect(answers.map((a) => (a.op === "status" ? a.learnerId : "?")).sort()).toEqual(["learner-a1", "learner-l1"]);

    const error = await batcher.propose("p9", { requestId: "r2", payload: null }, 2_000).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(BusError);
    expect((error as BusError).code).toBe("noResponders");

    // An invalid request is dropped unanswered: the caller times out.
    const bad = await gateway
      .request(subjects.propose("p1"), new TextEncoder().encode("nope"), { timeoutMs: 200 })
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect((bad as BusError).code).toBe("timeout");
    expect(drops).toEqual(["badJson"]);

    served.unsubscribe();
    for (const learner of learners) learner.unsubscribe();
  });
});

describe("NatsBus echo", () => {
  it("with echo off, delivers none of a connection's own messages to it, and still every other's", async () => {
    const quiet = await NatsBus.connect({ servers: server.url, name: "echo-off", echo: false });
    const loud = await NatsBus.connect({ servers: server.url, name: "echo-on" });
    try {
      const heard = { quiet: [] as string[], loud: [] as string[] };
      quiet.subscribe("echo.>", (m) => heard.quiet.push(new TextDecoder().decode(m.data)));
      loud.subscribe("echo.>", (m) => heard.loud.push(new TextDecoder().decode(m.data)));
      await Promise.all([quiet.flush(), loud.flush()]);
      quiet.publish("echo.a", new TextEncoder().encode("from quiet"));
      loud.publish("echo.a", new TextEncoder().encode("from loud"));
      await Promise.all([quiet.flush(), loud.flush()]);
      await waitFor("both messages at the echoing connection", () => heard.loud.length === 2);
      await waitFor("the other's message at the quiet one", () => heard.quiet.length >= 1);
      // A round trip through the server after both: its own would have arrived by now.
      await quiet.flush();
      expect(heard.quiet).toEqual(["from loud"]);
      expect(heard.loud.sort()).toEqual(["from loud", "from quiet"]);
    } finally {
      await Promise.all([quiet.close(), loud.close()]);
    }
  });
});

describe("NatsBus with credentials", () => {
  const credentials = new ClusterCredentials(subjects, [
    { role: "learner", id: "l1" },
    { role: "gateway", id: "g1" },
  ]);
  let secured: NatsServer;

  beforeAll(async () => {
    secured = await startNats({ credentials });
  });

  afterAll(async () => {
    await secured?.stop();
  });

  it("gets the replies to its requests under its own inbox prefix, through the server's permissions", async () => {
    const statuses: NatsBusStatus[] = [];
    const connectAs = (role: "learner" | "gateway", id: string): Promise<NatsBus> =>
      NatsBus.connect({
        servers: secured.url,
        name: `${role}-${id}`,
        credentials: credentials.of(role, id),
        onStatus: (status) => statuses.push(status),
      });
    const learner = await connectAs("learner", "l1");
    const gateway = await connectAs("gateway", "g1");
    try {
      const answered: boolean[] = [];
      const responder = learner.subscribe(subjects.learnersQuery(), (m) => {
        answered.push(m.respond(new TextEncoder().encode(`pong to ${new TextDecoder().decode(m.data)}`)));
      });
      await learner.flush();
      const reply = await gateway.request(subjects.learnersQuery(), new TextEncoder().encode("ping"), {
        timeoutMs: 2_000,
      });
      expect(new TextDecoder().decode(reply.data)).toBe("pong to ping");
      expect(reply.subject.startsWith(`${inboxPrefix("gateway-g1")}.`), reply.subject).toBe(true);
      expect(answered).toEqual([true]);
      responder.unsubscribe();

      // The service API's scatter-gather takes the same way back.
      const served = serveLearnerQueries(
        learner,
        subjects,
        "l1",
        () => ({ op: "status", learnerId: "l1", nextIndex: 3, nextSlot: 4, gapSlots: 0 }),
        { onDrop: () => undefined },
      );
      await learner.flush();
      const answers = await queryLearners(gateway, subjects, { op: "status" }, 2_000, { maxReplies: 1 });
      expect(answers).toEqual([{ op: "status", learnerId: "l1", nextIndex: 3, nextSlot: 4, gapSlots: 0 }]);
      served.unsubscribe();
      // Neither connection met a permission error on the way.
      expect(statuses.filter((s) => s.type === "error")).toEqual([]);
    } finally {
      await gateway.close();
      await learner.close();
    }
  });

  it("is refused at connect with a wrong password", async () => {
    const refused = await NatsBus.connect({
      servers: secured.url,
      name: "gateway-g1",
      credentials: { user: "gateway-g1", password: "not-the-password" },
    }).then(
      async (bus) => {
        await bus.close();
        return null;
      },
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(Error);
    expect(String(refused)).toMatch(/authorization violation/i);
  });
});

describe("NatsBus reconnects", () => {
  it("delivers again after nats-server is killed and restarted on the same port", async () => {
    const all = [...peers.values()];
    await server.kill("SIGKILL");
    await waitFor("every bus to see the disconnect", () =>
      all.every((p) => p.statuses.some((s) => s.type === "disconnect")),
    );
    expect(all.every((p) => !p.bus.isConnected)).toBe(true);
    await server.restart();
    await waitFor(
      "every bus to reconnect",
      () => all.every((p) => p.statuses.some((s) => s.type === "reconnect")),
      10_000,
    );
    expect(all.every((p) => p.bus.isConnected)).toBe(true);
    await Promise.all(all.map((p) => p.bus.flush()));

    const p1 = peer("p1");
    const a1 = peer("a1");
    const l1 = peer("l1");
    const before = { a1: a1.received.length, l1: l1.received.length };
    p1.transport.publish(p1.endpoint, { type: "prepare", ballot: { round: 3, proposerId: "p1" }, fromSlot: 0 });
    a1.transport.publish(a1.endpoint, {
      type: "accepted",
      ballot: { round: 3, proposerId: "p1" },
      slot: 7,
      value: { kind: "noop" },
      acceptorId: "a1",
    });
    await waitFor("messages after the restart", () => a1.received.length > before.a1 && l1.received.length > before.l1);
    expect(a1.received.at(-1)?.msg.type).toBe("prepare");
    expect(l1.received.at(-1)?.msg.type).toBe("accepted");
  });
});
