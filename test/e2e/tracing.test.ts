// One trace per proposal, across real processes: every service of an end-to-end cluster (real
// nats-server, a redis-server per acceptor) runs its real OpenTelemetry SDK and OTLP/HTTP
// exporter against a receiver this test starts. For a proposal the test finds, by the trace id
// the gateway returned in `traceparent`, one trace that holds the gateway, the leader, a majority
// of acceptors with their Redis calls and the learners, each span under its right parent; a
// batch's phase-2 span links to every proposal it carries; an accept that no majority answered
// shows up as retransmissions. Exemplars on the latency histograms point at those traces.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { E2eCluster, type GatewayProcess } from "./support/e2e-cluster.ts";
import { http, type HttpAnswer, postProposalRetrying, sleep } from "./support/http.ts";
import { sampleValue, scrape } from "../services/support/hostile.ts";
import { eventually } from "../services/support/processes.ts";
import { formatTree, OtlpReceiver, type ReceivedSpan, SPAN_KIND } from "../support/otlp-receiver.ts";

const CLUSTER = "e2etrace";

describe("tracing across a cluster of real processes", () => {
  let receiver: OtlpReceiver;
  let cluster: E2eCluster;
  let gateway: GatewayProcess;

  beforeAll(async () => {
    receiver = await OtlpReceiver.start();
    cluster = await E2eCluster.start(CLUSTER, {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      // Export every 100 ms rather than every 5 s, so the test waits less.
      OTEL_BSP_SCHEDULE_DELAY: "100",
    });
    gateway = cluster.gateway(0);
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
    await receiver?.stop();
  }, 30_000);

  it("returns the trace id in traceparent and exports one trace through every role", async () => {
    const created = await postProposalRetrying(gateway.url, { traced: "first" });
    expect(created.status, created.text).toBe(201);
    const traceId = traceIdOf(created.headers.get("traceparent"));

    const acceptorIds = (spans: readonly ReceivedSpan[]): Set<string> =>
      new Set(spans.filter((s) => s.name === "paxos.acceptor.accept").map((s) => s.instance));
    // Wait until the trace holds the learners' deliveries and a majority of acceptors, none orphaned.
    let spans: ReceivedSpan[] = [];
    await eventually(
      () => {
        spans = receiver.trace(traceId);
        return (
          acceptorIds(spans).size >= 2 &&
          spans.some(
            (s) => s.service === "paxos-gateway" && s.name.startsWith("process ") && s.name.endsWith(".delivered"),
          ) &&
          orphans(spans).length === 0
        );
      },
      15_000,
      "the proposal's whole trace",
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${formatTree(receiver.trace(traceId))}`);
    });
    const tree = formatTree(spans);
    if (process.env["PRINT_TRACE"] !== undefined) process.stdout.write(`\n${tree}\n`);

    // The root is the gateway's HTTP span, the one whose id came back in traceparent.
    const roots = spans.filter((s) => s.parentSpanId === "");
    expect(
      roots.map((s) => [s.service, s.name, s.kind]),
      tree,
    ).toEqual([["paxos-gateway", "POST /v1/proposals", SPAN_KIND.server]]);
    const root = roots[0] as ReceivedSpan;
    expect(created.headers.get("traceparent")).toBe(`00-${traceId}-${root.spanId}-01`);
    expect(root.attributes["http.response.status_code"]).toBe(201);
    expect(root.attributes["http.route"]).toBe("/v1/proposals");

    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const parentOf = (span: ReceivedSpan): ReceivedSpan | undefined => byId.get(span.parentSpanId);
    const one = (predicate: (s: ReceivedSpan) => boolean, what: string): ReceivedSpan => {
      const found = spans.filter(predicate);
      expect(found.length, `${what}\n${tree}`).toBeGreaterThanOrEqual(1);
      return found[0] as ReceivedSpan;
    };

    // gateway → NATS request → the leader's CONSUMER → its propose span.
    const request = one(
      (s) => s.kind === SPAN_KIND.producer && s.name === `request paxos.v1.${CLUSTER}.propose.*`,
      "the propose request",
    );
    expect(parentOf(request)?.spanId).toBe(root.spanId);
    expect(request.attributes["messaging.system"]).toBe("nats");
    const propose = one((s) => s.name === "paxos.propose" && s.service === "paxos-proposer", "the propose span");
    const proposeConsumer = parentOf(propose);
    expect(proposeConsumer?.kind).toBe(SPAN_KIND.consumer);
    expect(parentOf(proposeConsumer as ReceivedSpan)?.spanId).toBe(request.spanId);
    expect(typeof propose.attributes["paxos.request.id"]).toBe("string");

    // The slot's phase 2: child of the propose span, linked to it, with slot and ballot attributes.
    const phase2 = one((s) => s.name === "paxos.phase2", "the phase-2 span");
    expect(phase2.parentSpanId).toBe(propose.spanId);
    expect(phase2.links.map((l) => l.spanId)).toContain(propose.spanId);
    expect(typeof phase2.attributes["paxos.slot"]).toBe("number");
    expect(typeof phase2.attributes["paxos.ballot.round"]).toBe("number");

    // Each acceptor's handling: CONSUMER of the leader's accept, with its Redis call inside.
    const accepts = spans.filter((s) => s.name === "paxos.acceptor.accept");
    expect(new Set(accepts.map((s) => s.service))).toEqual(new Set(["paxos-acceptor"]));
    for (const accept of accepts) {
      const consumer = parentOf(accept);
      expect(consumer?.kind, tree).toBe(SPAN_KIND.consumer);
      const producer = parentOf(consumer as ReceivedSpan);
      expect(producer?.name, tree).toBe(`publish paxos.v1.${CLUSTER}.proposer.*.accept`);
      expect(parentOf(producer as ReceivedSpan)?.spanId, tree).toBe(phase2.spanId);
      // One Redis call: EVALSHA, or EVAL when it is the first write of the acceptor's store (which
      // sends the script itself, see RedisAcceptorStore.write), e.g. an acceptor whose promise was
      // not needed, or not written, before this accept.
      const redis = spans.filter((s) => s.parentSpanId === accept.spanId && s.kind === SPAN_KIND.client);
      expect(
        redis.map((s) => s.attributes["db.system.name"]),
        tree,
      ).toEqual(["redis"]);
      expect(["EVALSHA", "EVAL"], tree).toContain(redis[0]?.name);
    }

    // The learners learn from the acceptors' accepted (or the leader's chosen), append, deliver.
    const learned = spans.filter((s) => s.name === "paxos.learner.chosen");
    expect(new Set(learned.map((s) => s.instance)).size, tree).toBeGreaterThanOrEqual(1);
    for (const chosen of learned) {
      expect(parentOf(chosen)?.kind, tree).toBe(SPAN_KIND.consumer);
      expect(
        spans.some((s) => s.parentSpanId === chosen.spanId && s.name === "paxos.learner.append"),
        tree,
      ).toBe(true);
      expect(
        spans.some(
          (s) => s.parentSpanId === chosen.spanId && s.kind === SPAN_KIND.producer && s.name.endsWith(".delivered"),
        ),
        tree,
      ).toBe(true);
    }
    // Slot, ballot and request ids are attributes: no span name carries a number or an id.
    for (const span of spans) expect(span.name, tree).not.toMatch(/\d{2,}|-[0-9a-f]{8}\b/);
  }, 60_000);

  it("links a batch's phase-2 span to every proposal it carries", async () => {
    // Two of three acceptors stop, so the leader's window (8 slots) fills and stays full: the
    // other proposals wait at the leader and go out in shared slots once the acceptors resume.
    // Without the pause, a fast leader can decide each proposal before the next arrives. The
    // pause stays under the leader timeout (1 s), after which a leader with no majority steps down.
    const paused = [...cluster.acceptors.values()].slice(1);
    for (const acceptor of paused) process.kill(acceptor.pid, "SIGSTOP");
    const resumeBy = Date.now() + 700;
    let pending = 0;
    let answering: Promise<HttpAnswer[]>;
    try {
      answering = Promise.all(
        Array.from({ length: 40 }, (_, i) => postProposalRetrying(gateway.url, { traced: "batch", i })),
      );
      while (pending < 2 && Date.now() < resumeBy) {
        await sleep(50);
        pending = await pendingAtLeaders();
      }
    } finally {
      for (const acceptor of paused) process.kill(acceptor.pid, "SIGCONT");
    }
    expect(pending, "proposals waiting at the leader while its window was full").toBeGreaterThanOrEqual(2);
    const answers = await answering;
    for (const answer of answers) expect(answer.status, answer.text).toBe(201);
    const traceIds = answers.map((answer) => traceIdOf(answer.headers.get("traceparent")));
    // Every proposal's propose span, and the phase-2 span that carried it (in its trace or linked).
    await eventually(
      () =>
        traceIds.every((traceId) =>
          receiver.trace(traceId).some((s) => s.name === "paxos.propose" && s.events.some((e) => e.name === "chosen")),
        ),
      15_000,
      "every proposal's propose span",
    );
    const phase2s = receiver.spans.filter((s) => s.name === "paxos.phase2");
    const proposeSpans = traceIds.map((traceId) =>
      receiver.trace(traceId).find((s) => s.name === "paxos.propose" && s.events.some((e) => e.name === "chosen")),
    );
    let batched = 0;
    for (const propose of proposeSpans) {
      const carrier = phase2s.find((p) => p.links.some((l) => l.spanId === propose?.spanId));
      expect(carrier, `a phase-2 span linking ${propose?.spanId}`).toBeDefined();
      const slot = carrier as ReceivedSpan;
      // All the slot's requests are linked, and the slot lives in the first one's trace.
      expect(slot.links.length).toBe(slot.attributes["paxos.batch.requests"]);
      expect(slot.links[0]?.spanId).toBe(slot.parentSpanId);
      if (slot.links.length > 1) batched++;
    }
    // 40 concurrent proposals on one leader: some share a slot (if none did, batching is broken).
    expect(batched).toBeGreaterThan(0);
  }, 60_000);

  it("shows retransmissions when no majority answers an accept in time", async () => {
    const paused = [...cluster.acceptors.values()].slice(1);
    const posting = postProposalRetrying(gateway.url, { traced: "retransmitted" });
    // Two of three acceptors stop for longer than the retransmit interval (300 ms) but less than
    // the leader's timeout: the leader's first accept gets one answer, not a majority.
    for (const acceptor of paused) process.kill(acceptor.pid, "SIGSTOP");
    await sleep(700);
    for (const acceptor of paused) process.kill(acceptor.pid, "SIGCONT");
    const created = await posting;
    expect(created.status, created.text).toBe(201);
    const traceId = traceIdOf(created.headers.get("traceparent"));
    let phase2: ReceivedSpan | undefined;
    await eventually(
      () => {
        phase2 = receiver.trace(traceId).find((s) => s.name === "paxos.phase2");
        return phase2 !== undefined;
      },
      15_000,
      "the slot's phase-2 span",
    );
    const spans = receiver.trace(traceId);
    const tree = formatTree(spans);
    const slot = phase2 as ReceivedSpan;
    expect(slot.events.filter((e) => e.name === "retransmit").length, tree).toBeGreaterThanOrEqual(1);
    const sends = spans.filter((s) => s.parentSpanId === slot.spanId && s.kind === SPAN_KIND.producer);
    expect(sends.length, tree).toBeGreaterThanOrEqual(2);
  }, 60_000);

  it("puts trace ids on the latency histograms as exemplars when OpenMetrics is asked for", async () => {
    const created = await postProposalRetrying(gateway.url, { traced: "exemplar" });
    expect(created.status, created.text).toBe(201);
    const traceId = traceIdOf(created.headers.get("traceparent"));
    const openMetrics = await http(`${gateway.url}/metrics`, {
      headers: { Accept: "application/openmetrics-text;version=1.0.0,text/plain;q=0.5" },
    });
    expect(openMetrics.headers.get("content-type")).toContain("application/openmetrics-text");
    const exemplar = openMetrics.text
      .split("\n")
      .find((line) => line.startsWith("paxos_gateway_request_duration_seconds_bucket") && line.includes(traceId));
    expect(exemplar, "a bucket line with the proposal's trace id").toMatch(
      / # \{trace_id="[0-9a-f]{32}"\} [0-9.e-]+ [0-9.]+$/,
    );
    expect(openMetrics.text).toMatch(/\n# EOF\n$/);
    // The text format (curl, promtool) is unchanged: counters keep _total, no exemplars.
    const text = await http(`${gateway.url}/metrics`);
    expect(text.headers.get("content-type")).toContain("text/plain");
    expect(text.text).toContain("# TYPE paxos_gateway_requests_total counter");
    expect(text.text).not.toContain("trace_id=");
    for (const acceptor of cluster.acceptors.values()) {
      const scraped = await http(`http://127.0.0.1:${acceptor.adminPort}/metrics`, {
        headers: { Accept: "application/openmetrics-text;version=1.0.0" },
      });
      expect(scraped.text).toMatch(
        /paxos_acceptor_storage_write_seconds_bucket\{le="[^"]+"\} \d+ # \{trace_id="[0-9a-f]{32}"\}/,
      );
    }
  }, 30_000);

  /** Requests the proposers hold that wait for a slot, summed over every proposer. */
  async function pendingAtLeaders(): Promise<number> {
    const counts = await Promise.all(
      cluster.proposers.map(async (proposer) => sampleValue(await scrape(proposer), "paxos_proposer_pending_requests")),
    );
    return counts.reduce((sum, count) => sum + count, 0);
  }
});

function traceIdOf(traceparent: string | null): string {
  const match = /^00-([0-9a-f]{32})-[0-9a-f]{16}-01$/.exec(traceparent ?? "");
  expect(match, `traceparent ${traceparent}`).not.toBeNull();
  return (match as RegExpExecArray)[1] as string;
}

/** Spans whose parent is not in `spans` (the root excepted). */
function orphans(spans: readonly ReceivedSpan[]): ReceivedSpan[] {
  const ids = new Set(spans.map((s) => s.spanId));
  return spans.filter((s) => s.parentSpanId !== "" && !ids.has(s.parentSpanId));
}
