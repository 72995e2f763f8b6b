// The REST API end to end, every piece a real process (nats-server, a redis-server per acceptor,
// 3 acceptors, 2 proposers, 2 learners, 2 gateways): proposals through either gateway are decided
// once, at the index they were acknowledged with, and read back the same from both gateways and
// both learners (also under 200 concurrent requests); malformed requests are refused with
// problem+json before anything reaches the bus; Idempotency-Key replays survive a gateway restart.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import type { JsonValue } from "@paxos/core";
import { scopedRequestId } from "@paxos/gateway-app";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { E2eCluster, type GatewayProcess, startGateway, waitGatewayReady } from "./support/e2e-cluster.ts";
import {
  entryOf,
  expectProblem,
  http,
  type HttpAnswer,
  type LogEntry,
  postProposalRetrying,
  readLogFromGateway,
  readLogsFromLearners,
  sleep,
} from "./support/http.ts";

/**
 * The request id the log records for `key`: these gateways run with PAXOS_AUTH=none, so every
 * client is "anonymous", and a key is scoped to its client (answers still show the key itself).
 */
const loggedId = (key: string): string => scopedRequestId("anonymous", key);

describe("REST gateway over a cluster of real processes", () => {
  let cluster: E2eCluster;
  let gwA: GatewayProcess;
  let gwB: GatewayProcess;

  beforeAll(async () => {
    cluster = await E2eCluster.start("e2eapi");
    gwA = cluster.gateway(0);
    gwB = cluster.gateway(1);
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
  }, 30_000);

  it("decides a proposal and serves it from both gateways and both learners", async () => {
    const value = { note: "first", at: 1 };
    const created = await postProposalRetrying(gwA.url, value);
    expect(created.status, created.text).toBe(201);
    const entry = entryOf(created);
    expect(entry.value).toEqual(value);
    expect(created.headers.get("location")).toBe(`/v1/log/${entry.index}`);

    for (const gateway of [gwA, gwB]) {
      const read = await http(`${gateway.url}/v1/log/${entry.index}`);
      expect(read.status, `${gateway.proc.name}: ${read.text}`).toBe(200);
      expect(read.body).toEqual(entry);
    }
    await cluster.waitLearnersAt(entry.index + 1, 5_000);
    const [fromL1, fromL2] = await readLogsFromLearners(
      cluster.client.bus,
      cluster.client.subjects,
      2,
      entry.index + 1,
    );
    expect(fromL1?.[entry.index]).toEqual(entry);
    expect(fromL2?.[entry.index]).toEqual(entry);
  }, 30_000);

  it("acknowledges 200 concurrent proposals once each, at the index the log holds them", async () => {
    const clients = 20;
    const perClient = 10;
    type Ack = { readonly value: JsonValue; readonly key: string | null; readonly answer: HttpAnswer };
    const acks: Ack[] = [];
    await Promise.all(
      Array.from({ length: clients }, async (_, c) => {
        for (let j = 0; j < perClient; j++) {
          const n = c * perClient + j;
          const value = { client: c, seq: j, tag: `concurrent-${n}` };
          const key = n % 2 === 0 ? `concurrent-key-${n}` : null;
          const gateway = (c + j) % 2 === 0 ? gwA : gwB;
          const answer = await postProposalRetrying(gateway.url, value, key === null ? {} : { key });
          acks.push({ value, key, answer });
        }
      }),
    );
    const refused = acks.filter((a) => a.answer.status !== 201 && a.answer.status !== 200);
    expect(
      refused.map((a) => `${a.answer.status} ${a.answer.text}`),
      "every request must be answered 201 (or 200 for a replay)",
    ).toEqual([]);
    const acknowledged = acks.map((a) => ({ ...a, entry: entryOf(a.answer) }));

    const highest = Math.max(...acknowledged.map((a) => a.entry.index));
    await cluster.waitLearnersAt(highest + 1, 10_000);
    const logs: LogEntry[][] = [
      await readLogFromGateway(gwA.url),
      await readLogFromGateway(gwB.url),
      ...(await readLogsFromLearners(cluster.client.bus, cluster.client.subjects, 2, highest + 1)),
    ];
    const [reference = []] = logs;

    // Disagreements: indexes where any of the four logs differs from gateway A's (or is missing).
    const length = Math.max(...logs.map((log) => log.length));
    let disagreements = 0;
    for (let i = 0; i < length; i++) {
      const first = JSON.stringify(reference[i] ?? null);
      if (logs.some((log) => JSON.stringify(log[i] ?? null) !== first)) disagreements++;
    }
    for (const log of logs) log.forEach((e, i) => expect(e.index).toBe(i));

    // Duplicates: extra occurrences of any value in the whole log.
    const occurrences = new Map<string, number[]>();
    for (const e of reference) {
      const k = JSON.stringify(e.value);
      occurrences.set(k, [...(occurrences.get(k) ?? []), e.index]);
    }
    const duplicates = [...occurrences.values()].reduce((sum, at) => sum + at.length - 1, 0);

    let inLog = 0;
    let wrongIndex = 0;
    for (const { value, key, entry } of acknowledged) {
      const at = occurrences.get(JSON.stringify(value)) ?? [];
      if (at.length > 0) inLog++;
      const logged = reference[entry.index];
      const right =
        at.length === 1 &&
        at[0] === entry.index &&
        JSON.stringify(entry.value) === JSON.stringify(value) &&
        // The log knows a keyed request by the id derived from the client and its key.
        logged?.requestId === (key === null ? entry.requestId : loggedId(key)) &&
        (key === null || entry.requestId === key);
      if (!right) wrongIndex++;
    }
    console.log(
      `concurrent: acknowledged=${acknowledged.length} inLog=${inLog} duplicates=${duplicates} disagreements=${disagreements} wrongIndex=${wrongIndex}`,
    );
    expect({ acknowledged: acknowledged.length, inLog, duplicates, disagreements, wrongIndex }).toEqual({
      acknowledged: clients * perClient,
      inLog: clients * perClient,
      duplicates: 0,
      disagreements: 0,
      wrongIndex: 0,
    });
  }, 60_000);

  it("refuses malformed requests with problem+json and proposes nothing for them", async () => {
    const proposeMessages: string[] = [];
    // The whole propose tree, wider than any role may subscribe to: the test-only observer watches it.
    const observer = await cluster.connectObserver();
    const subscription = observer.subscribe(`${cluster.client.subjects.prefix}.propose.>`, (m) => {
      proposeMessages.push(new TextDecoder().decode(m.data));
    });
    try {
      await observer.flush();
      const post = (body: string, headers: Record<string, string> = { "Content-Type": "application/json" }) =>
        http(`${gwA.url}/v1/proposals`, { method: "POST", body, headers });
      const cases: [string, Promise<HttpAnswer>, number][] = [
        ["bad JSON", post('{"value": '), 400],
        ["no value", post("{}"), 400],
        ["unknown member", post('{"value": 1, "extra": 2}'), 400],
        ["not an object", post("[1, 2]"), 400],
        ["body over the size limit", post(JSON.stringify({ value: "x".repeat(64 * 1024) })), 413],
        ["text/plain", post('{"value": 1}', { "Content-Type": "text/plain" }), 415],
        [
          "bad Idempotency-Key",
          post('{"value": 1}', { "Content-Type": "application/json", "Idempotency-Key": "has space" }),
          400,
        ],
        ["GET /v1/log/abc", http(`${gwA.url}/v1/log/abc`), 400],
        ["GET /v1/log/-1", http(`${gwA.url}/v1/log/-1`), 400],
        ["GET /v1/log/999999", http(`${gwB.url}/v1/log/999999`), 404],
        ["GET /v1/log?limit=0", http(`${gwA.url}/v1/log?limit=0`), 400],
        ["GET /v1/log?limit=100000", http(`${gwB.url}/v1/log?limit=100000`), 400],
        ["GET /v1/log?from=x", http(`${gwA.url}/v1/log?from=x`), 400],
      ];
      for (const [what, pending, status] of cases) {
        const answer = await pending;
        expect(answer.status, `${what}: ${answer.text}`).toBe(status);
        expectProblem(answer, status);
      }
      await observer.flush();
      await sleep(300);
      expect(proposeMessages, "a refused request must not reach the proposers").toEqual([]);

      const created = await postProposalRetrying(gwA.url, "after the malformed ones");
      expect(created.status, created.text).toBe(201);
      const { requestId } = entryOf(created);
      expect(proposeMessages.some((text) => text.includes(requestId))).toBe(true);
    } finally {
      subscription.unsubscribe();
      await observer.close();
    }
  }, 30_000);

  it("replays an Idempotency-Key, also after the gateway restarts, and refuses it in flight", async () => {
    const key = `idem-${randomBytes(6).toString("hex")}`;
    const value = { order: 42, items: ["a", "b"] };
    const created = await postProposalRetrying(gwA.url, value, { key });
    expect(created.status, created.text).toBe(201);
    const { index } = entryOf(created);

    for (const gateway of [gwA, gwB]) {
      const replay = await postProposalRetrying(gateway.url, value, { key });
      expect(replay.status, replay.text).toBe(200);
      expect(replay.headers.get("idempotent-replayed")).toBe("true");
      expect(entryOf(replay)).toEqual({ index, value, requestId: key });
    }
    const reused = await postProposalRetrying(gwA.url, { order: 43 }, { key });
    expect(expectProblem(reused, 422)).toMatchObject({ index });

    expect(await gwA.proc.stop("SIGTERM")).toBe(0);
    // C takes A's place, under A's NATS identity.
    const gwC = await startGateway(cluster.where, "C", "g1");
    cluster.gateways.push(gwC);
    await waitGatewayReady(gwC, 15_000);
    const afterRestart = await postProposalRetrying(gwC.url, value, { key });
    expect(afterRestart.status, afterRestart.text).toBe(200);
    expect(afterRestart.headers.get("idempotent-replayed")).toBe("true");
    expect(entryOf(afterRestart).index).toBe(index);

    // Two at once with a new key: the second is refused while the first is in flight (409), or,
    // if the first was decided before the second arrived, replayed (200) at the same index.
    const racing = `race-${randomBytes(6).toString("hex")}`;
    const answers = await Promise.all([0, 1].map(() => postProposalRetrying(gwC.url, "raced", { key: racing })));
    const statuses = answers.map((a) => a.status).sort();
    const created201 = answers.find((a) => a.status === 201);
    expect(created201, answers.map((a) => a.text).join("\n")).toBeDefined();
    if (created201 === undefined) return;
    if (statuses.includes(409)) {
      expect(statuses).toEqual([201, 409]);
      expectProblem(answers.find((a) => a.status === 409) ?? created201, 409);
    } else {
      expect(statuses).toEqual([200, 201]);
      expect(answers.map((a) => entryOf(a).index)).toEqual([entryOf(created201).index, entryOf(created201).index]);
    }
    // Either way the key is decided exactly once.
    const log = await readLogFromGateway(gwC.url);
    expect(log.filter((e) => e.requestId === loggedId(racing))).toHaveLength(1);
    expect(log.filter((e) => e.requestId === loggedId(key))).toEqual([{ index, value, requestId: loggedId(key) }]);
  }, 45_000);

  // Every paxos_ metric of every service passes Prometheus's own linter (promtool comes with
  // Debian's prometheus package, which .ci/run installs). Node's default metrics are
  // prom-client's, not ours, and are left out.
  it("exports metrics that promtool check metrics has nothing to say about", async () => {
    const sources = [
      ...[...cluster.acceptors.values(), ...cluster.proposers, ...cluster.learners].map(
        (service) => [service.name, `http://127.0.0.1:${service.adminPort}/metrics`] as const,
      ),
      // (The test above stopped a gateway on purpose: only the running ones answer.)
      ...cluster.gateways
        .filter((gateway) => !gateway.proc.done)
        .map((gateway, i) => [`gateway ${i}`, `${gateway.url}/metrics`] as const),
    ];
    for (const [name, url] of sources) {
      const answer = await http(url);
      expect(answer.status, `${name} ${url}`).toBe(200);
      expect(answer.text, `${name} exports paxos_ metrics`).toMatch(/^paxos_/m);
      expect(answer.text, `${name} reports its NATS connection up`).toMatch(/^paxos_nats_connected 1$/m);
      const linted = spawnSync("promtool", ["check", "metrics"], { input: answer.text, encoding: "utf8" });
      if (linted.error !== undefined) {
        throw new Error(`promtool could not run (${linted.error.message}): apt-get install prometheus`);
      }
      const complaints = `${linted.stdout}${linted.stderr}`.split("\n").filter((line) => line.startsWith("paxos_"));
      expect(complaints, `${name}: promtool on paxos_ metrics`).toEqual([]);
    }
  }, 30_000);
});
