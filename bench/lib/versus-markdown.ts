import type { Spread } from "./latency-summary.ts";
import { formatTable } from "./text-table.ts";
import {
  type CellMeasurement,
  type CellSpec,
  cellLabel,
  cellSpread,
  groupByLabel,
  measurementOf,
  METRICS,
  type Metric,
  OUR_SYSTEMS,
  type ProcessGroupCpu,
  ratioSpread,
  SYSTEM_SUMMARIES,
  type SystemName,
  valueLabel,
  type VersusResults,
} from "./versus-results.ts";

/*
 * The versus-etcd report as Markdown: per system of ours a closed-loop table against etcd, the
 * open-loop table, every round's numbers, the exactly-once checks and the CPU by process. Every
 * number is the median over the rounds with a result; "(a–b)" is the spread over them, and the
 * table of every round shows each value. Pure.
 */

const NO_RESULT = "no result";

/** Milliseconds with as many decimals as their size needs. */
export function formatMs(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return NO_RESULT;
  if (ms < 10) return ms.toFixed(2);
  if (ms < 100) return ms.toFixed(1);
  return Math.round(ms).toLocaleString("en-US");
}

function formatCount(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

function formatCpu(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return "n/a";
  return seconds < 1 ? seconds.toFixed(3) : seconds.toFixed(2);
}

/** The median, and the spread when there was more than one round. */
function withSpread(spread: Spread | null, format: (n: number) => string): string {
  if (spread === null) return NO_RESULT;
  if (spread.values.length === 1) return format(spread.median);
  return `${format(spread.median)} (${format(spread.min)}–${format(spread.max)})`;
}

const ratio = (n: number): string => `${n.toFixed(2)}×`;

function latencies(results: VersusResults, system: SystemName, cell: CellSpec): string {
  const p50 = cellSpread(results, system, cell, METRICS.p50);
  const p99 = cellSpread(results, system, cell, METRICS.p99);
  const p999 = cellSpread(results, system, cell, METRICS.p999);
  if (p50 === null || p99 === null || p999 === null) return NO_RESULT;
  return `${formatMs(p50.median)} / ${formatMs(p99.median)} / ${formatMs(p999.median)}`;
}

/** Errors of a cell summed over the rounds with a result, by kind: `3× status 503`. */
function errorText(results: VersusResults, system: SystemName, cell: CellSpec): string {
  const kinds = new Map<string, number>();
  let any = false;
  for (let round = 1; round <= results.rounds; round++) {
    const m = measurementOf(results, system, round, cell);
    if (m === null) continue;
    any = true;
    for (const [kind, n] of Object.entries(m.errors)) kinds.set(kind, (kinds.get(kind) ?? 0) + n);
  }
  if (!any) return NO_RESULT;
  if (kinds.size === 0) return "0";
  return [...kinds].map(([kind, n]) => `${n}× ${kind}`).join(", ");
}

function median(results: VersusResults, system: SystemName, cell: CellSpec, metric: Metric): number | null {
  return cellSpread(results, system, cell, metric)?.median ?? null;
}

function hasEtcd(results: VersusResults): boolean {
  return results.systems.includes("etcd");
}

/** The closed-loop table of one system of ours, against etcd's numbers of the same cells. */
export function closedLoopTable(results: VersusResults, system: SystemName): string {
  const cells = results.cells.filter((c) => c.kind === "closed");
  if (!hasEtcd(results)) {
    return formatTable(
      [
        { header: "clients", align: "right" },
        { header: "value", align: "right" },
        { header: "writes/s", align: "right" },
        { header: "p50 / p99 / p99.9 ms", align: "right" },
        { header: "CPU-s per 1k writes", align: "right" },
        { header: "errors", align: "left" },
      ],
      cells.map((cell) => [
        cell.kind === "closed" ? String(cell.clients) : "",
        valueLabel(cell.valueBytes),
        withSpread(cellSpread(results, system, cell, METRICS.writesPerSecond), formatCount),
        latencies(results, system, cell),
        formatCpu(median(results, system, cell, METRICS.cpuPer1k)),
        errorText(results, system, cell),
      ]),
    );
  }
  return formatTable(
    [
      { header: "clients", align: "right" },
      { header: "value", align: "right" },
      { header: "etcd writes/s", align: "right" },
      { header: "ours", align: "right" },
      { header: "ratio", align: "right" },
      { header: "etcd p50 / p99 / p99.9 ms", align: "right" },
      { header: "ours p50 / p99 / p99.9 ms", align: "right" },
      { header: "ratio p50 / p99", align: "right" },
      { header: "CPU-s per 1k writes, etcd / ours", align: "right" },
      { header: "CPU ratio", align: "right" },
      { header: "errors, etcd / ours", align: "left" },
    ],
    cells.map((cell) => {
      const p50 = ratioSpread(results, system, cell, METRICS.p50);
      const p99 = ratioSpread(results, system, cell, METRICS.p99);
      return [
        cell.kind === "closed" ? String(cell.clients) : "",
        valueLabel(cell.valueBytes),
        withSpread(cellSpread(results, "etcd", cell, METRICS.writesPerSecond), formatCount),
        withSpread(cellSpread(results, system, cell, METRICS.writesPerSecond), formatCount),
        withSpread(ratioSpread(results, system, cell, METRICS.writesPerSecond), ratio),
        latencies(results, "etcd", cell),
        latencies(results, system, cell),
        p50 === null || p99 === null ? NO_RESULT : `${ratio(p50.median)} / ${ratio(p99.median)}`,
        `${formatCpu(median(results, "etcd", cell, METRICS.cpuPer1k))} / ${formatCpu(median(results, system, cell, METRICS.cpuPer1k))}`,
        withSpread(ratioSpread(results, system, cell, METRICS.cpuPer1k), ratio),
        `${errorText(results, "etcd", cell)} / ${errorText(results, system, cell)}`,
      ];
    }),
  );
}

/** The open-loop table: every system at every rate, with ratios to etcd at the same rate. */
export function openLoopTable(results: VersusResults): string {
  const cells = results.cells.filter((c) => c.kind === "open");
  const etcd = hasEtcd(results);
  const rows: string[][] = [];
  for (const cell of cells) {
    for (const system of results.systems) {
      const ratios =
        etcd && system !== "etcd"
          ? [METRICS.writesPerSecond, METRICS.p50, METRICS.p99, METRICS.cpuPer1k]
              .map((metric) => ratioSpread(results, system, cell, metric))
              .map((spread) => (spread === null ? "–" : ratio(spread.median)))
              .join(" / ")
          : "";
      rows.push([
        cell.kind === "open" ? `${formatCount(cell.ratePerSecond)} (${Math.round(cell.rateShare * 100)} %)` : "",
        valueLabel(cell.valueBytes),
        system,
        withSpread(cellSpread(results, system, cell, METRICS.writesPerSecond), formatCount),
        latencies(results, system, cell),
        formatMs(median(results, system, cell, METRICS.max)),
        withSpread(cellSpread(results, system, cell, METRICS.skipped), formatCount),
        errorText(results, system, cell),
        formatCpu(median(results, system, cell, METRICS.cpuPer1k)),
        ...(etcd ? [ratios] : []),
      ]);
    }
  }
  return formatTable(
    [
      { header: "rate /s", align: "right" },
      { header: "value", align: "right" },
      { header: "system", align: "left" },
      { header: "writes/s", align: "right" },
      { header: "p50 / p99 / p99.9 ms", align: "right" },
      { header: "max ms", align: "right" },
      { header: "skipped", align: "right" },
      { header: "errors", align: "left" },
      { header: "CPU-s per 1k writes", align: "right" },
      ...(etcd ? [{ header: "ours ÷ etcd: writes/s / p50 / p99 / CPU", align: "right" as const }] : []),
    ],
    rows,
  );
}

/** Every round's numbers of every cell, and why a round has none. */
export function everyRoundTable(results: VersusResults): string {
  const rows: string[][] = [];
  for (const run of results.systemRounds) {
    if (run.failure !== null) {
      rows.push([run.system, String(run.round), `${NO_RESULT}: ${run.failure}`, "", "", "", "", "", "", "", "", ""]);
      continue;
    }
    for (const m of run.cells) {
      rows.push([
        run.system,
        String(run.round),
        cellLabel(m.cell),
        formatCount(m.writesPerSecond),
        formatMs(m.latencyMs?.p50 ?? null),
        formatMs(m.latencyMs?.p99 ?? null),
        formatMs(m.latencyMs?.p999 ?? null),
        formatMs(m.latencyMs?.max ?? null),
        formatCount(m.errorCount),
        formatCount(m.skipped),
        formatCpu(m.cpuSecondsPer1kWrites),
        m.valuesPerSlot === null ? "" : m.valuesPerSlot.toFixed(1),
      ]);
    }
  }
  return formatTable(
    [
      { header: "system", align: "left" },
      { header: "round", align: "right" },
      { header: "cell", align: "left" },
      { header: "writes/s", align: "right" },
      { header: "p50 ms", align: "right" },
      { header: "p99 ms", align: "right" },
      { header: "p99.9 ms", align: "right" },
      { header: "max ms", align: "right" },
      { header: "errors", align: "right" },
      { header: "skipped", align: "right" },
      { header: "CPU-s/1k", align: "right" },
      { header: "values/slot", align: "right" },
    ],
    rows,
  );
}

/** The exactly-once check of every system's round. */
export function checkTable(results: VersusResults): string {
  return formatTable(
    [
      { header: "system", align: "left" },
      { header: "round", align: "right" },
      { header: "acknowledged", align: "right" },
      { header: "read back", align: "right" },
      { header: "lost", align: "right" },
      { header: "wrong index", align: "right" },
      { header: "wrong value", align: "right" },
      { header: "duplicate", align: "right" },
      { header: "result", align: "left" },
    ],
    results.systemRounds.map((run) => {
      const c = run.check;
      const result = c === null ? (run.failure ?? "not checked") : c.ok ? "ok" : "FAILED";
      return [
        run.system,
        String(run.round),
        c === null ? "" : formatCount(c.acknowledged),
        c === null ? "" : formatCount(c.entriesRead),
        c === null ? "" : String(c.problems.lost),
        c === null ? "" : String(c.problems.wrongIndex),
        c === null ? "" : String(c.problems.wrongValue),
        c === null ? "" : String(c.problems.duplicate),
        result,
      ];
    }),
  );
}

/** The column of the bench's own CPU in the by-process table: not part of the system's. */
export const BENCH_PROCESS_COLUMN = "bench process (not counted)";

/**
 * CPU-seconds per 1,000 writes of each group of a system's processes in every cell (medians
 * over the rounds with a result): where the system's CPU goes. The last column is the bench's
 * own process, which is not the system's (but holds the PaxosClient for paxos-nats).
 */
export function cpuByProcessTable(results: VersusResults, system: SystemName): string | null {
  return byProcessTable(results, system, {
    of: (group) => group.cpuSeconds,
    perWrites: 1000,
    bench: (m) => m.generatorCpuSeconds,
    format: formatCpu,
  });
}

/**
 * Read and write system calls per write of each group of a system's processes in every cell
 * (medians over the rounds with a result). Every message between processes is a write by its
 * sender and a read by its receiver, so this shows how many messages each write costs where, and
 * it stays steady on a noisy machine where CPU seconds do not. Null when /proc gave no counts.
 */
export function syscallsByProcessTable(results: VersusResults, system: SystemName): string | null {
  return byProcessTable(results, system, {
    of: (group) => group.syscalls,
    perWrites: 1,
    bench: null,
    format: (perWrite) => (perWrite === null ? "n/a" : perWrite.toFixed(perWrite < 10 ? 2 : 1)),
  });
}

/** What a by-process table shows: a group's number per `perWrites` successful writes. */
interface ByProcessMetric {
  readonly of: (group: ProcessGroupCpu) => number | null;
  readonly perWrites: number;
  /** The bench process's own number, for its column; null for no such column. */
  readonly bench: ((m: CellMeasurement) => number) | null;
  readonly format: (perWrite: number | null) => string;
}

function byProcessTable(results: VersusResults, system: SystemName, metric: ByProcessMetric): string | null {
  const labels = new Set<string>();
  const perCell = results.cells.map((cell) => {
    const perLabel = new Map<string, number[]>();
    const add = (name: string, value: number | null, succeeded: number): void => {
      if (value === null) return;
      const list = perLabel.get(name) ?? [];
      list.push((value * metric.perWrites) / succeeded);
      perLabel.set(name, list);
    };
    for (let round = 1; round <= results.rounds; round++) {
      const m = measurementOf(results, system, round, cell);
      if (m === null || m.succeeded === 0) continue;
      for (const group of groupByLabel(m.cpuByProcess)) {
        const name = group.processes > 1 ? `${group.label} ×${group.processes}` : group.label;
        const value = metric.of(group);
        if (value !== null) labels.add(name);
        add(name, value, m.succeeded);
      }
      if (metric.bench !== null) add(BENCH_PROCESS_COLUMN, metric.bench(m), m.succeeded);
    }
    return { cell, perLabel };
  });
  if (labels.size === 0) return null;
  const columns = [...labels, ...(metric.bench === null ? [] : [BENCH_PROCESS_COLUMN])];
  return formatTable(
    [{ header: "cell", align: "left" }, ...columns.map((header) => ({ header, align: "right" as const }))],
    perCell.map(({ cell, perLabel }) => {
      const cells = columns.map((label) => {
        const sorted = [...(perLabel.get(label) ?? [])].sort((a, b) => a - b);
        return sorted.length === 0 ? "" : metric.format(sorted[Math.floor((sorted.length - 1) / 2)] ?? null);
      });
      return [cellLabel(cell), ...cells];
    }),
  );
}

/** What the report says about the run above its tables. */
export interface ReportPreamble {
  readonly title: string;
  /** Lines under the title: when, on what, with which flags and rates. */
  readonly lines: readonly string[];
  /** Notes under the tables. */
  readonly notes: readonly string[];
}

/** The whole report: latest.md. */
export function versusMarkdown(results: VersusResults, preamble: ReportPreamble): string {
  const out: string[] = [`# ${preamble.title}`, "", ...preamble.lines.map((line) => `- ${line}`), ""];
  const failed = results.systemRounds.filter((r) => r.failure !== null);
  if (failed.length > 0) {
    out.push(
      "**Rounds without a result:** " +
        failed.map((r) => `${r.system} round ${r.round} (${r.failure ?? ""})`).join("; ") +
        ". Their numbers are left out of every median below.",
      "",
    );
  }
  out.push(
    "## Closed loop",
    "",
    "Each cell: the median over the rounds with a result, the spread over them in parentheses; ratios are ours ÷ etcd's within each round.",
    "",
  );
  for (const system of OUR_SYSTEMS) {
    if (!results.systems.includes(system)) continue;
    out.push(`### ${system}: ${SYSTEM_SUMMARIES[system]}`, "", closedLoopTable(results, system), "");
  }
  if (results.cells.some((c) => c.kind === "open")) {
    out.push(
      "## Open loop (fixed rate)",
      "",
      "Latency from each request's scheduled send time; `skipped`: requests due while the outstanding bound was full, never sent.",
      "",
      openLoopTable(results),
      "",
    );
  }
  out.push("## Exactly once", "", checkTable(results), "");
  out.push("## CPU-seconds per 1,000 writes, by process", "");
  for (const system of results.systems) {
    const table = cpuByProcessTable(results, system);
    out.push(`### ${system}`, "", table ?? "no CPU measured (no /proc, or no result)", "");
  }
  out.push(
    "## System calls per write, by process",
    "",
    "Reads and writes (/proc/<pid>/io `syscr` + `syscw`) per successful write: every message between processes is a write by its sender and a read by its receiver, so these count the messages (and store calls) behind each write. Multiply by values/slot (every round, below) for a slot's.",
    "",
  );
  for (const system of results.systems) {
    const table = syscallsByProcessTable(results, system);
    out.push(`### ${system}`, "", table ?? "no system calls counted (no /proc/<pid>/io, or no result)", "");
  }
  out.push("## Every round", "", everyRoundTable(results), "");
  if (preamble.notes.length > 0) out.push("## Notes", "", ...preamble.notes.map((note) => `- ${note}`), "");
  return out.join("\n");
}
