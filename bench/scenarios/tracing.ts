// Issue 8, item 6: what tracing costs. Proposals per second through the REST gateway of a fresh
// `npm start` cluster with tracing off, sampling 1 % and sampling 100 %, each against an OTLP/HTTP
// sink run by the bench, reported as ratios to the tracing-off row of the same run (the machines
// are shared and noisy, so only ratios within one run mean much).
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { profileMarkdown, readProfiles } from "../lib/cpu-profile.ts";
import { measureRow, type RowMeasurement } from "../lib/measure-row.ts";
import { countsBetween, type OtlpSinkCounts, startOtlpSink } from "../lib/otlp-sink.ts";
import { missingClusterServers } from "../lib/installed-servers.ts";
import { startFreshPaxosCluster } from "../lib/paxos-cluster.ts";
import { proposalRequest } from "../lib/proposal-request.ts";
import type { Scenario, ScenarioContext, ScenarioReport } from "../lib/scenario.ts";
import { formatNumber, formatTable } from "../lib/text-table.ts";

/** The size of every proposed value, as in issue 11's comparison. */
const VALUE_BYTES = 100;

interface TracingRow {
  readonly label: string;
  readonly slug: string;
  /** The sampling ratio, or null for tracing off. */
  readonly ratio: number | null;
}

const ROWS: readonly TracingRow[] = [
  { label: "tracing off", slug: "tracing-off", ratio: null },
  { label: "sampling 1 %", slug: "tracing-1pct", ratio: 0.01 },
  { label: "sampling 100 %", slug: "tracing-100pct", ratio: 1 },
];

/** One measured row with what the sink received while it ran. */
interface TracingResult {
  readonly row: TracingRow;
  readonly round: number;
  readonly measurement: RowMeasurement;
  /** From the cluster's start until it exited (warm-up and the final flush included). */
  readonly spansWholeRow: OtlpSinkCounts;
  /** During the measured load only. */
  readonly spansMeasured: OtlpSinkCounts;
}

/** The OTEL_* variables of a row: OTEL_SDK_DISABLED for off, else the sink and the sampler. */
function otelEnv(row: TracingRow, endpoint: string): Record<string, string> {
  if (row.ratio === null) return { OTEL_SDK_DISABLED: "true" };
  return {
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
    OTEL_TRACES_SAMPLER_ARG: String(row.ratio),
  };
}

/** The closed-loop clients of every row: the one `--clients` value, or 16. */
function connectionsOf(context: ScenarioContext): number {
  return context.clients?.[0] ?? 16;
}

function roundsOf(context: ScenarioContext): number {
  return context.rounds ?? 1;
}

async function run(context: ScenarioContext): Promise<ScenarioReport> {
  const rounds = roundsOf(context);
  const sink = await startOtlpSink();
  context.say(`OTLP/HTTP sink on ${sink.endpoint} (POST /v1/traces)`);
  const results: TracingResult[] = [];
  const profileSections: string[] = [];
  const slugOf = (row: TracingRow, round: number): string => (rounds === 1 ? row.slug : `${row.slug}-round${round}`);
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const row of ROWS) {
        const name = rounds === 1 ? row.label : `${row.label}, round ${round}/${rounds}`;
        const marks = new Map<string, OtlpSinkCounts>();
        const phaseAtMs = new Map<string, number>();
        const measurement = await measureRow({
          name,
          start: () =>
            startFreshPaxosCluster({
              repoRoot: context.repoRoot,
              runDir: context.runDir,
              slug: slugOf(row, round),
              env: {
                ...context.paxosEnv,
                ...otelEnv(row, sink.endpoint),
                ...(context.profileDir === null
                  ? {}
                  : { PAXOS_CPU_PROFILE_DIR: join(context.profileDir, slugOf(row, round)) }),
              },
              keepData: context.keepData,
            }),
          request: proposalRequest(VALUE_BYTES),
          readyPath: "/readyz",
          connections: connectionsOf(context),
          warmupSeconds: context.warmupSeconds,
          durationSeconds: context.durationSeconds,
          say: (line) => context.say(`[${name}] ${line}`),
          signal: context.signal,
          onPhase: (phase) => {
            marks.set(phase, sink.counts());
            phaseAtMs.set(phase, Date.now());
          },
        });
        const mark = (phase: string): OtlpSinkCounts =>
          marks.get(phase) ?? { exportRequests: 0, bytesReceived: 0, otherRequests: 0 };
        const result: TracingResult = {
          row,
          round,
          measurement,
          spansWholeRow: countsBetween(mark("started"), mark("stopped")),
          spansMeasured: countsBetween(mark("measuring"), mark("measured")),
        };
        results.push(result);
        context.say(`[${name}] ${summarise(result)}`);
        if (context.profileDir !== null) {
          // The services exit shortly before the cluster is "stopped": leave a second's margin.
          const stoppedAt = phaseAtMs.get("stopped") ?? Date.now();
          const window = {
            fromMsBeforeEnd: stoppedAt - (phaseAtMs.get("measuring") ?? stoppedAt),
            toMsBeforeEnd: stoppedAt - (phaseAtMs.get("measured") ?? stoppedAt) + 1_000,
          };
          const profiles = await readProfiles(join(context.profileDir, slugOf(row, round)), context.repoRoot, window);
          profileSections.push(profileMarkdown(name, profiles, measurement.cpuMsPerSuccess));
          context.say(
            `[${name}] ${profiles.length} CPU profiles under ${join(context.profileDir, slugOf(row, round))}`,
          );
        }
      }
    }
  } finally {
    await sink.close();
  }
  if (context.profileDir !== null) {
    const summary = join(context.profileDir, "summary.md");
    await writeFile(summary, `# CPU profiles under load\n\n${profileSections.join("\n")}`);
    context.say(`profile summary: ${summary}`);
  }
  return report(context, results);
}

function summarise(result: TracingResult): string {
  const { load } = result.measurement;
  return (
    `${formatNumber(load.succeededPerSecond, 0)} proposals/s, p50 ${formatNumber(load.latencyMs?.p50 ?? null, 1)} ms, ` +
    `p99 ${formatNumber(load.latencyMs?.p99 ?? null, 1)} ms, ${load.errors} errors, ` +
    `${result.spansWholeRow.exportRequests} span exports (${formatNumber(result.spansWholeRow.bytesReceived / 1024, 1)} KiB)`
  );
}

function report(context: ScenarioContext, results: readonly TracingResult[]): ScenarioReport {
  const name = (r: TracingResult): string => (roundsOf(context) === 1 ? r.row.label : `${r.row.label} #${r.round}`);
  // Each row against the tracing-off row of its own round: measured minutes apart, not hours.
  const ratioToOff = (r: TracingResult): number | null => {
    const off = results.find((o) => o.round === r.round && o.row.ratio === null)?.measurement.load.succeededPerSecond;
    return off === undefined || off === 0 ? null : r.measurement.load.succeededPerSecond / off;
  };
  const table = formatTable(
    [
      { header: "row", align: "left" },
      { header: "proposals/s", align: "right" },
      { header: "ratio to off", align: "right" },
      { header: "p50 ms", align: "right" },
      { header: "p99 ms", align: "right" },
      { header: "errors", align: "right" },
      { header: "CPU-ms/proposal", align: "right" },
      { header: "span exports", align: "right" },
      { header: "KiB received", align: "right" },
    ],
    results.map((r) => {
      const { load, cpuMsPerSuccess } = r.measurement;
      const ratio = ratioToOff(r);
      return [
        name(r),
        formatNumber(load.succeededPerSecond, 0),
        ratio === null ? "n/a" : `${formatNumber(ratio, 2)}×`,
        formatNumber(load.latencyMs?.p50 ?? null, 1),
        formatNumber(load.latencyMs?.p99 ?? null, 1),
        String(load.errors),
        formatNumber(cpuMsPerSuccess, 2),
        String(r.spansWholeRow.exportRequests),
        formatNumber(r.spansWholeRow.bytesReceived / 1024, 1),
      ];
    }),
  );

  const notes = [
    `${connectionsOf(context)} closed-loop clients, ${VALUE_BYTES}-byte values, ${context.warmupSeconds} s warm-up, ` +
      `${context.durationSeconds} s measured per row; a fresh cluster and data folder per row.`,
    "errors: answers other than 201, connection errors and timeouts. CPU: the launcher and every process under " +
      "it (nats-server, redis-servers, services) during the measured load. Span exports and KiB: what the " +
      "bench's OTLP sink received from the cluster's start until it exited (warm-up and final flush included).",
  ];
  const silent = [
    ...new Set(
      results.filter((r) => r.row.ratio !== null && r.spansWholeRow.exportRequests === 0).map((r) => r.row.label),
    ),
  ];
  if (silent.length > 0) {
    notes.push(
      `No spans reached the sink in ${silent.join(" and ")}: the services did not trace (each row's log shows what ` +
        "every service said about tracing at start), so those rows measure the same thing as tracing off.",
    );
  }
  const strays = results.reduce((sum, r) => sum + r.spansWholeRow.otherRequests, 0);
  if (strays > 0) notes.push(`The sink also got ${strays} request(s) other than POST /v1/traces (answered 404).`);
  for (const r of results) {
    const { load, stop } = r.measurement;
    if (load.errors > 0) {
      const kinds = Object.entries(load.unexpectedStatuses).map(([status, count]) => `${count}× ${status}`);
      if (load.connectionErrors > 0)
        kinds.push(`${load.connectionErrors} connection errors (${load.timeouts} timeouts)`);
      notes.push(`${name(r)}: ${kinds.join(", ")}.`);
    }
    if (stop.killed || stop.leftoverPids.length > 0 || stop.exitCode !== 0) {
      notes.push(`${name(r)}: the cluster did not stop cleanly (see the progress lines and its log).`);
    }
  }

  return {
    title: "Cost of tracing (issue 8): proposals through the REST gateway",
    table,
    notes,
    failures: [],
    files: [],
    data: results.map((r) => ({
      row: r.row.label,
      round: r.round,
      samplingRatio: r.row.ratio,
      ratioToOff: ratioToOff(r),
      ...r.measurement,
      spansWholeRow: r.spansWholeRow,
      spansMeasured: r.spansMeasured,
    })),
  };
}

/** The tracing-cost scenario of `npm run bench`. */
export const tracingScenario: Scenario = {
  name: "tracing",
  summary: "proposals/s with tracing off, sampling 1 % and 100 % (issue 8), as ratios to off",
  runsByDefault: false,
  preflight: (context) =>
    context.clients !== null && context.clients.length !== 1
      ? "the tracing scenario takes one --clients value"
      : missingClusterServers(),
  run,
};
