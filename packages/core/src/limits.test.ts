// The default limits fit together: what one message must carry fits in one message.
import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS } from "./limits.ts";

describe("DEFAULT_LIMITS", () => {
  it("lets a promise carry three full windows of values within one message", () => {
    const { inflightSlotsMax, batchBytesMax, messageBytesMax } = DEFAULT_LIMITS;
    expect(3 * inflightSlotsMax * batchBytesMax).toBeLessThan(messageBytesMax);
  });

  it("lets a catch-up answer of full slots fit within one message", () => {
    const { catchupSlotsMax, batchBytesMax, messageBytesMax } = DEFAULT_LIMITS;
    expect(catchupSlotsMax * batchBytesMax).toBeLessThan(messageBytesMax);
  });

  it("lets a batch hold at least one request of the largest size", () => {
    expect(DEFAULT_LIMITS.requestBytesMax).toBeLessThanOrEqual(DEFAULT_LIMITS.batchBytesMax);
  });

  it("leaves the 8 levels a promise wraps around a client value", () => {
    expect(DEFAULT_LIMITS.payloadDepthMax + 8).toBeLessThanOrEqual(DEFAULT_LIMITS.jsonDepthMax);
  });
});
