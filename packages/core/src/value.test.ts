// Proves slot-value equality and request sizing: two values are the same exactly when their
// requests' ids and JSON payloads agree in order; a no-op equals only a no-op.
import { describe, expect, it } from "vitest";
import {
  BATCH_OVERHEAD_BYTES,
  NOOP,
  requestBytes,
  sameSlotValue,
  type SlotValue,
  slotValueBytes,
  slotValueKey,
  utf8Bytes,
} from "./value.ts";

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

  it("says what comparing slotValueKeys says, for every pair of payloads", () => {
    const payloads: unknown[] = [
      "x",
      "[]",
      "",
      "1",
      1,
      0,
      -0,
      1.5,
      true,
      false,
      null,
      [],
      ["x"],
      [1, 2],
      {},
      { a: 1 },
      { a: 1, b: 2 },
      { b: 2, a: 1 },
      { a: [1, { b: "x" }] },
      { a: [1, { b: "y" }] },
    ];
    for (const x of payloads) {
      for (const y of payloads) {
        const a = batch(["r1", x], ["r2", "same"]);
        // A copy: values decoded from two messages never share objects.
        const b = batch(["r1", y === undefined ? y : JSON.parse(JSON.stringify(y))], ["r2", "same"]);
        expect(sameSlotValue(a, b), `${JSON.stringify(x)} vs ${JSON.stringify(y)}`).toBe(
          slotValueKey(a) === slotValueKey(b),
        );
      }
    }
    expect(sameSlotValue(batch(["r1", "x"]), batch(["r1", "x"], ["r2", "y"]))).toBe(false);
    expect(sameSlotValue(batch(["r1", "x"], ["r2", "y"]), batch(["r1", "x"]))).toBe(false);
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

  // Regression (issue 7, hole 3): sizes were counted in UTF-16 units while the wire limit counts
  // bytes, so a batch of CJK text passed the batch limit at three times its size on the wire.
  it("counts sizes in UTF-8 bytes, as the wire does, not in UTF-16 units", () => {
    const cjk = "漢".repeat(1000);
    expect(utf8Bytes(cjk)).toBe(new TextEncoder().encode(cjk).byteLength);
    expect(utf8Bytes("é😀a")).toBe(new TextEncoder().encode("é😀a").byteLength);
    expect(utf8Bytes("\ud800x")).toBe(4);
    const request = { id: "r1", payload: cjk };
    expect(requestBytes(request)).toBeGreaterThanOrEqual(3000);
  });

  it("bounds a batch's JSON bytes by its overhead plus the sum of its requests' sizes", () => {
    const requests = [
      { id: "r1", payload: "漢字" },
      { id: "r-2", payload: { nested: ["é", 1, null] } },
      { id: "r3", payload: "\u0000 control" },
    ];
    const value: SlotValue = { kind: "batch", requests };
    const bound = BATCH_OVERHEAD_BYTES + requests.reduce((sum, r) => sum + requestBytes(r), 0);
    expect(slotValueBytes(value)).toBe(new TextEncoder().encode(JSON.stringify(value)).byteLength);
    // Exact but for the separator after the last request.
    expect(slotValueBytes(value)).toBe(bound - 1);
  });
});
