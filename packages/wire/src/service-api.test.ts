// When the service API answers a proposal: in the same turn as a synchronous handler (so that what
// the handler published and the reply leave in one write), after the promise of an asynchronous one.
// The bus is a recording stand-in: this is about the order of calls, not about delivery.
import { describe, expect, it } from "vitest";
import type { Bus, BusMessage } from "./bus.ts";
import { decodeService, encodeService } from "./codec.ts";
import { serveProposals } from "./service-api.ts";
import { Subjects } from "./subjects.ts";

const subjects = new Subjects("apitest");

/** A bus that keeps its one subscription's handler and records what is published. */
function recordingBus(): { bus: Bus; deliver: (m: BusMessage) => void; sent: string[] } {
  let handler: ((m: BusMessage) => void) | null = null;
  const sent: string[] = [];
  const unused = (): never => {
    throw new Error("not used by this test");
  };
  const bus: Bus = {
    publish: (subject) => {
      sent.push(`publish ${subject}`);
    },
    subscribe: (_subject, h) => {
      handler = h;
      return { unsubscribe: () => (handler = null) };
    },
    request: unused,
    requestMany: unused,
    flush: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
  return {
    bus,
    sent,
    deliver: (m) => {
      if (handler === null) throw new Error("nothing subscribed");
      handler(m);
    },
  };
}

function proposeMessage(sent: string[]): BusMessage {
  return {
    subject: subjects.propose("p1"),
    data: encodeService(subjects.cluster, "proposeBatch", { proposals: [{ requestId: "r1", payload: 1 }] }),
    headers: {},
    respond: (data) => {
      const decoded = decodeService(subjects.cluster, "proposeBatchReply", data);
      sent.push(`reply ${decoded.ok ? decoded.msg.replies.map((r) => r.status).join(",") : decoded.reason}`);
      return true;
    },
  };
}

describe("serveProposals", () => {
  it("answers a synchronous handler at once, after what the handler published", () => {
    const { bus, deliver, sent } = recordingBus();
    serveProposals(
      bus,
      subjects,
      "p1",
      (proposals) => {
        bus.publish("accept", new Uint8Array());
        return proposals.map(() => ({ status: "queued", leaderHint: "p1" }));
      },
      { onDrop: () => {} },
    );
    deliver(proposeMessage(sent));
    // No await in between: the reply joins the accept in this turn.
    expect(sent).toEqual(["publish accept", "reply queued"]);
  });

  it("answers an asynchronous handler once its promise resolves", async () => {
    const { bus, deliver, sent } = recordingBus();
    let answer: () => void = () => {};
    serveProposals(
      bus,
      subjects,
      "p1",
      (proposals) =>
        new Promise((resolve) => {
          answer = () => resolve(proposals.map(() => ({ status: "notLeader", leaderHint: null })));
        }),
      { onDrop: () => {} },
    );
    deliver(proposeMessage(sent));
    await Promise.resolve();
    expect(sent).toEqual([]);
    answer();
    await new Promise((resolve) => setImmediate(resolve));
    expect(sent).toEqual(["reply notLeader"]);
  });

  it("reports a handler that answers too few proposals, sending nothing", async () => {
    const { bus, deliver, sent } = recordingBus();
    const errors: unknown[] = [];
    serveProposals(bus, subjects, "p1", () => [], { onDrop: () => {}, onHandlerError: (error) => errors.push(error) });
    deliver(proposeMessage(sent));
    await new Promise((resolve) => setImmediate(resolve));
    expect(sent).toEqual([]);
    expect(String(errors[0])).toMatch(/must answer every proposal/);
  });
});
