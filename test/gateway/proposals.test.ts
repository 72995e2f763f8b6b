// The HTTP contract of POST /v1/proposals (DESIGN.md, "REST API"): every status of the table,
// driven over fetch against the gateway app on a MemoryBus, with a scripted proposer and learners.
import { DEFAULT_LIMITS } from "@paxos/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  apiFetch,
  FakeCluster,
  type FakeProposer,
  keyedRequestId,
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

/** Checks the RFC 9457 shape every error must have, and returns the body. */
async function expectProblem(response: Response, status: number): Promise<Record<string, unknown>> {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  const body = (await response.json()) as Record<string, unknown>;
  expect(body).toMatchObject({ status, type: expect.stringMatching(/^urn:paxos:problem:/) as unknown });
  expect(typeof body["title"]).toBe("string");
  expect(typeof body["detail"]).toBe("string");
  expect(JSON.stringify(body)).not.toMatch(/\bat .*\.ts:\d+/);
  expect(body).not.toHaveProperty("stack");
  return body;
}

/** What the gateway asked of proposers and learners (background status reads excluded). */
function proposalTraffic(): unknown[] {
  return gw.sent.filter((s) => s.kind === "request" || (s.kind === "requestMany" && s.query?.op !== "status"));
}

describe("POST /v1/proposals", () => {
  it("201: the value is decided and answered with its index and request id", async () => {
    cluster.decide("earlier", "x");
    const response = await postProposal(gw.url, { value: { hello: ["world", 1] } });
    expect(response.status).toBe(201);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    expect(response.headers.get("location")).toBe("/v1/log/1");
    const body = (await response.json()) as { index: number; value: unknown; requestId: string };
    expect(body).toEqual({ index: 1, value: { hello: ["world", 1] }, requestId: expect.any(String) as unknown });
    expect(leader.received.map((r) => r.requestId)).toEqual([body.requestId]);
    expect(cluster.log.entries[1]?.requestId).toBe(body.requestId);
  });

  it("201 for null: a null value is a value", async () => {
    const response = await postProposal(gw.url, { value: null });
    expect(response.status).toBe(201);
    expect(await response.json()).toMatchObject({ index: 0, value: null });
  });

  it("200 with Idempotent-Replayed: a retry with the same key and body returns the same index, without proposing", async () => {
    const first = await postProposal(gw.url, { value: { n: 1, m: 2 } }, { key: "order-42" });
    expect(first.status).toBe(201);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    const created = (await first.json()) as { index: number };

    // Same JSON with members in another order is the same body.
    const retry = await postProposal(gw.url, { value: { m: 2, n: 1 } }, { key: "order-42" });
    expect(retry.status).toBe(200);
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
    expect(await retry.json()).toEqual({ index: created.index, value: { n: 1, m: 2 }, requestId: "order-42" });
    expect(leader.received).toHaveLength(1);
  });

  it("200 with Idempotent-Replayed after a gateway restart (the key is looked up in the learners)", async () => {
    cluster.decide(keyedRequestId("k-restart"), "v");
    await gw.close();
    gw = await startGateway(cluster);
    const response = await postProposal(gw.url, { value: "v" }, { key: "k-restart" });
    expect(response.status).toBe(200);
    expect(response.headers.get("idempotent-replayed")).toBe("true");
    expect(await response.json()).toEqual({ index: 0, value: "v", requestId: "k-restart" });
    expect(leader.received).toHaveLength(0);
  });

  it("200 with Idempotent-Replayed when the first delivery is a duplicate (the lookup missed it)", async () => {
    cluster.decide(keyedRequestId("k-dup"), [1, 2]);
    for (const learner of cluster.learners) learner.hideLookups = true;
    const response = await postProposal(gw.url, { value: [1, 2] }, { key: "k-dup" });
    expect(response.status).toBe(200);
    expect(response.headers.get("idempotent-replayed")).toBe("true");
    expect(await response.json()).toEqual({ index: 0, value: [1, 2], requestId: "k-dup" });
    expect(leader.received).toHaveLength(1);
  });

  it("422: the same key with another body", async () => {
    cluster.decide(keyedRequestId("k-conflict"), "first");
    const response = await postProposal(gw.url, { value: "second" }, { key: "k-conflict" });
    const body = await expectProblem(response, 422);
    expect(body["requestId"]).toBe("k-conflict");
    expect(leader.received).toHaveLength(0);
  });

  it("422: a duplicate delivery whose first value differs", async () => {
    cluster.decide(keyedRequestId("k-conflict-2"), "first");
    for (const learner of cluster.learners) learner.hideLookups = true;
    await expectProblem(await postProposal(gw.url, { value: "second" }, { key: "k-conflict-2" }), 422);
  });

  it("409: the same key while the first request is still in flight here", async () => {
    leader.deliverAfterMs = 300;
    const first = postProposal(gw.url, { value: 1 }, { key: "k-busy" });
    // Wait until the first request reached the leader, then retry it.
    await expect.poll(() => leader.received.length).toBe(1);
    const second = await postProposal(gw.url, { value: 1 }, { key: "k-busy" });
    const body = await expectProblem(second, 409);
    expect(body["requestId"]).toBe("k-busy");
    expect((await first).status).toBe(201);
    expect(leader.received).toHaveLength(1);
  });

  it("follows a notLeader hint to the real leader", async () => {
    const real = cluster.proposer("p2-bbbbbbbb", 2);
    leader.script = () => ({ status: "notLeader", leaderHint: real.proposerId });
    const response = await postProposal(gw.url, { value: "hinted" });
    expect(response.status).toBe(201);
    expect(leader.received).toHaveLength(1);
    expect(real.received).toHaveLength(1);
  });

  it("follows the highest ballot heard", async () => {
    const higher = cluster.proposer("p0-cccccccc", 9).lead();
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect((await postProposal(gw.url, { value: 1 })).status).toBe(201);
    expect(higher.received).toHaveLength(1);
    expect(leader.received).toHaveLength(0);
  });

  it("proposes again to a new leader when the one holding the request goes silent", async () => {
    leader.deliver = false;
    const response = postProposal(gw.url, { value: "survives" }, { key: "k-failover" });
    await expect.poll(() => leader.received.length).toBe(1);
    leader.silence();
    const successor = cluster.proposer("p2-bbbbbbbb", 4).lead();
    expect((await response).status).toBe(201);
    expect(successor.received.map((r) => r.requestId)).toEqual([keyedRequestId("k-failover")]);
  });

  it("503 with Retry-After when no leader is known", async () => {
    leader.silence();
    await new Promise((resolve) => setTimeout(resolve, 450));
    const response = await postProposal(gw.url, { value: 1 });
    await expectProblem(response, 503);
    expect(Number(response.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(leader.received).toHaveLength(0);
  });

  it("503 with Retry-After when every proposer refuses", async () => {
    leader.script = () => ({ status: "notLeader", leaderHint: null });
    const response = await postProposal(gw.url, { value: 1 });
    await expectProblem(response, 503);
    expect(response.headers.get("retry-after")).not.toBeNull();
  });

  it("503 with Retry-After when the leader is overloaded", async () => {
    leader.script = () => ({ status: "overloaded", leaderHint: null });
    const response = await postProposal(gw.url, { value: 1 });
    await expectProblem(response, 503);
    expect(response.headers.get("retry-after")).not.toBeNull();
  });

  it("504 when the request was queued but not decided in time", async () => {
    leader.deliver = false;
    const startedAt = Date.now();
    const response = await postProposal(gw.url, { value: 1 }, { key: "k-slow" });
    const body = await expectProblem(response, 504);
    expect(body["requestId"]).toBe("k-slow");
    expect(Date.now() - startedAt).toBeLessThan(3_000);
  });

  it("504 when the leader never answers (it may hold the request)", async () => {
    leader.script = () => "silent";
    await expectProblem(await postProposal(gw.url, { value: 1 }), 504);
  });

  it("413 when the leader refuses the value as too large", async () => {
    leader.script = () => ({ status: "tooLarge", leaderHint: null });
    await expectProblem(await postProposal(gw.url, { value: 1 }), 413);
  });
});

describe("POST /v1/proposals refuses malformed requests and proposes nothing for them", () => {
  it.each([
    ["bad JSON", 400, () => postProposal(gw.url, '{"value": ', { raw: true })],
    ["a JSON array", 400, () => postProposal(gw.url, [1, 2])],
    ["a missing value", 400, () => postProposal(gw.url, { valeu: 1 })],
    ["an unknown member", 400, () => postProposal(gw.url, { value: 1, extra: true })],
    ["an empty body", 400, () => postProposal(gw.url, "", { raw: true })],
    ["a number too large for JSON", 400, () => postProposal(gw.url, '{"value": 1e400}', { raw: true })],
    [
      "a value nested too deep",
      400,
      () => postProposal(gw.url, { value: JSON.parse("[".repeat(30) + "]".repeat(30)) as unknown }),
    ],
    ["an empty Idempotency-Key", 400, () => postProposal(gw.url, { value: 1 }, { key: "" })],
    ["an Idempotency-Key with spaces", 400, () => postProposal(gw.url, { value: 1 }, { key: "a b" })],
    ["an Idempotency-Key of 201 chars", 400, () => postProposal(gw.url, { value: 1 }, { key: "k".repeat(201) })],
    ["a body over the limit", 413, () => postProposal(gw.url, { value: "x".repeat(70_000) })],
    ["text/plain", 415, () => postProposal(gw.url, '{"value":1}', { raw: true, contentType: "text/plain" })],
    [
      "form data",
      415,
      () => postProposal(gw.url, "value=1", { raw: true, contentType: "application/x-www-form-urlencoded" }),
    ],
    [
      "no content type",
      415,
      () => apiFetch(`${gw.url}/v1/proposals`, { method: "POST", body: new Uint8Array([123, 125]) }),
    ],
  ] as const)("%s → %i", async (_name, status, send) => {
    const response = await send();
    await expectProblem(response, status);
    expect(proposalTraffic()).toEqual([]);
    expect(leader.received).toHaveLength(0);
  });

  it("accepts a 200-char key and application/merge-patch+json-style types", async () => {
    const key = "A-z_0.9~:+/=".padEnd(200, "k");
    const response = await postProposal(
      gw.url,
      { value: 1 },
      { key, contentType: "application/vnd.paxos+json; charset=utf-8" },
    );
    expect(response.status).toBe(201);
    expect(((await response.json()) as { requestId: string }).requestId).toBe(key);
  });
});

describe("the cluster's protocol limits (PAXOS_LIMITS) bound what the gateway takes", () => {
  it("a value over their requestBytesMax is 413, deeper than their payloadDepthMax 400, and neither is proposed", async () => {
    await gw.close();
    gw = await startGateway(cluster, {}, {}, undefined, {
      ...DEFAULT_LIMITS,
      requestBytesMax: 2_000,
      payloadDepthMax: 4,
    });
    // Both pass under the default limits.
    await expectProblem(await postProposal(gw.url, { value: "x".repeat(3_000) }), 413);
    await expectProblem(await postProposal(gw.url, { value: [[[[[1]]]]] }), 400);
    expect(leader.received).toHaveLength(0);
    expect((await postProposal(gw.url, { value: "x".repeat(1_000) })).status).toBe(201);
    expect(leader.received).toHaveLength(1);
  });
});
