// Proves slot-value equality and request sizing: two values are the same exactly when their
// requests' ids and JSON payloads agree in order; a no-op equals only a no-op.
import { describe, expect, it } from "vitest";
import { NOOP, requestBytes, sameSlotValue, type SlotValue, slotValueKey } from "./value.ts";

const batch = (...requests: [string, unknown][]): SlotValue => ({
  kind: "batch",
  requests: requests.map(([id, payload]) => ({ id, payload: payload as never })),
});

describe("slot values", () => {
  it("compares batches by request ids and payload JSON, in order", () => {
    expect(sameSlotValue(batch(["r1", { a: 1 }]), batch(["r1", { a: 1 }]))).toBe(true);
    expect(sameSlotValue(batch(["r1", { a: 1 }]), batch(["r1", { a: 2 }]))).toBe(false);
    expect(sameSlotValue(batch(["r1", "x"]), batch(["r2", "x"]))).toBe(false);
    expect(sameSlotValue(batch(["r1", 1], ["r2", 2]), batch(["r2", 2], ["r1", 1]))).toBe(false);
    expect(sameSlotValue(batch(["r1", "1"]), batch(["r1", 1]))).toBe(false);
  });

  it("tells a no-op apart from every batch, even an empty one", () => {
    expect(sameSlotValue(NOOP, { kind: "noop" })).toBe(true);
    expect(sameSlotValue(NOOP, batch())).toBe(false);
    expect(slotValueKey(NOOP)).not.toBe(slotValueKey(batch()));
  });

  it("sizes a request by its id and payload JSON", () => {
    const small = requestBytes({ id: "r1", payload: "x" });
    const large = requestBytes({ id: "r1", payload: "x".repeat(1000) });
    expect(large - small).toBe(999);
    expect(requestBytes({ id: "r12345", payload: "x" }) - small).toBe(4);
  });
});
