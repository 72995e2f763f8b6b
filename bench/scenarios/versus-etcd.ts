// Issue 11: ours against etcd, side by side, in one run. Every round starts each system once
// (etcd's 3-member cluster, our `npm start` cluster through its REST gateway and through the
// native NATS client, our embedded cluster), drives it with the same closed-loop and open-loop
// loads from this process, checks that every write it acknowledged is stored exactly once, and
// stops it; the report gives every cell's throughput, latency and CPU per write, and ours as
// ratios to etcd's of the same round. The machines are shared and noisy: only ratios within one
// run mean much, and the rounds show how much they move.
import { copyFile, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { BenchAborted, BenchError, throwIfAborted } from "../lib/bench-errors.ts";
import {
  OPEN_LOOP_OUTSTANDING_MAX,
  OPEN_LOOP_RATE_MAX_PER_SECOND,
  OPEN_LOOP_RATE_MIN_PER_SECOND,
} from "../lib/bench-limits.ts";
import { BenchWriteSource } from "../lib/bench-write.ts";
import { profileMarkdown, readProfiles } from "../lib/cpu-profile.ts";
import { ETCD_COMMAND } from "../lib/etcd-cluster.ts";
import { findExecutable, missingClusterServers, versionOf } from "../lib/installed-servers.ts";
import { chartSeries, latencyChartSvg } from "../lib/latency-chart.ts";
import { sampleCpuOf, treeProcesses } from "../lib/process-cpu.ts";
import type { Scenario, ScenarioContext, ScenarioReport } from "../lib/scenario.ts";
import { formatNumber } from "../lib/text-table.ts";
import { closedLoopTable, formatMs, openLoopTable, checkTable, versusMarkdown } from "../lib/versus-markdown.ts";
import {
  type CellMeasurement,
  type CellSpec,
  cellId,
  cellLabel,
  METRICS,
  OUR_SYSTEMS,
  ratioSpread,
  SYSTEM_NAMES,
  SYSTEM_SUMMARIES,
  type SystemName,
  type SystemRound,
  type VersusResults,
} from "../lib/versus-results.ts";
import { type AcknowledgedBenchWrite, profileDirOf, type RunningSystem, startSystem } from "../lib/versus-systems.ts";
import { type LoadResult, runClosedLoopLoad, runOpenLoopLoad } from "../lib/write-load.ts";
import type { StopOutcome } from "../lib/system-under-test.ts";

const CLOSED_LOOP_CLIENTS = [1, 16, 64, 256] as const;
const VALUE_SIZES_BYTES = [100, 4096] as const;
/** The open-loop rates, as shares of the reference throughput. */
const RATE_SHARES = [0.25, 0.5, 0.9] as const;
const ROUNDS_DEFAULT = 2;

/** `--quick`: every system once, in under two minutes on the 2-core machine. */
const QUICK = {
  clients: [1, 64],
  valueSizes: [100],
  rateShares: [0.5],
  rounds: 1,
} as const;

/**
 * The cell whose throughput sets the open-loop rates: closed loop, 64 clients, 100-byte values,
 * of etcd (of our paxos under --without-etcd) in round 1, measured before any open-loop cell.
 */
const REFERENCE = { clients: 64, valueBytes: 100 } as const;

/**
 * Rough seconds each step takes on the 2-core machine, for the ETA only (the ETA scales them by
 * how fast the run has gone so far).
 */
const STARTUP_ESTIMATE_SECONDS: Readonly<Record<SystemName, number>> = {
  etcd: 3,
  paxos: 22,
  "paxos-nats": 24,
  "paxos-embedded": 8,
};
const CHECK_AND_STOP_ESTIMATE_SECONDS = 6;

/** The bench's event-loop p99 above which a cell's note says the generator itself lagged. */
const GENERATOR_LAG_NOTE_MS = 50;

/** The run's settings, from the flags. */
interface Settings {
  readonly systems: readonly SystemName[];
  readonly rounds: number;
  readonly clients: readonly number[];
  readonly valueSizes: readonly number[];
  readonly rateShares: readonly number[];
  readonly warmupSeconds: number;
  readonly durationSeconds: number;
  /**
   * True only for a run of the defaults: any flag but --only and --keep-data makes it an
   * experiment (fewer cells, shorter windows, other limits, a profiler slowing every service),
   * whose results stay in the run folder, so that it never replaces the committed comparison.
   */
  readonly writeBenchResults: boolean;
}

/** Flags that leave a run measuring what a default run measures. */
const RESULT_NEUTRAL_FLAGS: ReadonlySet<string> = new Set(["only", "keep-data"]);

function settingsOf(context: ScenarioContext): Settings {
  return {
    systems: SYSTEM_NAMES.filter((name) => !(context.withoutEtcd && name === "etcd")),
    rounds: context.rounds ?? (context.quick ? QUICK.rounds : ROUNDS_DEFAULT),
    clients: context.clients ?? (context.quick ? QUICK.clients : CLOSED_LOOP_CLIENTS),
    valueSizes: context.quick ? QUICK.valueSizes : VALUE_SIZES_BYTES,
    rateShares: context.quick ? QUICK.rateShares : RATE_SHARES,
    warmupSeconds: context.warmupSeconds,
    durationSeconds: context.durationSeconds,
    writeBenchResults: Object.keys(context.flags).every((flag) => RESULT_NEUTRAL_FLAGS.has(flag)),
  };
}

/** Where the open-loop rates came from. */
interface RateReference {
  readonly system: SystemName;
  readonly round: number;
  readonly cell: CellSpec;
  readonly writesPerSecond: number;
}

/** One cell as run: what the report needs, and the raw load for the JSON file. */
interface CellRecord {
  readonly measurement: CellMeasurement;
  readonly load: LoadResult;
  readonly writesTo: string;
}

/** One system's round as run. */
interface SystemRoundRecord {
  readonly system: SystemName;
  readonly round: number;
  readonly startupMs: number | null;
  readonly cells: CellRecord[];
  readonly failure: string | null;
  readonly check: SystemRound["check"];
  readonly stop: StopOutcome | null;
  readonly logPath: string | null;
}

/**
 * Progress of the whole run, for the ETA: each step (a start, a cell, a check and stop) has an
 * estimate; the share done is of the estimates, and the time left is the time so far scaled by
 * what is left, so a machine slower than the estimates shows in the ETA within a few steps.
 */
class RunClock {
  readonly #startedMs = Date.now();
  readonly #totalSeconds: number;
  #doneSeconds = 0;

  constructor(totalSeconds: number) {
    this.#totalSeconds = Math.max(1, totalSeconds);
  }

  done(estimateSeconds: number): void {
    this.#doneSeconds = Math.min(this.#totalSeconds, this.#doneSeconds + estimateSeconds);
  }

  /** E.g. "run 23 %, ETA 9 min 40 s". */
  text(): string {
    const share = this.#doneSeconds / this.#totalSeconds;
    const elapsedSeconds = (Date.now() - this.#startedMs) / 1000;
    if (share <= 0) return "run 0 %";
    const leftSeconds = Math.max(0, (elapsedSeconds * (1 - share)) / share);
    return `run ${Math.round(share * 100)} %, ETA ${duration(leftSeconds)}`;
  }
}

function duration(seconds: number): string {
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${Math.round(seconds - minutes * 60)} s`;
}

function closedCells(settings: Settings): CellSpec[] {
  return settings.valueSizes.flatMap((valueBytes) =>
    settings.clients.map((clients) => ({ kind: "closed" as const, clients, valueBytes })),
  );
}

/** The closed-loop cell that stands for the reference: 64 clients with 100-byte values, or the nearest there is. */
function referenceCell(cells: readonly CellSpec[]): CellSpec | null {
  const closed = cells.filter((c) => c.kind === "closed");
  const sized = closed.filter((c) => c.valueBytes === REFERENCE.valueBytes);
  const pool = sized.length > 0 ? sized : closed;
  return (
    [...pool].sort(
      (a, b) =>
        Math.abs((a.kind === "closed" ? a.clients : 0) - REFERENCE.clients) -
        Math.abs((b.kind === "closed" ? b.clients : 0) - REFERENCE.clients),
    )[0] ?? null
  );
}

function openCells(settings: Settings, reference: RateReference): CellSpec[] {
  return settings.valueSizes.flatMap((valueBytes) =>
    settings.rateShares.map((rateShare) => ({
      kind: "open" as const,
      ratePerSecond: Math.min(
        OPEN_LOOP_RATE_MAX_PER_SECOND,
        Math.max(OPEN_LOOP_RATE_MIN_PER_SECOND, Math.round(reference.writesPerSecond * rateShare)),
      ),
      rateShare,
      valueBytes,
    })),
  );
}

function messageOf(error: unknown): string {
  if (error instanceof BenchError) return error.message;
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

async function run(context: ScenarioContext): Promise<ScenarioReport> {
  const settings = settingsOf(context);
  const startedAt = new Date().toISOString();
  const versions = {
    etcd: settings.systems.includes("etcd") ? await versionOf(ETCD_COMMAND) : "not run (--without-etcd)",
    natsServer: await versionOf("nats-server"),
    redisServer: await versionOf("redis-server"),
    node: process.version,
  };
  context.say(`versions: ${versions.etcd}; ${versions.natsServer}; ${versions.redisServer}; Node ${versions.node}`);
  const closed = closedCells(settings);
  const refCell = referenceCell(closed);
  const cellSeconds = settings.warmupSeconds + settings.durationSeconds + 0.5;
  const cellsPerSystem = closed.length + settings.valueSizes.length * settings.rateShares.length;
  const clock = new RunClock(
    settings.rounds *
      settings.systems.reduce(
        (sum, system) =>
          sum + STARTUP_ESTIMATE_SECONDS[system] + cellsPerSystem * cellSeconds + CHECK_AND_STOP_ESTIMATE_SECONDS,
        0,
      ),
  );
  context.say(
    `${settings.systems.join(", ")}; ${settings.rounds} round(s); closed loop with ${settings.clients.join(", ")} clients; ` +
      `values of ${settings.valueSizes.join(" and ")} bytes; open loop at ${settings.rateShares.map((s) => `${s * 100} %`).join(", ")} ` +
      `of the reference; ${settings.warmupSeconds} s warm-up and ${settings.durationSeconds} s measured per cell`,
  );

  // Set once, by the first system that measures the reference cell (etcd, as it runs first).
  const rates: { reference: RateReference | null; open: CellSpec[] | null } = { reference: null, open: null };
  const records: SystemRoundRecord[] = [];
  const profileSections: string[] = [];

  for (let round = 1; round <= settings.rounds; round++) {
    for (const system of settings.systems) {
      const say = (line: string): void => context.say(`[${system} round ${round}/${settings.rounds}] ${line}`);
      const record = await runSystemRound({
        context,
        settings,
        system,
        round,
        say,
        clock,
        closedCells: closed,
        openCells: () => rates.open ?? [],
        afterClosed: (cells) => {
          if (rates.open !== null || refCell === null) return;
          const measured = cells.find((c) => cellId(c.measurement.cell) === cellId(refCell));
          if (measured === undefined || measured.measurement.writesPerSecond <= 0) return;
          const reference = { system, round, cell: refCell, writesPerSecond: measured.measurement.writesPerSecond };
          const open = openCells(settings, reference);
          rates.reference = reference;
          rates.open = open;
          say(
            `open-loop rates from this cell (${cellLabel(refCell)}, ${formatNumber(reference.writesPerSecond, 0)} writes/s): ` +
              open.map((c) => (c.kind === "open" ? `${c.ratePerSecond}/s` : "")).join(", "),
          );
        },
        profileSections,
      });
      records.push(record);
      if (record.failure !== null) say(`NO RESULT this round: ${record.failure}`);
    }
  }

  if (context.profileDir !== null) {
    const summary = join(context.profileDir, "summary.md");
    await mkdir(context.profileDir, { recursive: true });
    await writeFile(summary, `# CPU profiles under load (versus-etcd)\n\n${profileSections.join("\n")}`);
    context.say(`profile summary: ${summary}`);
  }

  const allCells = [...closed, ...(rates.open ?? [])];
  const results: VersusResults = {
    systems: settings.systems,
    rounds: settings.rounds,
    cells: allCells,
    systemRounds: records.map((r) => ({
      system: r.system,
      round: r.round,
      failure: r.failure,
      check: r.check,
      cells: r.cells.map((c) => c.measurement),
    })),
  };
  const notes = reportNotes(settings, results, records, rates.reference);
  const finishedAt = new Date().toISOString();
  const preamble = {
    title: "Ours against etcd (npm run bench, versus-etcd)",
    lines: [
      `Run ${startedAt} to ${finishedAt} on ${context.machine.cpuCount} × ${context.machine.cpuModel}, ${context.machine.os}, ` +
        `load average at the start ${context.machine.loadAverageAtStart.map((n) => n.toFixed(2)).join(" ")}.`,
      `${versions.etcd}; ${versions.natsServer}; ${versions.redisServer}; Node ${versions.node}.`,
      `Flags: ${flagText(context.flags)}. ${settings.rounds} round(s), ${settings.warmupSeconds} s warm-up and ${settings.durationSeconds} s measured per cell.`,
      ...settings.systems.map((s) => `${s}: ${SYSTEM_SUMMARIES[s]}.`),
    ],
    notes,
  };
  const markdown = versusMarkdown(results, preamble);
  const svg = latencyChartSvg(
    chartSeries(results),
    `Latency against throughput, closed loop (${settings.rounds} round${settings.rounds === 1 ? "" : "s"}, medians)`,
  );
  const json = {
    scenario: "versus-etcd",
    startedAt,
    finishedAt,
    machine: context.machine,
    versions,
    flags: context.flags,
    settings,
    rates: { reference: rates.reference, shares: settings.rateShares },
    cells: allCells.map((cell) => ({ id: cellId(cell), ...cell })),
    systemRounds: records,
    ratiosToEtcd: settings.systems.includes("etcd") ? ratiosOf(results) : null,
  };

  const runResults = join(context.runDir, "versus-etcd");
  const written = await writeResults(runResults, markdown, svg, json);
  const files = [...written];
  if (settings.writeBenchResults) {
    const benchResults = join(context.repoRoot, "bench", "results");
    await mkdir(benchResults, { recursive: true });
    for (const file of written) {
      const target = join(benchResults, file.slice(runResults.length + 1));
      await copyFile(file, target);
      files.push(target);
    }
  }

  const failures = records
    .filter((r) => r.failure !== null)
    .map((r) => `${r.system} round ${r.round}: ${r.failure ?? ""}`);
  const ours = OUR_SYSTEMS.filter((s) => settings.systems.includes(s));
  const table = [
    ...ours.map((s) => `${s} (closed loop):\n\n${closedLoopTable(results, s)}`),
    ...(allCells.some((c) => c.kind === "open") ? [`Open loop:\n\n${openLoopTable(results)}`] : []),
    `Exactly once:\n\n${checkTable(results)}`,
  ].join("\n\n");
  return {
    title: "Ours against etcd (issue 11): writes through each system's client API, same loads, same run",
    table,
    notes: [
      ...notes,
      `The full report (every round, CPU by process): ${join(settings.writeBenchResults ? join(context.repoRoot, "bench", "results") : runResults, "latest.md")}`,
    ],
    data: json,
    failures,
    files,
  };
}

function flagText(flags: Readonly<Record<string, string | boolean>>): string {
  const entries = Object.entries(flags);
  if (entries.length === 0) return "none (the defaults)";
  return entries.map(([name, value]) => (value === true ? `--${name}` : `--${name} ${String(value)}`)).join(" ");
}

async function writeResults(dir: string, markdown: string, svg: string, json: unknown): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const files = [join(dir, "latest.md"), join(dir, "latest.svg"), join(dir, "latest.json")];
  await writeFile(files[0] ?? "", markdown);
  await writeFile(files[1] ?? "", svg);
  await writeFile(files[2] ?? "", `${JSON.stringify(json, null, 2)}\n`);
  return files;
}

/** Every ratio of ours to etcd, per cell: the spread of the per-round ratios. */
function ratiosOf(results: VersusResults): unknown {
  return OUR_SYSTEMS.filter((s) => results.systems.includes(s)).map((system) => ({
    system,
    cells: results.cells.map((cell) => ({
      cell: cellId(cell),
      writesPerSecond: ratioSpread(results, system, cell, METRICS.writesPerSecond),
      p50: ratioSpread(results, system, cell, METRICS.p50),
      p99: ratioSpread(results, system, cell, METRICS.p99),
      cpuPer1kWrites: ratioSpread(results, system, cell, METRICS.cpuPer1k),
    })),
  }));
}

interface SystemRoundPlan {
  readonly context: ScenarioContext;
  readonly settings: Settings;
  readonly system: SystemName;
  readonly round: number;
  readonly say: (line: string) => void;
  readonly clock: RunClock;
  readonly closedCells: readonly CellSpec[];
  /** The open-loop cells: none until a system measured the reference cell (`afterClosed`). */
  readonly openCells: () => readonly CellSpec[];
  /** Called after the closed-loop cells, with what they measured: may set the open-loop rates. */
  readonly afterClosed: (cells: readonly CellRecord[]) => void;
  readonly profileSections: string[];
}

/**
 * One system's round: start it, run every cell on it, check its acknowledged writes, stop it.
 * A failure (it does not start, a cell fails, its check fails) leaves the round without a result
 * and the run goes on with the next system; Ctrl-C stops the system and ends the run.
 */
async function runSystemRound(plan: SystemRoundPlan): Promise<SystemRoundRecord> {
  const { context, settings, system, round, say, clock } = plan;
  const slug = `${system}-round${round}`;
  const profileDir = profileDirOf(context.profileDir, system, round);
  const cellSeconds = settings.warmupSeconds + settings.durationSeconds + 0.5;
  const cells: CellRecord[] = [];
  const acknowledged: AcknowledgedBenchWrite[] = [];
  let running: RunningSystem | null = null;
  let startupMs: number | null = null;
  let failure: string | null = null;
  let check: SystemRound["check"] = null;
  let stop: StopOutcome | null = null;
  let measureStartMs: number | null = null;
  let measureEndMs: number | null = null;
  let aborted: BenchAborted | null = null;
  const startedMs = Date.now();
  try {
    running = await startSystem(system, {
      repoRoot: context.repoRoot,
      runDir: context.runDir,
      slug,
      keepData: context.keepData,
      profileDir,
      paxosEnv: context.paxosEnv,
      say,
      signal: context.signal,
    });
    startupMs = Date.now() - startedMs;
    clock.done(STARTUP_ESTIMATE_SECONDS[system]);
    say(`ready after ${(startupMs / 1000).toFixed(1)} s; ${clock.text()}`);
    measureStartMs = Date.now() + settings.warmupSeconds * 1000;
    for (const cell of plan.closedCells) {
      cells.push(await runCell(running, cell, plan, acknowledged));
      clock.done(cellSeconds);
    }
    plan.afterClosed(cells);
    for (const cell of plan.openCells()) {
      cells.push(await runCell(running, cell, plan, acknowledged));
      clock.done(cellSeconds);
    }
    measureEndMs = Date.now();
    say(`checking ${formatNumber(acknowledged.length, 0)} acknowledged writes, each exactly once in the store`);
    const checkStartedMs = Date.now();
    check = await running.check(acknowledged, context.signal);
    say(
      `exactly-once check ${check.ok ? "passed" : "FAILED"} in ${((Date.now() - checkStartedMs) / 1000).toFixed(1)} s: ` +
        `${formatNumber(check.acknowledged, 0)} acknowledged, ${formatNumber(check.entriesRead, 0)} read back` +
        (check.ok ? "" : `; ${problemText(check)}`),
    );
    for (const example of check.examples) say(`  ${example}`);
    if (!check.ok) failure = `exactly-once check failed (${problemText(check)})`;
  } catch (error) {
    if (error instanceof BenchAborted) aborted = error;
    else if (context.signal.aborted) aborted = new BenchAborted();
    else failure = messageOf(error);
  } finally {
    if (running !== null) stop = await running.stop(say);
    clock.done(CHECK_AND_STOP_ESTIMATE_SECONDS);
  }
  if (aborted !== null) throw aborted;
  if (failure === null && stop !== null && (stop.killed || stop.leftoverPids.length > 0)) {
    say("it did not stop cleanly (see above); its numbers stand, as the load was over");
  }
  if (profileDir !== null && measureStartMs !== null && measureEndMs !== null) {
    const stoppedAt = Date.now();
    const window = { fromMsBeforeEnd: stoppedAt - measureStartMs, toMsBeforeEnd: stoppedAt - measureEndMs + 1_000 };
    const profiles = await readProfiles(profileDir, context.repoRoot, window);
    const cpuSeconds = cells.reduce((sum, c) => sum + (c.measurement.cpuSeconds ?? 0), 0);
    const succeeded = cells.reduce((sum, c) => sum + c.measurement.succeeded, 0);
    plan.profileSections.push(
      profileMarkdown(`${system}, round ${round}`, profiles, succeeded === 0 ? null : (cpuSeconds * 1000) / succeeded),
    );
    say(`${profiles.length} CPU profiles under ${profileDir}`);
  }
  say(clock.text());
  return {
    system,
    round,
    startupMs,
    cells,
    failure,
    check,
    stop,
    logPath: running?.system.logPath ?? null,
  };
}

function problemText(check: NonNullable<SystemRound["check"]>): string {
  const { lost, wrongIndex, wrongValue, duplicate } = check.problems;
  return `${lost} lost, ${wrongIndex} at a wrong index, ${wrongValue} with a wrong value, ${duplicate} duplicated`;
}

/** Runs one cell on a running system and says what it measured. */
async function runCell(
  running: RunningSystem,
  cell: CellSpec,
  plan: SystemRoundPlan,
  acknowledged: AcknowledgedBenchWrite[],
): Promise<CellRecord> {
  const { context, settings, say, clock } = plan;
  const label = cellLabel(cell);
  const { target, writesTo } = await running.targetForCell(context.signal);
  // Listed now, while the system is steady: sampling only these keeps the window's edges short.
  const processes = treeProcesses(running.system.rootPids);
  const decidedBefore = await running.decided(context.signal);
  say(`${label}: ${settings.warmupSeconds} s warm-up, ${settings.durationSeconds} s measured; writes to ${writesTo}`);
  const common = {
    target,
    writes: new BenchWriteSource(`r${plan.round}-${plan.system}-${cellId(cell)}`, cell.valueBytes),
    warmupMs: settings.warmupSeconds * 1000,
    durationMs: settings.durationSeconds * 1000,
    onAcknowledged: (write: { writeId: string }, outcome: { requestId: string; position: number }) => {
      acknowledged.push({
        writeId: write.writeId,
        valueBytes: cell.valueBytes,
        requestId: outcome.requestId,
        position: outcome.position,
      });
    },
    sampleSystemCpu: () => sampleCpuOf(processes),
    progress: (secondsDone: number, succeeded: number) =>
      say(
        `${label}: ${secondsDone} s of ${settings.durationSeconds}: ${formatNumber(succeeded, 0)} writes; ${clock.text()}`,
      ),
    signal: context.signal,
  };
  const load =
    cell.kind === "closed"
      ? await runClosedLoopLoad({ ...common, clients: cell.clients })
      : await runOpenLoopLoad({
          ...common,
          ratePerSecond: cell.ratePerSecond,
          outstandingMax: OPEN_LOOP_OUTSTANDING_MAX,
        });
  throwIfAborted(context.signal);
  const gone = running.system.exitReason();
  if (gone !== null) {
    throw new BenchError(`${running.name} stopped during ${label} (${gone}); its log: ${running.system.logPath}`);
  }
  const decidedAfter = await running.decided(context.signal);
  const slots = decidedBefore === null || decidedAfter === null ? 0 : decidedAfter.slots - decidedBefore.slots;
  const valuesPerSlot =
    decidedBefore === null || decidedAfter === null || slots <= 0
      ? null
      : (decidedAfter.values - decidedBefore.values) / slots;
  const cpuByProcess = (load.cpu?.processes ?? []).map((p) => ({
    pid: p.pid,
    label: running.processLabel(p.pid, p.label),
    cpuSeconds: p.cpuSeconds,
    syscalls: p.syscalls,
  }));
  const measurement: CellMeasurement = {
    cell,
    windowSeconds: load.windowSeconds,
    succeeded: load.succeeded,
    writesPerSecond: load.writesPerSecond,
    latencyMs: load.latencyMs,
    errors: load.errors,
    errorCount: load.errorCount,
    skipped: load.skipped,
    cpuSeconds: load.cpu?.cpuSeconds ?? null,
    generatorCpuSeconds: load.generatorCpuSeconds,
    cpuSecondsPer1kWrites: load.cpuSecondsPer1kWrites,
    cpuByProcess,
    valuesPerSlot,
  };
  const errors = Object.entries(load.errors).map(([kind, n]) => `${n}× ${kind}`);
  say(
    `${label}: ${formatNumber(load.writesPerSecond, 0)} writes/s, p50 ${formatMs(load.latencyMs?.p50 ?? null)} ms, ` +
      `p99 ${formatMs(load.latencyMs?.p99 ?? null)} ms, p99.9 ${formatMs(load.latencyMs?.p999 ?? null)} ms, ` +
      `max ${formatMs(load.latencyMs?.max ?? null)} ms, CPU ${load.cpuSecondsPer1kWrites === null ? "n/a" : load.cpuSecondsPer1kWrites.toFixed(3)} s per 1k writes` +
      (valuesPerSlot === null ? "" : `, ${valuesPerSlot.toFixed(1)} values per slot`) +
      (errors.length > 0 ? `, errors: ${errors.join(", ")}` : ", no errors") +
      (load.skipped > 0 ? `, ${load.skipped} skipped` : "") +
      (load.unanswered > 0 ? `, ${load.unanswered} unanswered at the drain's bound` : ""),
  );
  return { measurement, load, writesTo };
}

function reportNotes(
  settings: Settings,
  results: VersusResults,
  records: readonly SystemRoundRecord[],
  reference: RateReference | null,
): string[] {
  const notes: string[] = [];
  if (reference !== null) {
    notes.push(
      `Open-loop rates: ${settings.rateShares.map((s) => `${s * 100} %`).join(", ")} of ${reference.system}'s ` +
        `${cellLabel(reference.cell)} throughput in round ${reference.round} ` +
        `(${formatNumber(reference.writesPerSecond, 0)} writes/s), the same absolute rates for every system.`,
    );
  } else {
    notes.push("No system measured the reference cell, so there are no open-loop cells.");
  }
  notes.push(
    "Latency: from send (closed loop) or from the scheduled send time (open loop) to the answer, successful writes only, " +
      "in Node's HDR histogram (µs). Writes/s: successes in the measured window. Errors: answers other than success, " +
      "timeouts and connection errors in the window.",
    "CPU: utime + stime from /proc over the measured window, of every process of the system (etcd: its three members; " +
      "ours: the launcher and everything under it, nats-server and redis-server included), per 1,000 successful writes. " +
      "The load generator runs in the bench process on the same cores and is not counted; its own CPU and event-loop " +
      "delay per cell are in latest.json.",
    "paxos-nats: every client of a cell proposes through one PaxosClient (one NATS connection, logged in as gateway-g1) " +
      "in the bench process, so the client's share of the work (what the gateway does on the REST path) is in the " +
      "bench process's CPU (the last column of the CPU-by-process table), not in the system's; the gateway of that " +
      "cluster still runs (and is counted) but serves no request.",
    "Each system starts once per round with empty data folders, its cells run one after another on it, and its " +
      "exactly-once check reads back everything it stored after its last cell.",
    "Values/slot (every round, ours only): client values the learners delivered during the cell, warm-up included, " +
      "divided by the slots decided (GET /v1/cluster before and after): how many writes shared each slot's accept, " +
      "votes, store writes and delivery.",
  );
  const lagging: string[] = [];
  for (const r of records) {
    for (const c of r.cells) {
      if (c.load.generatorLoopDelayP99Ms > GENERATOR_LAG_NOTE_MS) {
        lagging.push(
          `${r.system} round ${r.round} ${cellLabel(c.measurement.cell)} (${formatMs(c.load.generatorLoopDelayP99Ms)} ms)`,
        );
      }
    }
  }
  if (lagging.length > 0) {
    notes.push(
      `The generator's event loop lagged (p99 delay above ${GENERATOR_LAG_NOTE_MS} ms) in: ${lagging.join("; ")}. ` +
        "Those latencies include the bench's own delay.",
    );
  }
  const unclean = records.filter((r) => r.stop !== null && (r.stop.killed || r.stop.leftoverPids.length > 0));
  if (unclean.length > 0) {
    notes.push(
      `Did not stop cleanly (killed or left processes): ${unclean.map((r) => `${r.system} round ${r.round}`).join(", ")}.`,
    );
  }
  const failed = results.systemRounds.filter((r) => r.failure !== null);
  for (const r of failed) notes.push(`${r.system} round ${r.round} has no result: ${r.failure ?? ""}`);
  return notes;
}

/** The versus-etcd scenario of `npm run bench`: what it runs by default. */
export const versusEtcdScenario: Scenario = {
  name: "versus-etcd",
  summary: "ours (REST, native NATS client, embedded) against a 3-member etcd, same loads, same run (issue 11)",
  runsByDefault: true,
  preflight: (context) => {
    if (!context.withoutEtcd && findExecutable(ETCD_COMMAND) === null) {
      return `${ETCD_COMMAND} not found on PATH: apt-get install etcd-server (or run with --without-etcd to leave etcd out)`;
    }
    return missingClusterServers();
  },
  run,
};
