// isJsonValue accepts exactly JSON values, iteratively: deep values cost no stack, and values
// JSON cannot carry (undefined, NaN, Infinity, functions, class instances, holes) are refused.
import { describe, expect, it } from "vitest";
import { isJsonValue, jsonDepthAtMost } from "./json-value.ts";

describe("isJsonValue", () => {
  it("accepts JSON values", () => {
    for (const value of [null, true, 0, -1.5, "", "x", [], {}, [1, "a", null, { b: [false] }], Object.create(null)]) {
      expect(isJsonValue(value)).toBe(true);
    }
    expect(isJsonValue(JSON.parse('{"__proto__": {"x": 1}}'))).toBe(true);
  });

  it("refuses what JSON cannot carry", () => {
    for (const value of [
      undefined,
      NaN,
      Infinity,
      () => 1,
      1n,
      Symbol("s"),
      new Date(0),
      new Map(),
      [undefined],
      { a: undefined },
      new Array<number>(3),
    ]) {
      expect(isJsonValue(value)).toBe(false);
    }
  });

  it("checks a value nested 100,000 deep without recursion", () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(isJsonValue(deep)).toBe(true);
  });
});

describe("jsonDepthAtMost", () => {
  it("counts nesting of arrays and objects, scalars at depth 0", () => {
    expect(jsonDepthAtMost("x", 0)).toBe(true);
    expect(jsonDepthAtMost([], 0)).toBe(false);
    expect(jsonDepthAtMost({ a: [1, { b: 2 }] }, 3)).toBe(true);
    expect(jsonDepthAtMost({ a: [1, { b: 2 }] }, 2)).toBe(false);
    let deep: unknown = 0;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(jsonDepthAtMost(deep, 24)).toBe(false);
  });
});
