// The HTTP contract of the log reads (DESIGN.md, "REST API"): GET /v1/log/{index}, the paged
// GET /v1/log and the SSE stream GET /v1/log/stream (backlog, then live, in index order without
// gaps or repeats), over fetch against the gateway app on a MemoryBus with scripted learners.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { apiFetch, FakeCluster, postProposal, type RunningGateway, SseReader, startGateway } from "./harness.ts";

let cluster: FakeCluster;
let gw: RunningGateway;

beforeEach(async () => {
  cluster = new FakeCluster();
  cluster.proposer("p1-aaaaaaaa", 1).lead();
  gw = await startGateway(cluster);
});

afterEach(async () => {
  await gw.close();
  await cluster.stop();
});

async function getJson(path: string): Promise<{ status: number; type: string | null; body: unknown }> {
  const response = await apiFetch(`${gw.url}${path}`);
  return { status: response.status, type: response.headers.get("content-type"), body: await response.json() };
}

describe("GET /v1/log/{index}", () => {
  it("200 with the entry once decided, 404 problem before", async () => {
    cluster.decide("r0", { a: 1 });
    expect(await getJson("/v1/log/0")).toMatchObject({
      status: 200,
      body: { index: 0, value: { a: 1 }, requestId: "r0" },
    });
    const missing = await getJson("/v1/log/1");
    expect(missing.status).toBe(404);
    expect(missing.type).toMatch(/^application\/problem\+json/);
    expect(missing.body).toMatchObject({
      status: 404,
      title: expect.any(String) as unknown,
      detail: expect.any(String) as unknown,
    });
  });

  it("a lagging learner cannot hide an entry another learner has", async () => {
    cluster.decide("r0", "v");
    const [lagging] = cluster.learners;
    if (lagging === undefined) throw new Error("no learner");
    lagging.visibleEntries = 0;
    expect(await getJson("/v1/log/0")).toMatchObject({ status: 200, body: { index: 0, value: "v" } });
  });

  it.each(["-1", "1.5", "abc", "01", "1e3", "9007199254740992"])("400 for index %s", async (index) => {
    const response = await getJson(`/v1/log/${index}`);
    expect(response.status).toBe(400);
    expect(response.type).toMatch(/^application\/problem\+json/);
  });

  it("503 with Retry-After when no learner answers", async () => {
    for (const learner of cluster.learners) learner.stop();
    const response = await apiFetch(`${gw.url}/v1/log/0`);
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).not.toBeNull();
  });
});

describe("GET /v1/log", () => {
  it("pages through the log from the most advanced learner", async () => {
    for (let i = 0; i < 5; i++) cluster.decide(`r${i}`, i);
    const [lagging] = cluster.learners;
    if (lagging === undefined) throw new Error("no learner");
    lagging.visibleEntries = 1;
    expect(await getJson("/v1/log?from=1&limit=3")).toMatchObject({
      status: 200,
      body: {
        entries: [
          { index: 1, value: 1, requestId: "r1" },
          { index: 2, value: 2, requestId: "r2" },
          { index: 3, value: 3, requestId: "r3" },
        ],
        next: 4,
      },
    });
    expect(await getJson("/v1/log")).toMatchObject({ status: 200, body: { next: 5 } });
    expect(await getJson("/v1/log?from=9")).toMatchObject({ status: 200, body: { entries: [], next: 9 } });
  });

  it.each(["limit=0", "limit=1001", "limit=x", "from=-1", "from=1&from=2"])("400 for %s", async (query) => {
    const response = await getJson(`/v1/log?${query}`);
    expect(response.status).toBe(400);
    expect(response.type).toMatch(/^application\/problem\+json/);
  });
});

describe("GET /v1/log/stream", () => {
  async function openStream(query: string, headers: Record<string, string> = {}): Promise<SseReader> {
    const response = await apiFetch(`${gw.url}/v1/log/stream${query}`, { headers });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    return new SseReader(response);
  }

  it("sends the backlog in pages, then live entries, ids in index order without gaps or repeats", async () => {
    for (let i = 0; i < 5; i++) cluster.decide(`b${i}`, { n: i });
    const stream = await openStream("?from=1");
    for (let i = 1; i < 5; i++) {
      const event = await stream.next();
      expect(event.id).toBe(String(i));
      expect(JSON.parse(event.data)).toEqual({ index: i, value: { n: i }, requestId: `b${i}` });
    }
    // Live: proposals through the gateway and values decided directly both arrive, once each.
    expect((await postProposal(gw.url, { value: "live-5" })).status).toBe(201);
    cluster.decide("live-6", "live-6");
    const five = await stream.next();
    const six = await stream.next();
    expect([five.id, six.id]).toEqual(["5", "6"]);
    expect(JSON.parse(five.data)).toMatchObject({ index: 5, value: "live-5" });
    expect(JSON.parse(six.data)).toEqual({ index: 6, value: "live-6", requestId: "live-6" });
    // Two learners delivered each value: still no repeat.
    await expect(stream.next(300)).rejects.toThrow("no event in time");
    await stream.cancel();
  });

  it("fills a gap when live delivery events were lost", async () => {
    const stream = await openStream("");
    cluster.decide("g0", 0);
    expect((await stream.next()).id).toBe("0");
    // Decided without any delivery event reaching the gateway (lost at-most-once messages)...
    cluster.log.decide("g1", 1);
    cluster.log.decide("g2", 2);
    // ...then a live one beyond the gap: the stream reads the gap from the learners first.
    cluster.decide("g3", 3);
    const ids = [(await stream.next()).id, (await stream.next()).id, (await stream.next()).id];
    expect(ids).toEqual(["1", "2", "3"]);
    await stream.cancel();
  });

  it("resumes after Last-Event-ID", async () => {
    for (let i = 0; i < 3; i++) cluster.decide(`e${i}`, i);
    const stream = await openStream("", { "Last-Event-ID": "1" });
    expect((await stream.next()).id).toBe("2");
    await stream.cancel();
  });

  it("sends keepalive comments while idle", async () => {
    const stream = await openStream("");
    cluster.decide("k0", 0);
    await stream.next();
    await new Promise((resolve) => setTimeout(resolve, 450));
    cluster.decide("k1", 1);
    await stream.next();
    expect(stream.comments.filter((c) => c.startsWith(": keepalive")).length).toBeGreaterThanOrEqual(1);
    await stream.cancel();
  });

  it("stops cleanly when the client disconnects", async () => {
    const stream = await openStream("");
    const metrics = async (): Promise<string> => (await apiFetch(`${gw.url}/metrics`)).text();
    await expect.poll(metrics).toMatch(/^paxos_gateway_log_streams 1$/m);
    await stream.cancel();
    await expect.poll(metrics).toMatch(/^paxos_gateway_log_streams 0$/m);
    // Deliveries after the disconnect are not a problem for the gateway.
    cluster.decide("after", 1);
    expect((await apiFetch(`${gw.url}/healthz`)).status).toBe(200);
  });

  it("400 problem for a bad from, before the stream starts", async () => {
    const response = await apiFetch(`${gw.url}/v1/log/stream?from=-3`);
    expect(response.status).toBe(400);
    expect(response.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  });
});
