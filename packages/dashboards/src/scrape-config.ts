/**
 * The Prometheus job each role is scraped as. The dashboard's queries select roles by these job
 * names (`up{job="paxos-acceptor"}`), so every Prometheus that feeds the dashboard (`npm start`,
 * the tests, a deployment) must name its jobs so.
 */
export const SCRAPE_JOBS = Object.freeze({
  acceptor: "paxos-acceptor",
  proposer: "paxos-proposer",
  learner: "paxos-learner",
  gateway: "paxos-gateway",
});

/** A role of the cluster that serves `/metrics`. */
export type ScrapedRole = keyof typeof SCRAPE_JOBS;

/** The roles in the order their jobs appear in a scrape config. */
const ROLES: readonly ScrapedRole[] = ["acceptor", "proposer", "learner", "gateway"];

/** A regex matching every job of the cluster, for `up{job=~"…"}`. */
export const ALL_JOBS_REGEX = `(${ROLES.map((role) => SCRAPE_JOBS[role]).join("|")})`;

/** One process Prometheus scrapes. */
export interface ScrapeTarget {
  readonly role: ScrapedRole;
  /**
   * Its `instance` label: the process's name in the cluster (`a1`, `p1`, `l1`, `gateway`), so
   * legends read the same from one run to the next although admin ports change.
   */
  readonly instance: string;
  /** `host:port` where it serves `/metrics` (a role's admin port; the gateway's REST port). */
  readonly address: string;
}

/** How often Prometheus scrapes, and how it runs. */
export interface PrometheusConfigOptions {
  /** Seconds between scrapes, 1 or more; also the scrape timeout. */
  readonly scrapeIntervalSeconds: number;
}

const ADDRESS_PATTERN = /^[A-Za-z0-9.-]+:\d{1,5}$/;
const INSTANCE_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * The text of a prometheus.yml that scrapes `targets`: one job per role present, named by
 * SCRAPE_JOBS, with each target's `instance` label set to its name. `npm start` writes it into
 * its data folder; the dashboard test runs a real Prometheus on it. Throws on an address or
 * instance name that would not make a plain YAML string (the caller passes what it started).
 */
export function prometheusConfig(targets: readonly ScrapeTarget[], options: PrometheusConfigOptions): string {
  const interval = options.scrapeIntervalSeconds;
  if (!Number.isSafeInteger(interval) || interval < 1) throw new Error(`scrape interval ${interval} s: want 1 or more`);
  for (const target of targets) {
    if (!ADDRESS_PATTERN.test(target.address))
      throw new Error(`scrape target address ${target.address}: want host:port`);
    if (!INSTANCE_PATTERN.test(target.instance)) throw new Error(`scrape target instance ${target.instance}: bad name`);
  }
  const lines = [
    "# Written by @paxos/dashboards (prometheusConfig): one job per role, named as the dashboard expects.",
    "global:",
    `  scrape_interval: ${interval}s`,
    `  scrape_timeout: ${interval}s`,
    "scrape_configs:",
  ];
  for (const role of ROLES) {
    const ofRole = targets.filter((target) => target.role === role);
    if (ofRole.length === 0) continue;
    lines.push(
      `  - job_name: ${JSON.stringify(SCRAPE_JOBS[role])}`,
      "    metrics_path: /metrics",
      "    static_configs:",
    );
    for (const target of ofRole) {
      lines.push(
        `      - targets: [${JSON.stringify(target.address)}]`,
        `        labels: { instance: ${JSON.stringify(target.instance)} }`,
      );
    }
  }
  return `${lines.join("\n")}\n`;
}

/** Where one Prometheus server keeps its files and listens. */
export interface PrometheusPaths {
  /** The prometheus.yml written from `prometheusConfig`. */
  readonly configFile: string;
  /** Its TSDB folder. */
  readonly storageDir: string;
  /** `host:port` for its web UI and HTTP API. */
  readonly listenAddress: string;
}

/**
 * The command-line arguments of a `prometheus` server (2.x, as Debian ships it) on `paths`:
 * exemplar storage on, so latency panels can link to the traces the services tag their
 * histograms with; warnings and errors only on its output, so it does not drown the cluster's.
 */
export function prometheusArgs(paths: PrometheusPaths): string[] {
  return [
    `--config.file=${paths.configFile}`,
    `--storage.tsdb.path=${paths.storageDir}`,
    `--web.listen-address=${paths.listenAddress}`,
    "--enable-feature=exemplar-storage",
    "--log.level=warn",
  ];
}
