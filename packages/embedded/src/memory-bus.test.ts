// MemoryBus behaves like NATS where the roles can tell: wildcard matching, queue groups, delivery
// never inside publish, request/reply with timeouts and noResponders, requestMany, and close.
import { BusError, type BusMessage } from "@paxos/wire";
import { describe, expect, it } from "vitest";
import { MemoryBus } from "./memory-bus.ts";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (data: Uint8Array): string => new TextDecoder().decode(data);

async function rejection(promise: Promise<unknown>): Promise<BusError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof BusError) return error;
    throw error;
  }
  throw new Error("expected a rejection");
}

describe("MemoryBus", () => {
  it("delivers asynchronously to matching wildcard subscribers only", async () => {
    const bus = new MemoryBus();
    const got: string[] = [];
    bus.subscribe("a.*.c", (m) => got.push(`star ${m.subject}`));
    bus.subscribe("a.>", (m) => got.push(`rest ${m.subject}`));
    bus.subscribe("a.b.c", (m) => got.push(`exact ${text(m.data)} ${m.headers["h"] ?? ""}`));
    bus.subscribe("x.>", (m) => got.push(`other ${m.subject}`));
    bus.publish("a.b.c", bytes("1"), { h: "v" });
    bus.publish("a.b.c.d", bytes("2"));
    expect(got).toEqual([]);
    await bus.flush();
    expect(got.sort()).toEqual(["exact 1 v", "rest a.b.c", "rest a.b.c.d", "star a.b.c"]);
    await bus.close();
  });

  it("copies data, so a publisher may reuse its buffer", async () => {
    const bus = new MemoryBus();
    const got: string[] = [];
    bus.subscribe("s", (m) => got.push(text(m.data)));
    const buffer = bytes("before");
    bus.publish("s", buffer);
    buffer.set(bytes("AFTER!"));
    await bus.flush();
    expect(got).toEqual(["before"]);
  });

  it("gives each message to one member of each queue group, and to every plain subscriber", async () => {
    const bus = new MemoryBus();
    const counts = { q1a: 0, q1b: 0, q2: 0, plain: 0 };
    bus.subscribe("work", () => counts.q1a++, { queue: "q1" });
    bus.subscribe("work", () => counts.q1b++, { queue: "q1" });
    bus.subscribe("work", () => counts.q2++, { queue: "q2" });
    bus.subscribe("work", () => counts.plain++);
    for (let i = 0; i < 10; i++) bus.publish("work", bytes(String(i)));
    await bus.flush();
    expect(counts.q1a + counts.q1b).toBe(10);
    expect(counts.q1a).toBeGreaterThan(0);
    expect(counts.q1b).toBeGreaterThan(0);
    expect(counts.q2).toBe(10);
    expect(counts.plain).toBe(10);
  });

  it("stops delivering after unsubscribe, even what was already queued", async () => {
    const bus = new MemoryBus();
    const got: BusMessage[] = [];
    const subscription = bus.subscribe("s", (m) => got.push(m));
    bus.publish("s", bytes("queued"));
    subscription.unsubscribe();
    subscription.unsubscribe();
    bus.publish("s", bytes("later"));
    await bus.flush();
    expect(got).toEqual([]);
  });

  it("answers requests with the first reply, and times out without one", async () => {
    const bus = new MemoryBus();
    bus.subscribe("echo", (m) => m.respond(bytes(`re:${text(m.data)}`), { k: "v" }));
    bus.subscribe("echo", (m) => setTimeout(() => m.respond(bytes("slow")), 50));
    bus.subscribe("silent", () => undefined);
    const reply = await bus.request("echo", bytes("hi"), { timeoutMs: 1_000 });
    expect(text(reply.data)).toBe("re:hi");
    expect(reply.headers).toEqual({ k: "v" });
    const started = Date.now();
    const error = await rejection(bus.request("silent", bytes("x"), { timeoutMs: 50 }));
    expect(error.code).toBe("timeout");
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    await bus.close();
  });

  it("rejects a request nobody subscribes to with noResponders, at once", async () => {
    const bus = new MemoryBus();
    bus.subscribe("other", () => undefined);
    const started = Date.now();
    const error = await rejection(bus.request("nobody", bytes("x"), { timeoutMs: 5_000 }));
    expect(error.code).toBe("noResponders");
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it("collects every reply within the window, or up to maxReplies", async () => {
    const bus = new MemoryBus();
    for (const name of ["l1", "l2", "l3"]) bus.subscribe("query", (m) => m.respond(bytes(name)));
    bus.subscribe("query", () => undefined);
    const all = await bus.requestMany("query", bytes("q"), { maxWaitMs: 50 });
    expect(all.map((m) => text(m.data)).sort()).toEqual(["l1", "l2", "l3"]);
    const two = await bus.requestMany("query", bytes("q"), { maxWaitMs: 5_000, maxReplies: 2 });
    expect(two).toHaveLength(2);
    const started = Date.now();
    expect(await bus.requestMany("nobody", bytes("q"), { maxWaitMs: 5_000 })).toEqual([]);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it("says a plain message cannot be answered", async () => {
    const bus = new MemoryBus();
    const answers: boolean[] = [];
    bus.subscribe("s", (m) => answers.push(m.respond(bytes("x"))));
    bus.publish("s", bytes("x"));
    await bus.flush();
    expect(answers).toEqual([false]);
  });

  it("reports what a handler throws and keeps delivering", async () => {
    const errors: unknown[] = [];
    const bus = new MemoryBus({ onHandlerError: (error) => errors.push(error) });
    const got: string[] = [];
    bus.subscribe("s", () => {
      throw new Error("boom");
    });
    bus.subscribe("s", (m) => got.push(text(m.data)));
    bus.publish("s", bytes("1"));
    bus.publish("s", bytes("2"));
    await bus.flush();
    expect(errors).toHaveLength(2);
    expect(got).toEqual(["1", "2"]);
  });

  it("lets timers run between delivery rounds while roles chatter", async () => {
    const bus = new MemoryBus();
    let rounds = 0;
    bus.subscribe("ping", () => {
      rounds++;
      bus.publish("ping", bytes("again"));
    });
    bus.publish("ping", bytes("start"));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(rounds).toBeGreaterThan(1);
    await bus.close();
  });

  it("closes: delivers what was published, rejects pending and later calls with closed", async () => {
    const bus = new MemoryBus();
    const got: string[] = [];
    bus.subscribe("s", (m) => got.push(text(m.data)));
    bus.subscribe("silent", () => undefined);
    bus.publish("s", bytes("last"));
    const pending = bus.request("silent", bytes("x"), { timeoutMs: 5_000 });
    const pendingMany = bus.requestMany("silent", bytes("x"), { maxWaitMs: 5_000 });
    await bus.close();
    expect(got).toEqual(["last"]);
    expect((await rejection(pending)).code).toBe("closed");
    expect((await rejection(pendingMany)).code).toBe("closed");
    expect(() => bus.publish("s", bytes("x"))).toThrow(BusError);
    expect(() => bus.subscribe("s", () => undefined)).toThrow(BusError);
    expect((await rejection(bus.request("s", bytes("x"), { timeoutMs: 10 }))).code).toBe("closed");
    expect((await rejection(bus.flush())).code).toBe("closed");
    await bus.close();
  });
});
