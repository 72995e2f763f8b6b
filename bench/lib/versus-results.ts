import type { ExactlyOnceResult } from "./exactly-once.ts";
import { type Spread, spreadOf } from "./latency-summary.ts";
import type { LoadResult } from "./write-load.ts";

/*
 * The results of the versus-etcd scenario (issue 11) as plain data: what each system measured
 * in each cell of each round, and the summaries the report shows (the spread over rounds, the
 * ratios of ours to etcd's of the same round). Pure: the Markdown table and the chart are built
 * from this alone, and the tests build it by hand.
 */

/** The systems compared, in the order each round runs them (etcd first: it sets the rates). */
export const SYSTEM_NAMES = ["etcd", "paxos", "paxos-nats", "paxos-embedded"] as const;
export type SystemName = (typeof SYSTEM_NAMES)[number];

/** Ours, in the order the report shows them. */
export const OUR_SYSTEMS = ["paxos", "paxos-nats", "paxos-embedded"] as const satisfies readonly SystemName[];

/** What each system is, in a few words. */
export const SYSTEM_SUMMARIES: Readonly<Record<SystemName, string>> = {
  etcd: "etcd 3-member cluster, writes to the leader through the v3 JSON gateway (POST /v3/kv/put)",
  paxos: "our `npm start` cluster, REST gateway (POST /v1/proposals), every role its own process",
  "paxos-nats": "our `npm start` cluster, native NATS client (@paxos/client PaxosClient.propose)",
  "paxos-embedded": "our embedded cluster (PAXOS_EMBEDDED=1, one process), REST gateway",
};

/** One load: closed loop with `clients` clients, or open loop at a fixed rate; values of `valueBytes`. */
export type CellSpec =
  | { readonly kind: "closed"; readonly clients: number; readonly valueBytes: number }
  | {
      readonly kind: "open";
      readonly ratePerSecond: number;
      /** The rate as a share of the reference throughput it was derived from (0.25, 0.5, 0.9). */
      readonly rateShare: number;
      readonly valueBytes: number;
    };

/** A stable name for a cell, e.g. `closed-c64-v100` or `open-r50-v4096`. */
export function cellId(cell: CellSpec): string {
  return cell.kind === "closed"
    ? `closed-c${cell.clients}-v${cell.valueBytes}`
    : `open-r${Math.round(cell.rateShare * 100)}-v${cell.valueBytes}`;
}

/** A value size as the report shows it: `100 B`, `4 KiB`. */
export function valueLabel(valueBytes: number): string {
  return valueBytes % 1024 === 0 ? `${valueBytes / 1024} KiB` : `${valueBytes} B`;
}

/** A cell as progress lines show it: `closed loop, 64 clients, 100 B`. */
export function cellLabel(cell: CellSpec): string {
  return cell.kind === "closed"
    ? `closed loop, ${cell.clients} client${cell.clients === 1 ? "" : "s"}, ${valueLabel(cell.valueBytes)}`
    : `open loop, ${formatRate(cell.ratePerSecond)}/s (${Math.round(cell.rateShare * 100)} %), ${valueLabel(cell.valueBytes)}`;
}

function formatRate(rate: number): string {
  return rate.toLocaleString("en-US", { maximumFractionDigits: 0 });
}

/** A group of a system's processes with one label (`acceptor` ×3) and their CPU. */
export interface ProcessGroupCpu {
  readonly label: string;
  readonly processes: number;
  readonly cpuSeconds: number;
  /** Read and write system calls of the group; null when /proc did not say for one of them. */
  readonly syscalls: number | null;
}

/** One process's share of a cell, as /proc gave it. */
export interface ProcessMeasurement {
  readonly pid: number;
  readonly label: string;
  readonly cpuSeconds: number;
  /** Read and write system calls over the window (process-cpu.ts); null where /proc did not say. */
  readonly syscalls: number | null;
}

/** What one cell measured on one system in one round. */
export interface CellMeasurement extends Pick<
  LoadResult,
  "windowSeconds" | "succeeded" | "writesPerSecond" | "latencyMs" | "errors" | "errorCount" | "skipped"
> {
  readonly cell: CellSpec;
  /** CPU seconds of the whole system over the window; null without /proc. */
  readonly cpuSeconds: number | null;
  readonly cpuSecondsPer1kWrites: number | null;
  /**
   * The bench process's own CPU seconds over the window: the load generator, and for paxos-nats
   * also the PaxosClient, which does there what the gateway does for the REST path. Not in
   * `cpuSeconds`.
   */
  readonly generatorCpuSeconds: number;
  /** Each process, with the pid and label /proc gave it. */
  readonly cpuByProcess: readonly ProcessMeasurement[];
  /**
   * Client values per slot the cluster decided during the cell, warm-up included: how full its
   * slots were, and so how many writes share each slot's messages and store writes. Null for
   * etcd, and when the cluster could not say.
   */
  readonly valuesPerSlot: number | null;
}

/** How one system's round went: measured and checked, or why it has no result. */
export interface SystemRound {
  readonly system: SystemName;
  readonly round: number;
  /** Null when the round has a result; else why not (did not start, failed its check, ...). */
  readonly failure: string | null;
  readonly check: ExactlyOnceResult | null;
  readonly cells: readonly CellMeasurement[];
}

/** Everything one run measured. */
export interface VersusResults {
  /** The systems of this run, in round order (without etcd under --without-etcd). */
  readonly systems: readonly SystemName[];
  readonly rounds: number;
  readonly cells: readonly CellSpec[];
  readonly systemRounds: readonly SystemRound[];
}

/** The measurement of `cell` by `system` in `round`; null when the round has no result. */
export function measurementOf(
  results: VersusResults,
  system: SystemName,
  round: number,
  cell: CellSpec,
): CellMeasurement | null {
  const run = results.systemRounds.find((r) => r.system === system && r.round === round);
  if (run === undefined || run.failure !== null) return null;
  return run.cells.find((m) => cellId(m.cell) === cellId(cell)) ?? null;
}

/** A number of a cell measurement, or null where it has none. */
export type Metric = (measurement: CellMeasurement) => number | null;

export const METRICS = {
  writesPerSecond: (m) => m.writesPerSecond,
  p50: (m) => m.latencyMs?.p50 ?? null,
  p99: (m) => m.latencyMs?.p99 ?? null,
  p999: (m) => m.latencyMs?.p999 ?? null,
  max: (m) => m.latencyMs?.max ?? null,
  cpuPer1k: (m) => m.cpuSecondsPer1kWrites,
  errors: (m) => m.errorCount,
  skipped: (m) => m.skipped,
} as const satisfies Record<string, Metric>;

/** The spread over the rounds with a result of one number of one cell of one system. */
export function cellSpread(results: VersusResults, system: SystemName, cell: CellSpec, metric: Metric): Spread | null {
  const values: (number | null)[] = [];
  for (let round = 1; round <= results.rounds; round++) {
    const m = measurementOf(results, system, round, cell);
    values.push(m === null ? null : metric(m));
  }
  return spreadOf(values);
}

/**
 * The spread of ours ÷ etcd's of one number of one cell, each ratio within one round (measured
 * minutes apart on the same machine, not hours), over the rounds where both have a result.
 */
export function ratioSpread(results: VersusResults, system: SystemName, cell: CellSpec, metric: Metric): Spread | null {
  const values: (number | null)[] = [];
  for (let round = 1; round <= results.rounds; round++) {
    const ours = measurementOf(results, system, round, cell);
    const etcd = measurementOf(results, "etcd", round, cell);
    const a = ours === null ? null : metric(ours);
    const b = etcd === null ? null : metric(etcd);
    values.push(a === null || b === null || b === 0 ? null : a / b);
  }
  return spreadOf(values);
}

/**
 * A system's processes grouped by label (`acceptor` ×3, `redis-server` ×3, `etcd leader`),
 * busiest first; a label's CPU is the sum over its processes.
 */
export function groupByLabel(
  processes: readonly Pick<ProcessMeasurement, "label" | "cpuSeconds" | "syscalls">[],
): ProcessGroupCpu[] {
  const groups = new Map<string, { processes: number; cpuSeconds: number; syscalls: number | null }>();
  for (const p of processes) {
    const group = groups.get(p.label) ?? { processes: 0, cpuSeconds: 0, syscalls: 0 };
    group.processes++;
    group.cpuSeconds += p.cpuSeconds;
    group.syscalls = group.syscalls === null || p.syscalls === null ? null : group.syscalls + p.syscalls;
    groups.set(p.label, group);
  }
  return [...groups]
    .map(([label, g]) => ({ label, ...g }))
    .sort((a, b) => b.cpuSeconds - a.cpuSeconds || a.label.localeCompare(b.label));
}
