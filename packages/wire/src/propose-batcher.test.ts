import { DEFAULT_LIMITS, type Limits } from "@paxos/core";
import { describe, expect, it } from "vitest";
import { type Bus, BusError, type BusMessage } from "./bus.ts";
import { decodeService, encodeService } from "./codec.ts";
import { ProposeBatcher } from "./propose-batcher.ts";
import type { ProposeRequest } from "./service-messages.ts";
import { Subjects } from "./subjects.ts";

const subjects = new Subjects("test");

/**
 * A bus that only answers propose requests, after `replyAfterMs` (never when null), with
 * "queued" for each proposal, and records what each request carried. Not a NATS stand-in: the
 * batcher's own rules are under test here; test/nats-transport.test.ts runs it over NATS.
 */
function proposerBus(replyAfterMs: number | null = 0): { bus: Bus; batches: string[][]; timeouts: number[] } {
  const batches: string[][] = [];
  const timeouts: number[] = [];
  const bus: Bus = {
    publish: () => undefined,
    subscribe: () => ({ unsubscribe: () => undefined }),
    requestMany: () => Promise.resolve([]),
    flush: () => Promise.resolve(),
    close: () => Promise.resolve(),
    request: (subject, data, opts) => {
      const decoded = decodeService(subjects.cluster, "proposeBatch", data);
      if (!decoded.ok) throw new Error(decoded.detail);
      batches.push(decoded.msg.proposals.map((p) => p.requestId));
      timeouts.push(opts.timeoutMs);
      const replies = decoded.msg.proposals.map(() => ({ status: "queued" as const, leaderHint: "p1" }));
      const reply: BusMessage = {
        subject,
        data: encodeService(subjects.cluster, "proposeBatchReply", { replies }),
        headers: {},
        respond: () => false,
      };
      if (replyAfterMs === null) return new Promise<BusMessage>(() => undefined);
      return new Promise((resolve) => setTimeout(() => resolve(reply), replyAfterMs));
    },
  };
  return { bus, batches, timeouts };
}

const request = (requestId: string, payload: ProposeRequest["payload"] = requestId): ProposeRequest => ({
  requestId,
  payload,
});

describe("ProposeBatcher", () => {
  it("sends the proposals of one turn in one request per proposer, each with its own reply", async () => {
    const { bus, batches } = proposerBus();
    const batcher = new ProposeBatcher({ bus, subjects });
    const replies = await Promise.all([
      batcher.propose("p1", request("a"), 1_000),
      batcher.propose("p2", request("b"), 1_000),
      batcher.propose("p1", request("c"), 1_000),
    ]);
    expect(replies).toEqual(Array(3).fill({ status: "queued", leaderHint: "p1" }));
    expect(batches).toEqual([["a", "c"], ["b"]]);
    // A later turn is a new batch.
    await batcher.propose("p1", request("d"), 1_000);
    expect(batches.at(-1)).toEqual(["d"]);
  });

  it("starts a new batch at batchRequestsMax proposals and before messageBytesMax", async () => {
    const byCount = proposerBus();
    const countLimited = new ProposeBatcher({
      ...byCount,
      subjects,
      limits: { ...DEFAULT_LIMITS, batchRequestsMax: 2 },
    });
    await Promise.all(["a", "b", "c", "d", "e"].map((id) => countLimited.propose("p1", request(id), 1_000)));
    expect(byCount.batches).toEqual([["a", "b"], ["c", "d"], ["e"]]);

    // ~1,050 bytes a proposal: two fit in 4,000 bytes less the message overhead (1,024), not three.
    const bySize = proposerBus();
    const limits: Limits = { ...DEFAULT_LIMITS, messageBytesMax: 4_000 };
    const sizeLimited = new ProposeBatcher({ ...bySize, subjects, limits });
    const big = (id: string): ProposeRequest => request(id, "x".repeat(1_000));
    await Promise.all(["f", "g", "h", "i", "j"].map((id) => sizeLimited.propose("p1", big(id), 1_000)));
    expect(bySize.batches).toEqual([["f", "g"], ["h", "i"], ["j"]]);
  });

  it("waits the longest timeout of a batch, and fails a shorter one alone when it runs out", async () => {
    const { bus, timeouts } = proposerBus(150);
    const batcher = new ProposeBatcher({ bus, subjects });
    const [short, long] = await Promise.allSettled([
      batcher.propose("p1", request("short"), 20),
      batcher.propose("p1", request("long"), 1_000),
    ]);
    expect(timeouts).toEqual([1_000]);
    expect(short.status).toBe("rejected");
    expect((short as PromiseRejectedResult).reason).toMatchObject({ code: "timeout" });
    expect(long).toEqual({ status: "fulfilled", value: { status: "queued", leaderHint: "p1" } });
  });

  it("fails every proposal of a batch with the request's failure", async () => {
    const { bus } = proposerBus();
    bus.request = () => Promise.reject(new BusError("noResponders", "no proposer p9"));
    const batcher = new ProposeBatcher({ bus, subjects });
    const results = await Promise.allSettled([
      batcher.propose("p9", request("a"), 1_000),
      batcher.propose("p9", request("b"), 1_000),
    ]);
    expect(results.map((r) => (r.status === "rejected" ? (r.reason as BusError).code : "ok"))).toEqual([
      "noResponders",
      "noResponders",
    ]);
  });
});
