// The open-loop schedule: writes fall due at fixed times whatever the answers, only those due in
// the measured window are measured, and a full outstanding bound skips writes rather than
// queueing them (so latency is taken from the due time: no coordinated omission).
import { describe, expect, it } from "vitest";
import { OpenLoopSchedule, OutstandingBound } from "../../bench/lib/open-loop-schedule.ts";

describe("OpenLoopSchedule", () => {
  const schedule = new OpenLoopSchedule({ ratePerSecond: 100, startMs: 1_000, warmupMs: 500, durationMs: 1_000 });

  it("spaces writes 1 / rate apart from the start, warm-up included", () => {
    expect(schedule.count).toBe(150);
    expect(schedule.dueMs(0)).toBe(1_000);
    expect(schedule.dueMs(1)).toBe(1_010);
    expect(schedule.dueMs(149)).toBeCloseTo(2_490);
  });

  it("measures only the writes due inside the window", () => {
    expect(schedule.inWindow(49)).toBe(false);
    expect(schedule.inWindow(50)).toBe(true);
    expect(schedule.inWindow(149)).toBe(true);
    expect(schedule.inWindow(150)).toBe(false);
    const measured = Array.from({ length: schedule.count }, (_, k) => k).filter((k) => schedule.inWindow(k));
    expect(measured).toHaveLength(100);
  });

  it("hands out every write due by now, however late the generator wakes, and each once", () => {
    expect(schedule.dueBy(999, 0)).toEqual({ from: 0, to: 0 });
    expect(schedule.dueBy(1_000, 0)).toEqual({ from: 0, to: 1 });
    // Woken 35 ms late: writes 1, 2 and 3 are due and go at once, with their own due times.
    expect(schedule.dueBy(1_035, 1)).toEqual({ from: 1, to: 4 });
    expect(schedule.dueBy(1_035, 4)).toEqual({ from: 4, to: 4 });
    // Far past the end: the rest, and no more than the schedule holds.
    expect(schedule.dueBy(60_000, 4)).toEqual({ from: 4, to: 150 });
    expect(schedule.waitMs(1_035, 4)).toBeCloseTo(5);
    expect(schedule.waitMs(60_000, 150)).toBeNull();
  });

  it("keeps an uneven rate exact over the window", () => {
    const odd = new OpenLoopSchedule({ ratePerSecond: 651, startMs: 0, warmupMs: 1_000, durationMs: 3_000 });
    expect(odd.count).toBe(2_604);
    const measured = Array.from({ length: odd.count }, (_, k) => k).filter((k) => odd.inWindow(k));
    expect(measured.length).toBeGreaterThanOrEqual(1_952);
    expect(measured.length).toBeLessThanOrEqual(1_954);
  });

  it("refuses a rate or window it cannot schedule", () => {
    expect(() => new OpenLoopSchedule({ ratePerSecond: 0, startMs: 0, warmupMs: 0, durationMs: 1 })).toThrow();
    expect(() => new OpenLoopSchedule({ ratePerSecond: 10, startMs: 0, warmupMs: 0, durationMs: 0 })).toThrow();
  });
});

describe("OutstandingBound", () => {
  it("skips and counts what comes due while the bound is full, and frees a slot per answer", () => {
    const bound = new OutstandingBound(2);
    expect(bound.tryAcquire()).toBe(true);
    expect(bound.tryAcquire()).toBe(true);
    expect(bound.tryAcquire()).toBe(false);
    expect(bound.tryAcquire()).toBe(false);
    expect(bound.skipped).toBe(2);
    expect(bound.outstanding).toBe(2);
    bound.release();
    expect(bound.tryAcquire()).toBe(true);
    expect(bound.skipped).toBe(2);
  });

  it("throws on a release without an acquire: a bookkeeping bug, not a load", () => {
    expect(() => new OutstandingBound(1).release()).toThrow();
  });
});
