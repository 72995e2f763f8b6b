// The load generator against a fake system that answers after a fixed delay: closed loop keeps
// one request per client outstanding; open loop sends on schedule whatever the answers, takes
// latency from each write's due time, and skips (and counts) writes due while its bound is full.
// Real timers, with loose bounds: the machine running the tests may be busy.
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { BenchWriteSource } from "../../bench/lib/bench-write.ts";
import type { WriteChannel, WriteOutcome, WriteTarget } from "../../bench/lib/write-target.ts";
import { runClosedLoopLoad, runOpenLoopLoad } from "../../bench/lib/write-load.ts";

/** A system that acknowledges every write after `delayMs`, at increasing positions. */
function fakeTarget(delayMs: number): WriteTarget & { readonly maxOutstanding: () => number } {
  let position = 0;
  let outstanding = 0;
  let maxOutstanding = 0;
  const channel = (): WriteChannel => ({
    send: async (write): Promise<WriteOutcome> => {
      outstanding++;
      maxOutstanding = Math.max(maxOutstanding, outstanding);
      await sleep(delayMs);
      outstanding--;
      return { ok: true, position: position++, requestId: write.writeId };
    },
    close: () => Promise.resolve(),
  });
  return { description: "fake", openChannel: channel, maxOutstanding: () => maxOutstanding };
}

const common = {
  warmupMs: 200,
  durationMs: 1_000,
  sampleSystemCpu: () => null,
  progress: () => undefined,
  signal: new AbortController().signal,
};

describe("runClosedLoopLoad", () => {
  it("keeps one write per client outstanding and measures from each send", async () => {
    const target = fakeTarget(20);
    const acknowledged: string[] = [];
    const result = await runClosedLoopLoad({
      ...common,
      target,
      clients: 4,
      writes: new BenchWriteSource("t-closed", 100),
      onAcknowledged: (write) => acknowledged.push(write.writeId),
    });
    expect(target.maxOutstanding()).toBe(4);
    // About 4 clients × 1000 ms / 20 ms = 200 in the window.
    expect(result.succeeded).toBeGreaterThan(60);
    expect(result.succeeded).toBeLessThanOrEqual(205);
    expect(result.latencyMs?.p50).toBeGreaterThanOrEqual(19);
    expect(result.errorCount).toBe(0);
    expect(result.skipped).toBe(0);
    // Warm-up and drain writes are acknowledged too, for the exactly-once check.
    expect(acknowledged.length).toBe(result.acknowledgedTotal);
    expect(result.acknowledgedTotal).toBeGreaterThan(result.succeeded);
  });
});

describe("runOpenLoopLoad", () => {
  it("sends on schedule whatever the answers, within its bound", async () => {
    const target = fakeTarget(30);
    const result = await runOpenLoopLoad({
      ...common,
      target,
      ratePerSecond: 100,
      outstandingMax: 50,
      writes: new BenchWriteSource("t-open", 100),
      onAcknowledged: () => undefined,
    });
    // 100 writes due in the 1 s window, each answered 30 ms after it is sent.
    expect(result.succeeded).toBe(100);
    expect(result.skipped).toBe(0);
    expect(result.latencyMs?.p50).toBeGreaterThanOrEqual(29);
    // About 3 outstanding at 100/s × 30 ms: the rate, not the answers, sets the sending.
    expect(target.maxOutstanding()).toBeGreaterThanOrEqual(2);
  });

  it("charges a slow system for the writes it held up, and skips what its bound cannot hold", async () => {
    const target = fakeTarget(250);
    const result = await runOpenLoopLoad({
      ...common,
      target,
      ratePerSecond: 100,
      outstandingMax: 5,
      writes: new BenchWriteSource("t-slow", 100),
      onAcknowledged: () => undefined,
    });
    // 5 at a time, 250 ms each: about 20 of the 100 due in the window get sent; the rest are skipped.
    expect(target.maxOutstanding()).toBe(5);
    expect(result.skipped).toBeGreaterThan(60);
    expect(result.succeeded + result.skipped).toBe(100);
    expect(result.latencyMs?.p50).toBeGreaterThanOrEqual(249);
  });
});
