// The Grafana dashboard's queries work on what the services really export. A real Prometheus
// (Debian's binary, started with the arguments and the scrape config `npm start` uses, every
// second) scrapes a cluster of real processes on real nats-server and redis-server; after a short
// load and a few malformed messages, every query of the dashboard is evaluated through
// Prometheus's HTTP API: each must be valid, the core panels must return data, and every metric
// name a query mentions must be one some service exports, so a typo in the dashboard fails here.
import {
  ALL_JOBS_REGEX,
  PAXOS_DASHBOARD_QUERIES,
  prometheusConfig,
  type ScrapeTarget,
  SCRAPE_JOBS,
} from "@paxos/dashboards";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../services/support/processes.ts";
import { connectAs } from "../services/support/services.ts";
import { type PrometheusServer, type QueryAnswer, startPrometheus } from "../support/prometheus-server.ts";
import { E2eCluster, LEARNER_IDS, PROPOSER_NAMES } from "./support/e2e-cluster.ts";
import { postProposalRetrying } from "./support/http.ts";

/** What Grafana's variables become here: a rate window of 15 scrapes, a range covering the test. */
const GRAFANA_VARIABLES: Readonly<Record<string, string>> = { $__rate_interval: "15s", $__range: "2m" };
/** Proposals of the load, and how many are in flight at once. */
const LOAD_PROPOSALS = 40;
const LOAD_CONCURRENCY = 8;
/** Panels that must show data on a healthy cluster under load. */
const CORE_PANELS = [
  "Leaders",
  "Proposals per second by outcome",
  "Proposal latency",
  "Phase 2 round trip",
  "Acceptors voting",
  "Learner decided index",
  "Dropped messages by reason",
  "NATS connected",
] as const;
/** Panels whose data must include a number (a latency, not NaN from an idle window). */
const LATENCY_PANELS = new Set(["Proposal latency", "Phase 2 round trip"]);
/** Which suffixed series each metric type exposes beside (or instead of) its family name. */
const SERIES_SUFFIXES: Readonly<Record<string, readonly string[]>> = {
  counter: ["_total", "_created"],
  histogram: ["_bucket", "_sum", "_count", "_created"],
  summary: ["_sum", "_count", "_created"],
};

/** A dashboard query as Prometheus can run it: Grafana's variables replaced by fixed windows. */
function runnable(expr: string): string {
  let result = expr;
  for (const [variable, value] of Object.entries(GRAFANA_VARIABLES)) result = result.replaceAll(variable, value);
  return result;
}

/** The metric names a query mentions: ours (paxos_) and the Node.js default metrics it uses. */
function metricNamesIn(expr: string): string[] {
  return [...expr.matchAll(/\b(?:paxos|process|nodejs)_[a-z0-9_]*[a-z0-9]/g)].map((match) => match[0]);
}

describe("the Grafana dashboard's queries on a real Prometheus", () => {
  let cluster: E2eCluster;
  let prometheus: PrometheusServer;
  let targets: ScrapeTarget[];
  const answers = new Map<string, QueryAnswer>();

  const evaluateAll = async (): Promise<void> => {
    for (const query of PAXOS_DASHBOARD_QUERIES) answers.set(query.expr, await prometheus.query(runnable(query.expr)));
  };
  const seriesOf = (panel: string): { value: string }[] =>
    PAXOS_DASHBOARD_QUERIES.filter((query) => query.panel === panel).flatMap((query) => {
      const answer = answers.get(query.expr);
      return answer?.status === "success" ? answer.series : [];
    });

  beforeAll(async () => {
    cluster = await E2eCluster.start("e2edash");
    targets = [
      ...[...cluster.acceptors].map(([id, acceptor]) => ({
        role: "acceptor" as const,
        instance: id,
        address: `127.0.0.1:${acceptor.adminPort}`,
      })),
      ...cluster.proposers.map((proposer, i) => ({
        role: "proposer" as const,
        instance: PROPOSER_NAMES[i] ?? `p${i + 1}`,
        address: `127.0.0.1:${proposer.adminPort}`,
      })),
      ...cluster.learners.map((learner, i) => ({
        role: "learner" as const,
        instance: LEARNER_IDS[i] ?? `l${i + 1}`,
        address: `127.0.0.1:${learner.adminPort}`,
      })),
      ...cluster.gateways.map((gateway, i) => ({
        role: "gateway" as const,
        instance: `gateway-${String.fromCharCode(65 + i)}`,
        address: `127.0.0.1:${gateway.port}`,
      })),
    ];
    try {
      prometheus = await startPrometheus(prometheusConfig(targets, { scrapeIntervalSeconds: 1 }));
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }, 60_000);

  afterAll(async () => {
    await prometheus?.stop();
    await cluster?.stop();
  }, 30_000);

  it("scrapes every process under its role's job", async () => {
    await eventually(
      async () => {
        const answer = await prometheus.query(`sum(up{job=~"${ALL_JOBS_REGEX}"})`);
        return answer.status === "success" && Number(answer.series[0]?.value) === targets.length;
      },
      10_000,
      `all ${targets.length} targets up`,
    );
    const answer = await prometheus.query(`count by (job) (up == 1)`);
    expect(answer.status).toBe("success");
    const perJob = new Map(
      (answer.status === "success" ? answer.series : []).map((s) => [s.metric["job"], Number(s.value)]),
    );
    for (const role of ["acceptor", "proposer", "learner", "gateway"] as const) {
      expect(perJob.get(SCRAPE_JOBS[role]), SCRAPE_JOBS[role]).toBe(targets.filter((t) => t.role === role).length);
    }
  }, 15_000);

  it("answers every dashboard query after a short load, with data in the core panels", async () => {
    const gateways = cluster.gateways;
    let next = 0;
    const statuses: number[] = [];
    await Promise.all(
      Array.from({ length: LOAD_CONCURRENCY }, async () => {
        for (let n = next++; n < LOAD_PROPOSALS; n = next++) {
          const gateway = gateways[n % gateways.length];
          if (gateway === undefined) throw new Error("no gateway");
          statuses.push((await postProposalRetrying(gateway.url, { dashboard: n })).status);
        }
      }),
    );
    expect(statuses.filter((status) => status !== 201)).toEqual([]);
    // Bad messages: malformed heartbeats, which every role and the gateways decode and drop. Only
    // a proposer may send heartbeats: the test sends them as one.
    const { subjects } = cluster.client;
    const bus = await connectAs(cluster.where, "proposer", "test");
    try {
      for (let i = 0; i < 3; i++)
        bus.publish(subjects.proposer("intruder", "heartbeat"), new TextEncoder().encode("{no"));
      await bus.flush();
    } finally {
      await bus.close();
    }

    // Until a few scrapes have seen all that (bounded): then the assertions below read the answers.
    // A proposal per round keeps the rates above zero however late the scrapes come on a busy machine.
    let extra = 0;
    await eventually(
      async () => {
        const gateway = gateways[extra++ % gateways.length];
        if (gateway !== undefined) await postProposalRetrying(gateway.url, { dashboard: `extra-${extra}` });
        await evaluateAll();
        return (
          CORE_PANELS.every((panel) => seriesOf(panel).length > 0) &&
          [...LATENCY_PANELS].every((panel) => seriesOf(panel).some((s) => Number.isFinite(Number(s.value))))
        );
      },
      15_000,
      "the core panels to show data",
    ).catch(() => undefined);

    for (const query of PAXOS_DASHBOARD_QUERIES) {
      const answer = answers.get(query.expr);
      expect(
        answer?.status,
        `${query.panel} ${query.refId}: ${runnable(query.expr)}: ${answer?.status === "error" ? answer.error : ""}`,
      ).toBe("success");
    }
    for (const panel of CORE_PANELS) {
      expect(
        PAXOS_DASHBOARD_QUERIES.some((query) => query.panel === panel),
        `core panel ${panel} is in the dashboard`,
      ).toBe(true);
      expect(seriesOf(panel).length, `core panel ${panel} shows data`).toBeGreaterThan(0);
    }
    for (const panel of LATENCY_PANELS) {
      expect(
        seriesOf(panel).some((s) => Number.isFinite(Number(s.value))),
        `${panel} shows a latency: ${JSON.stringify(seriesOf(panel))}`,
      ).toBe(true);
    }
    expect(Number(seriesOf("Leaders")[0]?.value), "one proposer leads").toBeGreaterThanOrEqual(1);
  }, 45_000);

  it("mentions only metric names that some service exports", async () => {
    const names = await prometheus.metricNames();
    const types = await prometheus.metricTypes();
    const exported = (name: string): boolean => {
      if (names.has(name)) return true;
      // A labelled counter nobody has incremented yet has no series, but its family is known.
      const type = types.get(name);
      if (type !== undefined && SERIES_SUFFIXES[type] === undefined) return true;
      for (const [family, familyType] of types) {
        if ((SERIES_SUFFIXES[familyType] ?? []).some((suffix) => name === `${family}${suffix}`)) return true;
      }
      return false;
    };
    expect(names.has("paxos_proposer_leader"), "Prometheus has scraped the services").toBe(true);
    const unknown = PAXOS_DASHBOARD_QUERIES.flatMap((query) =>
      metricNamesIn(query.expr)
        .filter((name) => !exported(name))
        .map((name) => `${name} (panel ${query.panel}, query ${query.refId})`),
    );
    expect(unknown, "metric names in the dashboard that no service exports").toEqual([]);
  }, 15_000);
});
