import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { listenPort } from "@paxos/host";
import { prometheusArgs, prometheusConfig, SCRAPE_INTERVAL_SECONDS, type ScrapeTarget } from "@paxos/dashboards";
import { findExecutable } from "./find-executable.ts";
import type { ServerRegistry } from "./leftover-servers.ts";
import { httpOk, portIsFree, waitFor } from "./net-probes.ts";
import type { Child, ProcessGroup } from "./process-group.ts";
import type { LauncherConfig } from "./topology.ts";

/** How long Prometheus may take to open its TSDB and answer /-/ready. */
const PROMETHEUS_READY_TIMEOUT_MS = 15_000;

/** What became of the Prometheus of `npm start`, for the banner. */
export type PrometheusStatus =
  | { readonly kind: "running"; readonly url: string }
  | { readonly kind: "unavailable"; readonly reason: string }
  | { readonly kind: "off" };

/**
 * With PAXOS_PROMETHEUS=1, starts `prometheus` from PATH in `group` scraping `targets` every
 * SCRAPE_INTERVAL_SECONDS: it writes `<dataRoot>/prometheus.yml` (prometheusConfig, the job names
 * the dashboard queries), keeps its TSDB in `<dataRoot>/prometheus/` across runs, listens on
 * 127.0.0.1 at PAXOS_PROMETHEUS_PORT (any free port when that one is taken or 0), and is recorded
 * in `registry` so a later launcher stops it if this one is killed. Resolves once it answers
 * /-/ready. Never throws for a missing or failing Prometheus: the cluster runs without it, and
 * the returned status says why. Call after the services' ports are chosen.
 */
export async function startLocalPrometheus(
  config: LauncherConfig,
  targets: readonly ScrapeTarget[],
  group: ProcessGroup,
  registry: ServerRegistry,
  say: (line: string) => void,
): Promise<PrometheusStatus> {
  if (!config.prometheus) return { kind: "off" };
  if (findExecutable("prometheus") === null) {
    const reason =
      "prometheus is not on PATH (Debian: apt-get install prometheus; elsewhere https://prometheus.io/download/)";
    say(`PAXOS_PROMETHEUS=1, but ${reason}. The cluster runs without it; install it and start again.`);
    return { kind: "unavailable", reason };
  }
  let port = config.prometheusPort;
  if (port === 0 || !(await portIsFree(port))) {
    const taken = port;
    port = await listenPort();
    if (taken !== 0) say(`port ${taken} is in use, so Prometheus listens on ${port} (PAXOS_PROMETHEUS_PORT picks one)`);
  }
  const storageDir = join(config.dataRoot, "prometheus");
  await mkdir(storageDir, { recursive: true });
  const configFile = join(config.dataRoot, "prometheus.yml");
  await writeFile(configFile, prometheusConfig(targets, { scrapeIntervalSeconds: SCRAPE_INTERVAL_SECONDS }));

  const child: Child = group.start({
    name: "prometheus",
    command: "prometheus",
    args: prometheusArgs({ configFile, storageDir, listenAddress: `127.0.0.1:${port}` }),
    env: { PATH: process.env["PATH"] ?? "" },
    cwd: storageDir,
  });
  if (child.pid !== undefined) registry.add({ pid: child.pid, command: "prometheus", port });
  const url = `http://127.0.0.1:${port}`;
  const failure = await waitFor(
    () => httpOk(`${url}/-/ready`),
    () => (child.done ? "prometheus exited (see its output above)" : null),
    PROMETHEUS_READY_TIMEOUT_MS,
    200,
  );
  if (failure !== null) {
    say(`Prometheus on port ${port}: ${failure}. The cluster runs without it.`);
    return { kind: "unavailable", reason: failure };
  }
  return { kind: "running", url };
}
