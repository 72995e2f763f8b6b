// The checkers can fail: each deliberately broken variant of the protocol is caught within the
// default seed budget, and the seed that catches it is deterministic.
import { describe, expect, it } from "vitest";
import { runBatch } from "./batch.ts";
import { VARIANT_NAMES, VARIANT_SEED_BUDGET } from "./variants.ts";

describe("broken variants are caught", () => {
  it.each(VARIANT_NAMES)(
    "%s",
    (variant) => {
      const summary = runBatch({ fromSeed: 1, toSeed: VARIANT_SEED_BUDGET + 1, variant, stopAtFirstFailure: true });
      expect(summary.failed.length, `${variant} survived ${VARIANT_SEED_BUDGET} seeds`).toBe(1);
    },
    300_000,
  );
});
