// sameJson: equality of JSON values as JSON (member order ignored, everything else exact), which
// decides between an idempotent replay (200) and a reused key (422).
import { describe, expect, it } from "vitest";
import { sameJson } from "./same-json.ts";

describe("sameJson", () => {
  it.each([
    [1, 1],
    [null, null],
    ["a", "a"],
    [
      { a: 1, b: [1, { c: null }] },
      { b: [1, { c: null }], a: 1 },
    ],
    [[], []],
  ])("%j equals %j", (a, b) => {
    expect(sameJson(a, b)).toBe(true);
  });

  it.each([
    [1, "1"],
    [null, {}],
    [
      [1, 2],
      [2, 1],
    ],
    [{ a: 1 }, { a: 1, b: 1 }],
    [{ a: 1 }, { b: 1 }],
    [[], {}],
    [{ a: [1] }, { a: [1, 2] }],
  ])("%j differs from %j", (a, b) => {
    expect(sameJson(a, b)).toBe(false);
  });
});
