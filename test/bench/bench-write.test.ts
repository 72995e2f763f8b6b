// Bench writes: every value is exactly the cell's size, starts with its write's id, and no two
// writes of a run share an id or a value (which the exactly-once check relies on).
import { describe, expect, it } from "vitest";
import { BenchWriteSource, benchValue } from "../../bench/lib/bench-write.ts";

describe("BenchWriteSource", () => {
  it("makes distinct values of exactly the size, each carrying its id", () => {
    for (const size of [100, 4096]) {
      const source = new BenchWriteSource(`r1-paxos-closed-c64-v${size}`, size);
      const writes = Array.from({ length: 1_000 }, () => source.next());
      expect(new Set(writes.map((w) => w.value)).size).toBe(1_000);
      for (const w of writes) {
        expect(Buffer.byteLength(w.value, "utf8")).toBe(size);
        expect(w.value.startsWith(`${w.writeId} `)).toBe(true);
      }
      expect(source.made).toBe(1_000);
    }
  });

  it("refuses sizes too small for the id", () => {
    expect(() => new BenchWriteSource("p", 10)).toThrow();
    expect(() => benchValue("a-very-long-write-id-that-does-not-fit", 20)).toThrow();
  });
});
