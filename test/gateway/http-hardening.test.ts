// The gateway's answers to hostile or broken HTTP (issue 10, item 5): malformed URIs and bodies
// that do not decompress are 400 problems (not 500), every answer carries the security headers,
// slow clients are cut by the server limits while an open log stream or a waiting POST is not,
// and the answers Node writes itself (408, 431, 400) are problems too. Real HTTP (fetch, and raw
// sockets for the slow and broken clients) against the gateway app on a MemoryBus.
import { connect } from "node:net";
import { gzipSync } from "node:zlib";
import type { GatewayLimits, GatewayServerLimits } from "@paxos/gateway-app";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  apiFetch,
  FakeCluster,
  type FakeProposer,
  postProposal,
  type RunningGateway,
  SseReader,
  startGateway,
  TEST_TOKEN,
} from "./harness.ts";

let cluster: FakeCluster;
let leader: FakeProposer;
let gw: RunningGateway | null = null;

beforeEach(() => {
  cluster = new FakeCluster();
  leader = cluster.proposer("p1-aaaaaaaa", 3).lead();
});

afterEach(async () => {
  await gw?.close();
  gw = null;
  await cluster.stop();
});

/** Starts the gateway of this test (closed after it). */
async function started(
  limits: Partial<GatewayLimits> = {},
  serverLimits: Partial<GatewayServerLimits> = {},
): Promise<RunningGateway> {
  gw = await startGateway(cluster, limits, serverLimits);
  return gw;
}

/** Checks the problem shape and the headers every error must carry; returns the body. */
async function expectProblem(response: Response, status: number): Promise<Record<string, unknown>> {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  expect(response.headers.get("cache-control")).toBe("no-store");
  expect(response.headers.get("x-content-type-options")).toBe("nosniff");
  const body = (await response.json()) as Record<string, unknown>;
  expect(body).toMatchObject({ status, type: expect.stringMatching(/^urn:paxos:problem:/) as unknown });
  expect(JSON.stringify(body)).not.toMatch(/\bat .*\.ts:\d+|URIError|decodeURIComponent/);
  return body;
}

function postRaw(url: string, body: Uint8Array | string, headers: Record<string, string>): Promise<Response> {
  return apiFetch(`${url}/v1/proposals`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body,
  });
}

describe("malformed URIs are 400 problems, not 500", () => {
  it.each([
    ["GET", "/v1/log/%ZZ"],
    ["GET", "/v1/log/%E0%A4%A"],
    ["GET", "/v1/log/%C0%80"],
    ["POST", "/v1/log/%ZZ"],
  ])("%s %s", async (method, path) => {
    const { url } = await started();
    const body = await expectProblem(await apiFetch(`${url}${path}`, { method }), 400);
    expect(body["detail"]).toMatch(/^Malformed URI: /);
  });

  it("a long malformed path is not repeated in full", async () => {
    const { url } = await started();
    const path = `/v1/log/%ZZ${"a".repeat(5_000)}`;
    const body = await expectProblem(await apiFetch(`${url}${path}`), 400);
    expect(String(body["detail"]).length).toBeLessThan(400);
  });
});

describe("a body that does not decompress is a 400 problem, not 500", () => {
  it.each([
    ["gzip", "not gzip at all"],
    ["gzip", gzipSync(JSON.stringify({ value: "cut" })).subarray(0, 12)],
    ["deflate", "not deflate"],
    ["br", "not brotli either, surely"],
    ["zstd", "nor zstd"],
  ])("Content-Encoding: %s", async (encoding, body) => {
    const { url } = await started();
    const problem = await expectProblem(await postRaw(url, body, { "Content-Encoding": encoding }), 400);
    expect(problem["detail"]).toMatch(/decompress/);
    expect(leader.received).toEqual([]);
  });

  it("a well-formed gzip body is read (control)", async () => {
    const { url } = await started();
    const response = await postRaw(url, gzipSync(JSON.stringify({ value: "zipped" })), { "Content-Encoding": "gzip" });
    expect(response.status).toBe(201);
    expect(await response.json()).toMatchObject({ value: "zipped" });
  });

  it("an unknown encoding stays 415", async () => {
    const { url } = await started();
    await expectProblem(await postRaw(url, "x", { "Content-Encoding": "snappy" }), 415);
  });
});

describe("security headers", () => {
  it("nosniff on successes, problems and the stream; no-store on every problem", async () => {
    const { url } = await started();
    const ok = await apiFetch(`${url}/healthz`);
    expect(ok.status).toBe(200);
    expect(ok.headers.get("x-content-type-options")).toBe("nosniff");
    const created = await postProposal(url, { value: 1 });
    expect(created.status).toBe(201);
    expect(created.headers.get("x-content-type-options")).toBe("nosniff");
    await expectProblem(await apiFetch(`${url}/nope`), 404);
    await expectProblem(await apiFetch(`${url}/v1/log`, { method: "DELETE" }), 405);
    await expectProblem(await apiFetch(`${url}/v1/log/abc`), 400);
    await expectProblem(await apiFetch(`${url}/v1/log/99`), 404);
    await expectProblem(await postProposal(url, "{", { raw: true }), 400);
    const stream = await apiFetch(`${url}/v1/log/stream`);
    expect(stream.headers.get("x-content-type-options")).toBe("nosniff");
    await stream.body?.cancel();
  });

  it("no-store on a 503 problem", async () => {
    leader.stop();
    const { url } = await started();
    await expectProblem(await postProposal(url, { value: 1 }), 503);
  });
});

/**
 * Checks that a raw HTTP answer (status line, headers, body, as a socket received it) is a
 * complete problem response of `status` that closes the connection; returns the problem.
 */
function expectRawProblem(answer: string, status: number): Record<string, unknown> {
  const [head = "", body = ""] = answer.split("\r\n\r\n", 2);
  const [statusLine, ...lines] = head.split("\r\n");
  expect(statusLine).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
  const headers = new Map(
    lines.map((line) => [line.slice(0, line.indexOf(":")).toLowerCase(), line.slice(line.indexOf(":") + 1).trim()]),
  );
  expect(headers.get("content-type")).toMatch(/^application\/problem\+json/);
  expect(headers.get("cache-control")).toBe("no-store");
  expect(headers.get("x-content-type-options")).toBe("nosniff");
  expect(headers.get("connection")).toBe("close");
  expect(Number(headers.get("content-length"))).toBe(Buffer.byteLength(body, "latin1"));
  const problem = JSON.parse(body) as Record<string, unknown>;
  expect(problem).toMatchObject({ status, type: expect.stringMatching(/^urn:paxos:problem:/) as unknown });
  expect(typeof problem["title"]).toBe("string");
  return problem;
}

/**
 * Opens a raw connection to `url`, writes `head` and then `drip` every `everyMs` (bytes keep
 * flowing, so only a total deadline can stop it), and resolves when the server closes the
 * connection, with what it answered and how long that took; `giveUpMs` later it resolves with
 * `closed: false`.
 */
function slowClient(
  url: string,
  head: string,
  drip: string,
  everyMs: number,
  giveUpMs: number,
): Promise<{ closed: boolean; afterMs: number; answer: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const startedAt = Date.now();
    let answer = "";
    const socket = connect(Number(port), hostname, () => socket.write(head));
    const dripping = setInterval(() => {
      if (!socket.destroyed && socket.writable) socket.write(drip);
    }, everyMs);
    const finish = (closed: boolean): void => {
      clearInterval(dripping);
      clearTimeout(giveUp);
      socket.destroy();
      resolve({ closed, afterMs: Date.now() - startedAt, answer });
    };
    const giveUp = setTimeout(() => finish(false), giveUpMs);
    socket.on("data", (chunk: Buffer) => (answer += chunk.toString("latin1")));
    socket.on("error", () => undefined);
    socket.on("close", () => finish(true));
  });
}

describe("slow clients are cut by the server limits", () => {
  const SHORT = { headersTimeoutMs: 300, requestTimeoutMs: 500, keepAliveTimeoutMs: 200, timeoutsCheckIntervalMs: 25 };

  it("a client sending its headers slower than headersTimeout is answered 408 and closed", async () => {
    const { url } = await started({}, SHORT);
    const result = await slowClient(url, "GET /healthz HTTP/1.1\r\nHost: gw\r\n", "X-Slow: 1\r\n", 50, 3_000);
    expect(result.closed).toBe(true);
    expect(result.answer).toMatch(/^HTTP\/1\.1 408/);
    expect(expectRawProblem(result.answer, 408)["type"]).toBe("urn:paxos:problem:requestTimeout");
    expect(result.afterMs).toBeGreaterThanOrEqual(SHORT.headersTimeoutMs - 50);
    expect(result.afterMs).toBeLessThan(SHORT.headersTimeoutMs + 1_000);
  });

  it("a client sending its body slower than requestTimeout is answered 408 and closed", async () => {
    const { url } = await started({}, SHORT);
    const head =
      "POST /v1/proposals HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n" +
      `Authorization: Bearer ${TEST_TOKEN}\r\n\r\n`;
    const result = await slowClient(url, head, " ", 50, 3_000);
    expect(result.closed).toBe(true);
    expect(result.answer).toMatch(/^HTTP\/1\.1 408/);
    expectRawProblem(result.answer, 408);
    expect(result.afterMs).toBeLessThan(SHORT.requestTimeoutMs + 1_000);
    expect(leader.received).toEqual([]);
  });

  it("an idle keep-alive connection is closed after keepAliveTimeout", async () => {
    const { url } = await started({}, SHORT);
    const result = await slowClient(url, "GET /healthz HTTP/1.1\r\nHost: gw\r\n\r\n", "", 1_000_000, 4_000);
    expect(result.closed).toBe(true);
    expect(result.answer).toMatch(/^HTTP\/1\.1 200/);
    // Node closes the socket its keepAliveTimeoutBuffer (1 s) after the announced timeout.
    expect(result.afterMs).toBeLessThan(SHORT.keepAliveTimeoutMs + 1_000 + 1_000);
  });

  it("an open log stream outlives every timeout, silent or not", async () => {
    // No keepalive comments within the test: the stream is silent the whole time.
    const { url } = await started({ streamKeepaliveMs: 60_000 }, SHORT);
    const response = await apiFetch(`${url}/v1/log/stream`);
    expect(response.status).toBe(200);
    const stream = new SseReader(response);
    await new Promise((resolve) => setTimeout(resolve, 4 * SHORT.requestTimeoutMs));
    cluster.decide("late", "late");
    expect(await stream.next()).toMatchObject({ id: "0" });
    await stream.cancel();
  });

  it("a POST waiting for its decision longer than requestTimeout is answered", async () => {
    const { url } = await started({}, SHORT);
    leader.deliverAfterMs = 2 * SHORT.requestTimeoutMs;
    const response = await postProposal(url, { value: "slow decision" });
    expect(response.status).toBe(201);
  });

  it("production defaults: requestTimeout exceeds the proposal timeout, headersTimeout is at most it", async () => {
    const { gateway } = await started({ proposalTimeoutMs: 10_000 });
    const limits = gateway.serverLimits;
    expect(limits.requestTimeoutMs).toBeGreaterThan(10_000);
    expect(limits.headersTimeoutMs).toBeLessThanOrEqual(limits.requestTimeoutMs);
    expect(limits.timeoutsCheckIntervalMs).toBeLessThanOrEqual(1_000);
  });
});

describe("the answers Node writes itself are problems", () => {
  /** Writes `request` on a raw connection and resolves with all the server answered before it closed. */
  async function exchange(url: string, request: string): Promise<string> {
    const result = await slowClient(url, request, "", 1_000_000, 3_000);
    expect(result.closed).toBe(true);
    return result.answer;
  }

  it("431 for headers larger than headerBytesMax", async () => {
    const { url } = await started({}, { headerBytesMax: 1_024 });
    const answer = await exchange(url, `GET /healthz HTTP/1.1\r\nHost: gw\r\nX-Big: ${"b".repeat(2_000)}\r\n\r\n`);
    expect(expectRawProblem(answer, 431)["type"]).toBe("urn:paxos:problem:headersTooLarge");
  });

  it.each([
    ["a request line that is not HTTP", "NOT HTTP AT ALL\r\n\r\n"],
    ["a header without a colon", "GET /healthz HTTP/1.1\r\nHost: gw\r\nno colon here\r\n\r\n"],
    ["a bad Content-Length", "POST /v1/proposals HTTP/1.1\r\nHost: gw\r\nContent-Length: ten\r\n\r\n"],
  ])("400 for %s", async (_name, request) => {
    const { url } = await started();
    const answer = await exchange(url, request);
    expect(expectRawProblem(answer, 400)["type"]).toBe("urn:paxos:problem:badRequest");
    expect(leader.received).toEqual([]);
  });

  it("a well-formed request on a raw socket is answered by the app (control)", async () => {
    const { url } = await started();
    const answer = await exchange(url, "GET /healthz HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n");
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
  });
});
