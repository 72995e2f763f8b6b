// The latency summary: percentiles from Node's HDR histogram of microseconds, in milliseconds,
// and the spread over rounds (a round without a result left out).
import { createHistogram } from "node:perf_hooks";
import { describe, expect, it } from "vitest";
import { recordLatencyMs, spreadOf, summariseLatency } from "../../bench/lib/latency-summary.ts";

describe("summariseLatency", () => {
  it("is null for no successes", () => {
    expect(summariseLatency(createHistogram())).toBeNull();
  });

  it("gives p50, p99, p99.9 and max of 1..1000 ms within the histogram's precision", () => {
    const histogram = createHistogram();
    for (let ms = 1; ms <= 1_000; ms++) recordLatencyMs(histogram, ms);
    const summary = summariseLatency(histogram);
    expect(summary?.count).toBe(1_000);
    expect(summary?.p50).toBeCloseTo(500, -1);
    expect(summary?.p99).toBeCloseTo(990, -1);
    expect(summary?.p999).toBeCloseTo(999, -1);
    expect(summary?.max).toBeCloseTo(1_000, -1);
    expect(summary?.mean).toBeCloseTo(500.5, -1);
  });

  it("keeps sub-millisecond latencies (microsecond steps) and counts one below a microsecond", () => {
    const histogram = createHistogram();
    recordLatencyMs(histogram, 0.25);
    recordLatencyMs(histogram, 0.0001);
    const summary = summariseLatency(histogram);
    expect(summary?.max).toBeCloseTo(0.25, 3);
    expect(summary?.count).toBe(2);
  });

  it("shows a tail: one slow answer in a thousand moves p99.9, not p99", () => {
    const histogram = createHistogram();
    for (let i = 0; i < 999; i++) recordLatencyMs(histogram, 2);
    recordLatencyMs(histogram, 800);
    const summary = summariseLatency(histogram);
    expect(summary?.p99).toBeCloseTo(2, 1);
    expect(summary?.p999).toBeCloseTo(2, 1);
    expect(summary?.max).toBeCloseTo(800, -1);
  });
});

describe("spreadOf", () => {
  it("gives min, median and max in round order, leaving out rounds without a result", () => {
    expect(spreadOf([30, null, 10, 20])).toEqual({ min: 10, median: 20, max: 30, values: [30, 10, 20] });
  });

  it("takes the mean of the middle two for an even count", () => {
    expect(spreadOf([4, 1])?.median).toBe(2.5);
  });

  it("is null when no round has a result", () => {
    expect(spreadOf([null, null])).toBeNull();
  });
});
