// The limits fit together: what one message must carry fits in one message, and checkLimits
// names every way a set of limits can fail to.
import { describe, expect, it } from "vitest";
import { checkLimits, DEFAULT_LIMITS, MESSAGE_OVERHEAD_BYTES, valueBytesMax } from "./limits.ts";

describe("DEFAULT_LIMITS", () => {
  it("fit together", () => {
    expect(checkLimits(DEFAULT_LIMITS)).toEqual([]);
  });

  it("let one full slot value and its envelope fit one message", () => {
    expect(valueBytesMax(DEFAULT_LIMITS) + MESSAGE_OVERHEAD_BYTES).toBeLessThan(DEFAULT_LIMITS.messageBytesMax);
  });
});

describe("checkLimits", () => {
  it("names a batch that cannot fit one message", () => {
    expect(checkLimits({ ...DEFAULT_LIMITS, batchBytesMax: DEFAULT_LIMITS.messageBytesMax })).toHaveLength(1);
  });

  it("names a window wider than the slot bound, and a request larger than a batch", () => {
    const problems = checkLimits({ ...DEFAULT_LIMITS, inflightSlotsMax: 2_000, requestBytesMax: 10 ** 6 });
    expect(problems.length).toBeGreaterThanOrEqual(2);
  });

  it("names a limit that is not a positive integer", () => {
    expect(checkLimits({ ...DEFAULT_LIMITS, leaderTimeoutMs: 0 })).toEqual([
      "leaderTimeoutMs must be a positive integer",
    ]);
  });
});
