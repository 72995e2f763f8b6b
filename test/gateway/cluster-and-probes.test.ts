// The gateway's status endpoints (DESIGN.md, "REST API"): GET /v1/cluster from heartbeats,
// acceptor statuses and learner status reads; /healthz, /readyz (a leader heard recently) and
// /metrics; and that unknown routes and methods are problem+json too, never express's defaults.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { apiFetch, FakeCluster, postProposal, type RunningGateway, startGateway } from "./harness.ts";

let cluster: FakeCluster;
let gw: RunningGateway;

beforeEach(async () => {
  cluster = new FakeCluster(["l2", "l1"]);
  gw = await startGateway(cluster);
});

afterEach(async () => {
  await gw.close();
  await cluster.stop();
});

describe("GET /v1/cluster", () => {
  it("reports the leader, every configured acceptor, the learners and the last decided index", async () => {
    const leader = cluster.proposer("p1-aaaaaaaa", 4).lead();
    cluster.decide("r0", 0);
    cluster.decide("r1", 1);
    cluster.acceptorStatus("a1", 4, leader.proposerId);
    cluster.acceptorStatus("zz", 4, leader.proposerId); // not configured: ignored
    await new Promise((resolve) => setTimeout(resolve, 50));
    const [lagging] = cluster.learners;
    if (lagging === undefined) throw new Error("no learner");
    lagging.visibleEntries = 1;

    const response = await apiFetch(`${gw.url}/v1/cluster`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toEqual({
      leader: { proposerId: "p1-aaaaaaaa", ballot: { round: 4, proposerId: "p1-aaaaaaaa" } },
      acceptors: [
        {
          acceptorId: "a1",
          promised: { round: 4, proposerId: "p1-aaaaaaaa" },
          acceptedSlots: 2,
          storage: "ok",
          lastSeenMs: expect.any(Number) as unknown,
        },
        { acceptorId: "a2", promised: null, acceptedSlots: null, storage: "unknown", lastSeenMs: null },
        { acceptorId: "a3", promised: null, acceptedSlots: null, storage: "unknown", lastSeenMs: null },
      ],
      learners: [
        { learnerId: "l1", nextIndex: 2, nextSlot: 2, gapSlots: 0 },
        { learnerId: "l2", nextIndex: 1, nextSlot: 1, gapSlots: 0 },
      ],
      lastDecidedIndex: 1,
    });
  });

  it("reports no leader and nothing decided on a silent cluster", async () => {
    const body = (await (await apiFetch(`${gw.url}/v1/cluster`)).json()) as Record<string, unknown>;
    expect(body).toMatchObject({ leader: null, lastDecidedIndex: null });
  });
});

describe("probes and metrics", () => {
  it("/healthz is 200 while the process runs", async () => {
    const response = await apiFetch(`${gw.url}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ok" });
  });

  it("/readyz is 503 without a leader, 200 once one is heard, 503 again once it is silent", async () => {
    const notReady = await apiFetch(`${gw.url}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toMatchObject({ ready: false, leader: null });

    const leader = cluster.proposer("p1-aaaaaaaa", 1).lead();
    await expect.poll(async () => (await apiFetch(`${gw.url}/readyz`)).status).toBe(200);

    leader.silence();
    await expect.poll(async () => (await apiFetch(`${gw.url}/readyz`)).status).toBe(503);
  });

  it("/metrics counts requests by route pattern and status, with a duration histogram", async () => {
    cluster.proposer("p1-aaaaaaaa", 1).lead();
    expect((await postProposal(gw.url, { value: 1 })).status).toBe(201);
    expect((await postProposal(gw.url, "nope", { raw: true })).status).toBe(400);
    expect((await apiFetch(`${gw.url}/v1/log/7`)).status).toBe(404);
    const response = await apiFetch(`${gw.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/plain/);
    const text = await response.text();
    expect(text).toMatch(/^paxos_gateway_requests_total\{route="\/v1\/proposals",status="201"\} 1$/m);
    expect(text).toMatch(/^paxos_gateway_requests_total\{route="\/v1\/proposals",status="400"\} 1$/m);
    expect(text).toMatch(/^paxos_gateway_requests_total\{route="\/v1\/log\/:index",status="404"\} 1$/m);
    expect(text).toMatch(
      /^paxos_gateway_request_duration_seconds_bucket\{le="\+Inf",route="\/v1\/proposals",status="201"\} 1$/m,
    );
    expect(text).toMatch(/^paxos_gateway_proposals_total\{outcome="created"\} 1$/m);
  });
});

describe("routing", () => {
  it("404 problem for an unknown path", async () => {
    const response = await apiFetch(`${gw.url}/v2/nothing`);
    expect(response.status).toBe(404);
    expect(response.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(await response.json()).toMatchObject({ status: 404, type: "urn:paxos:problem:routeNotFound" });
  });

  it("405 problem with Allow for a wrong method", async () => {
    const response = await apiFetch(`${gw.url}/v1/proposals`);
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("POST");
    expect(response.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    const deleted = await apiFetch(`${gw.url}/v1/log/0`, { method: "DELETE" });
    expect(deleted.status).toBe(405);
    expect(deleted.headers.get("allow")).toBe("GET");
  });

  it("never names express", async () => {
    const response = await apiFetch(`${gw.url}/healthz`);
    expect(response.headers.get("x-powered-by")).toBeNull();
  });
});
