// POST /v1/proposals refuses JSON that parsing would change (issue 10, item 5): integers beyond
// ±2^53-1, lone surrogate escapes and duplicate member names are 400 problems naming the path and
// the problem, and nothing reaches a proposer; well-formed values next to those limits are decided
// unchanged. Real HTTP (fetch) against the gateway app on a MemoryBus, with raw request bodies.
import { gzipSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  apiFetch,
  FakeCluster,
  type FakeProposer,
  postProposal,
  type RunningGateway,
  startGateway,
} from "./harness.ts";

let cluster: FakeCluster;
let leader: FakeProposer;
let gw: RunningGateway;

beforeEach(async () => {
  cluster = new FakeCluster();
  leader = cluster.proposer("p1-aaaaaaaa", 3).lead();
  gw = await startGateway(cluster);
});

afterEach(async () => {
  await gw.close();
  await cluster.stop();
});

/** What the gateway asked of proposers and learners (background status reads excluded). */
function proposalTraffic(): unknown[] {
  return gw.sent.filter((s) => s.kind === "request" || (s.kind === "requestMany" && s.query?.op !== "status"));
}

/** Expects a 400 problem of `code`, and that nothing was proposed; returns the detail. */
async function expectRefused(response: Response, code: string): Promise<string> {
  expect(response.status).toBe(400);
  expect(response.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  const body = (await response.json()) as { type: string; detail: string };
  expect(body.type).toBe(`urn:paxos:problem:${code}`);
  expect(proposalTraffic()).toEqual([]);
  expect(leader.received).toHaveLength(0);
  return body.detail;
}

describe("POST /v1/proposals refuses JSON that parsing would change", () => {
  it.each([
    [
      "an integer above 2^53-1",
      '{"value": 9007199254740993}',
      "value: integer 9007199254740993 is beyond ±2^53-1 and would be changed",
    ],
    [
      "an integer below -(2^53-1), deep in the value",
      '{"value": {"a": [0, 1, -9007199254740992]}}',
      "value.a[2]: integer -9007199254740992 is beyond ±2^53-1 and would be changed",
    ],
    [
      "an integer too long for a double, quoted short",
      `{"value": [${"9".repeat(400)}]}`,
      `value[0]: integer ${"9".repeat(40)}… is beyond ±2^53-1 and would be changed`,
    ],
    ["a lone high surrogate", '{"value": "\\ud800"}', "value: lone surrogate \\ud800 in a string"],
    ["a lone low surrogate", '{"value": ["ok", "x\\uDC00y"]}', "value[1]: lone surrogate \\udc00 in a string"],
    [
      "a high surrogate followed by a non-surrogate",
      '{"value": {"s": "\\ud83d\\u0041"}}',
      "value.s: lone surrogate \\ud83d in a string",
    ],
    [
      "a lone surrogate in a member name",
      '{"value": {"\\ud83d": 1}}',
      'value["\\ud83d"]: lone surrogate \\ud83d in a member name',
    ],
    ["a duplicate top-level key", '{"value": 1, "value": 2}', 'value: duplicate key "value"'],
    ["a duplicate key inside the value", '{"value": {"x": 1, "y": {"x": 2}, "x": 3}}', 'value.x: duplicate key "x"'],
    [
      "a duplicate key in an object in an array",
      '{"value": [{"a b": 1}, {"a b": 1, "a b": 2}]}',
      'value[1]["a b"]: duplicate key "a b"',
    ],
    [
      "a duplicate key written with different escapes",
      '{"value": {"k": 1, "\\u006b": 2}}',
      'value.k: duplicate key "k"',
    ],
  ])("%s → 400", async (_name, body, detail) => {
    const response = await postProposal(gw.url, body, { raw: true });
    expect(await expectRefused(response, "lossyJson")).toBe(detail);
  });

  it("applies after decompression", async () => {
    const response = await apiFetch(`${gw.url}/v1/proposals`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Content-Encoding": "gzip" },
      body: gzipSync('{"value": {"x": 1, "x": 2}}'),
    });
    expect(await expectRefused(response, "lossyJson")).toBe('value.x: duplicate key "x"');
  });

  it.each([
    ["a comment", '{"value": 1 /* one */}'],
    ["a trailing comma", '{"value": [1, 2,],}'],
    ["a single-quoted string", "{\"value\": 'x'}"],
    ["two documents", '{"value": 1} {"value": 2}'],
  ])("%s is still malformed JSON → 400", async (_name, body) => {
    const response = await postProposal(gw.url, body, { raw: true });
    expect(await expectRefused(response, "malformedJson")).toBe("The body is not valid JSON");
  });

  it("nesting as deep as the size limit allows is 400, not a stack overflow", async () => {
    const response = await postProposal(gw.url, `{"value": ${"[".repeat(8_000)}${"]".repeat(8_000)}}`, { raw: true });
    expect(await expectRefused(response, "invalidBody")).toMatch(/nests deeper than/);
  });

  it("a non-UTF charset is still 415", async () => {
    const response = await postProposal(gw.url, '{"value": 1}', {
      raw: true,
      contentType: "application/json; charset=iso-8859-1",
    });
    expect(response.status).toBe(415);
    expect(leader.received).toHaveLength(0);
  });
});

describe("POST /v1/proposals decides well-formed values at those limits unchanged", () => {
  it.each([
    ["±(2^53-1)", '{"value": [9007199254740991, -9007199254740991, 0]}', [9007199254740991, -9007199254740991, 0]],
    // Floats are floats: a fraction or an exponent means the nearest double (see strict-json-body.ts).
    [
      "big and long floats",
      '{"value": {"big": 1e300, "pi": 3.14159265358979323846, "f": 9007199254740993.0, "e": 1E20}}',
      { big: 1e300, pi: Math.PI, f: 9007199254740992, e: 1e20 },
    ],
    ["an escaped surrogate pair", '{"value": "\\ud83d\\ude00 and \\uD83D\\uDE00"}', "😀 and 😀"],
    ["a raw astral character", '{"value": "😀"}', "😀"],
    [
      "the same key in sibling and nested objects",
      '{"value": [{"x": 1}, {"x": {"x": 2}}]}',
      [{ x: 1 }, { x: { x: 2 } }],
    ],
    // -0 is the number 0: JSON.stringify writes it as 0, and same-json compares by value.
    ["-0", '{"value": [-0, -0.0]}', [0, 0]],
  ])("%s → 201", async (_name, body, value) => {
    const response = await postProposal(gw.url, body, { raw: true });
    expect(response.status).toBe(201);
    const answer = (await response.json()) as { value: unknown };
    expect(answer.value).toStrictEqual(value);
    expect(leader.received.map((request) => request.payload)).toStrictEqual([value]);
  });
});
