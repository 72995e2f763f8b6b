// The shipped drivers, over the wire codec and the production subjects, survive every fault
// schedule the simulator draws: a fixed set of seeds plus fresh random ones on each run (a failure
// names its seed, so it can be replayed with --trace).
import { randomInt } from "node:crypto";
import { describe, expect, it } from "vitest";
import { runBatch } from "./batch.ts";
import { FAULT_KINDS, runSeed } from "./simulation.ts";

function explain(failed: readonly { seed: number; violation: { kind: string; message: string } }[]): string[] {
  return failed.map(
    (f) => `seed ${f.seed}: ${f.violation.kind}: ${f.violation.message} (npm run sim -- --seed ${f.seed} --trace)`,
  );
}

describe("simulation of the real protocol", () => {
  it("keeps every invariant and decides every request over seeds 1..2000, injecting every fault kind", () => {
    const summary = runBatch({ fromSeed: 1, toSeed: 2001, variant: "none" });
    expect(explain(summary.failed)).toEqual([]);
    expect(summary.runs).toBe(2000);
    expect(summary.requestsDecided).toBe(summary.requests);
    for (const kind of FAULT_KINDS) expect(summary.faults[kind], kind).toBeGreaterThan(0);
    // The faults reached what they aim at: late writes were fenced, oversized answers cut.
    expect(summary.outcomes.fencedWrite).toBeGreaterThan(0);
    expect(summary.outcomes.rangedPromise).toBeGreaterThan(0);
    expect(summary.outcomes.shortCatchupReply).toBeGreaterThan(0);
    expect(summary.outcomes.transportDrop).toBe(0);
  }, 300_000);

  it("keeps every invariant over 300 fresh random seeds", () => {
    const from = randomInt(1, 2 ** 31);
    const summary = runBatch({ fromSeed: from, toSeed: from + 300, variant: "none" });
    expect(explain(summary.failed), `random seeds from ${from}`).toEqual([]);
  }, 120_000);

  it("replays a seed exactly: same result and same trace", () => {
    const traceOf = (seed: number): { lines: string[]; steps: number } => {
      const lines: string[] = [];
      const result = runSeed({ seed, trace: (line) => lines.push(line) });
      return { lines, steps: result.steps };
    };
    const first = traceOf(424242);
    const second = traceOf(424242);
    expect(second.steps).toBe(first.steps);
    expect(second.lines).toEqual(first.lines);
    expect(first.lines.length).toBeGreaterThan(100);
    // A trace is no side channel: the run is the same with tracing off.
    expect(runSeed({ seed: 424242 }).steps).toBe(first.steps);
  });
});
