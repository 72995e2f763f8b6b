// A real Prometheus server for tests: Debian's `prometheus` binary as a child process of the test,
// on a free loopback port, with its config and TSDB in a temporary folder, and a small client of
// its HTTP API (https://prometheus.io/docs/prometheus/latest/querying/api/).
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { prometheusArgs } from "@paxos/dashboards";
import { listenPort } from "./free-port.ts";
import { LocalServerProcess, type ReadyCheck } from "./local-server.ts";

/** Prometheus answers /-/ready with 200 once its TSDB is open and it serves queries (503 before). */
const PROMETHEUS_READY: ReadyCheck = {
  request: "GET /-/ready HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
  replyPrefix: "HTTP/1.1 200",
  silence: "prometheus did not answer /-/ready with 200",
};
/** How long one API request may take. */
const API_TIMEOUT_MS = 5_000;

/** One series of an instant query's vector result. */
export interface InstantSample {
  readonly metric: Readonly<Record<string, string>>;
  /** The sample's value as Prometheus writes it: a number, "NaN", "+Inf". */
  readonly value: string;
}

/** The answer to an instant query: `success` with its result, or `error` with Prometheus's reason. */
export type QueryAnswer =
  | { readonly status: "success"; readonly resultType: string; readonly series: readonly InstantSample[] }
  | { readonly status: "error"; readonly error: string };

/** Metric metadata as /api/v1/metadata gives it: family name → type (counter, gauge, histogram, …). */
export type MetricTypes = ReadonlyMap<string, string>;

/** A running Prometheus a test controls. */
export interface PrometheusServer {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** Evaluates `query` now (GET /api/v1/query). */
  query(query: string): Promise<QueryAnswer>;
  /** Every metric name that has samples (GET /api/v1/label/__name__/values). */
  metricNames(): Promise<Set<string>>;
  /** The type of every metric family the targets expose, with or without samples (GET /api/v1/metadata). */
  metricTypes(): Promise<MetricTypes>;
  /** Stops the server (SIGTERM) and removes its folder. */
  stop(): Promise<void>;
}

/**
 * Starts `prometheus` with the arguments `npm start` uses (prometheusArgs) on `config` (the text
 * of a prometheus.yml) and resolves once it is ready. Rejects with an install hint when the binary
 * is not on PATH. The caller must `stop()` it; a test process that exits first kills it.
 */
export async function startPrometheus(config: string): Promise<PrometheusServer> {
  const dir = await mkdtemp(join(tmpdir(), "paxos-prometheus-"));
  const configFile = join(dir, "prometheus.yml");
  await writeFile(configFile, config);
  const port = await listenPort();
  const server = new LocalServerProcess({
    binary: "prometheus",
    args: prometheusArgs({ configFile, storageDir: join(dir, "data"), listenAddress: `127.0.0.1:${port}` }),
    port,
    installHint: "install it (apt-get install prometheus)",
    ready: PROMETHEUS_READY,
  });
  try {
    await server.restart();
  } catch (error) {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const url = `http://127.0.0.1:${port}`;
  const api = async (path: string): Promise<unknown> => {
    const response = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(API_TIMEOUT_MS) });
    return await response.json();
  };
  return {
    url,
    async query(query) {
      const answer = (await api(`/api/v1/query?${new URLSearchParams({ query }).toString()}`)) as {
        status: string;
        error?: string;
        data?: { resultType: string; result: unknown };
      };
      if (answer.status !== "success" || answer.data === undefined) {
        return { status: "error", error: answer.error ?? JSON.stringify(answer) };
      }
      const { resultType, result } = answer.data;
      // A vector holds series; a scalar (e.g. `vector(0)` reduced to one number) holds one value.
      const series =
        resultType === "vector"
          ? (result as { metric: Record<string, string>; value: [number, string] }[]).map((s) => ({
              metric: s.metric,
              value: s.value[1],
            }))
          : resultType === "scalar"
            ? [{ metric: {}, value: (result as [number, string])[1] }]
            : [];
      return { status: "success", resultType, series };
    },
    async metricNames() {
      const answer = (await api("/api/v1/label/__name__/values")) as { data: string[] };
      return new Set(answer.data);
    },
    async metricTypes() {
      const answer = (await api("/api/v1/metadata")) as { data: Record<string, { type: string }[]> };
      return new Map(Object.entries(answer.data).map(([name, entries]) => [name, entries[0]?.type ?? "unknown"]));
    },
    async stop() {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
