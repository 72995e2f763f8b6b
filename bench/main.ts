// `npm run bench`: the benchmark harness. Selects scenarios, runs them one after another (each
// starts and stops its own systems), prints progress and a table per scenario, and writes every
// number to a JSON file under the OS temp dir. `npm run bench -- --help` for the flags.
import { mkdtemp, writeFile } from "node:fs/promises";
import { cpus, loadavg, release, tmpdir, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { BenchAborted, BenchError } from "./lib/bench-errors.ts";
import { killAll } from "./lib/live-systems.ts";
import type { Scenario, ScenarioContext, ScenarioReport } from "./lib/scenario.ts";
import { tracingScenario } from "./scenarios/tracing.ts";
import { versusEtcdScenario } from "./scenarios/versus-etcd.ts";
import { CLOSED_LOOP_CLIENTS_MAX, DURATION_SECONDS_MAX, ROUNDS_MAX, WARMUP_SECONDS_MAX } from "./lib/bench-limits.ts";

const SCENARIOS: readonly Scenario[] = [versusEtcdScenario, tracingScenario];

const HELP = `Benchmarks of the Paxos service, each on fresh local clusters (etcd, nats-server and redis-server on PATH).

Usage:
  npm run bench                          versus-etcd: ours against etcd, side by side (issue 11)
  npm run bench -- --quick               every system once, in about two minutes (results in the run folder only)
  npm run bench -- --only tracing        only the named scenarios (comma-separated)

Options:
  --duration S     seconds measured per cell or row (default 10; 3 with --quick)
  --warmup S       seconds of the same load before measuring (default 2; 1 with --quick)
  --clients LIST   closed-loop clients, one connection each, comma-separated (versus-etcd: 1,16,64,256,
                   or 1,64 with --quick; tracing: one number, default 16)
  --rounds N       run every system (row) N times, interleaved, to show the spread (versus-etcd: 2,
                   or 1 with --quick; tracing: 1)
  --quick          versus-etcd in short: 1 round, clients 1 and 64, 100-byte values, 1 s warm-up,
                   3 s measured, one open-loop rate; writes its results to the run folder only
  --without-etcd   versus-etcd without etcd (and without ratios); the open-loop rates then come from paxos
  --only NAMES     scenarios to run, comma-separated (default: versus-etcd)
  --keep-data      keep each system's data folder (by default only its logs stay)
  --limits JSON, --host-limits JSON, --gateway-limits JSON
                   run our clusters with PAXOS_LIMITS, PAXOS_HOST_LIMITS, PAXOS_GATEWAY_LIMITS set to
                   these (README, "Configuration"), e.g. --limits '{"inflightSlotsMax":4}'
  --profile        run every service with Node's --cpu-prof: a CPU profile per process under
                   <run folder>/profiles/<row>/ (flame graphs in Chrome DevTools or speedscope)
                   and profiles/summary.md, where each process's CPU per decision goes
  --help           this text

Scenarios:
${SCENARIOS.map((s) => `  ${s.name.padEnd(15)}${s.summary}${s.runsByDefault ? " (default)" : ""}`).join("\n")}

Logs, data folders and results.json go to a new folder under ${tmpdir()}, printed at the start;
versus-etcd also writes bench/results/latest.{md,svg,json}, but only when run with the
defaults (any flag but --only and --keep-data makes an experiment, which stays in the run folder).
Ctrl-C stops the running systems and exits; a second Ctrl-C kills them at once.
Exit codes: 0 done, 1 a system failed (its round has no result) or the run failed, 2 bad flags or
a missing server, 130 stopped by Ctrl-C.
`;

function usage(message: string): never {
  process.stderr.write(`bench: ${message}\nSee: npm run bench -- --help\n`);
  process.exit(2);
}

function whole(name: string, text: string | undefined, min: number, max: number): number | null {
  if (text === undefined) return null;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    usage(`--${name} must be a whole number from ${min} to ${max}, not "${text}"`);
  }
  return n;
}

function clientList(text: string | undefined): number[] | null {
  if (text === undefined) return null;
  const list = text.split(",").map((part) => whole("clients", part.trim(), 1, CLOSED_LOOP_CLIENTS_MAX) ?? 0);
  if (new Set(list).size !== list.length) usage(`--clients lists a number twice: "${text}"`);
  return list;
}

let parsed;
try {
  parsed = parseArgs({
    options: {
      duration: { type: "string" },
      warmup: { type: "string" },
      clients: { type: "string" },
      rounds: { type: "string" },
      quick: { type: "boolean" },
      "without-etcd": { type: "boolean" },
      only: { type: "string" },
      "keep-data": { type: "boolean" },
      profile: { type: "boolean" },
      limits: { type: "string" },
      "host-limits": { type: "string" },
      "gateway-limits": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
} catch (error) {
  usage(error instanceof Error ? error.message : String(error));
}
const { values } = parsed;
if (values.help === true) {
  process.stdout.write(HELP);
  process.exit(0);
}

const names =
  values.only?.split(",").map((name) => name.trim()) ?? SCENARIOS.filter((s) => s.runsByDefault).map((s) => s.name);
const selected = names.map(
  (name) =>
    SCENARIOS.find((s) => s.name === name) ??
    usage(`no scenario "${name}"; there are: ${SCENARIOS.map((s) => s.name).join(", ")}`),
);

const say = (line: string): void => {
  process.stdout.write(`[bench] ${line}\n`);
};

const controller = new AbortController();
let interrupts = 0;
const onSignal = (signal: NodeJS.Signals): void => {
  interrupts++;
  if (interrupts === 1) {
    say(`${signal}: stopping the running cluster (again to kill it at once)`);
    controller.abort();
  } else {
    say(`${signal} again: killing every process the bench started`);
    killAll();
    process.exit(130);
  }
};
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);

const quick = values.quick === true;
const settings = {
  clients: clientList(values.clients),
  warmupSeconds: whole("warmup", values.warmup, 0, WARMUP_SECONDS_MAX) ?? (quick ? 1 : 2),
  durationSeconds: whole("duration", values.duration, 1, DURATION_SECONDS_MAX) ?? (quick ? 3 : 10),
  rounds: whole("rounds", values.rounds, 1, ROUNDS_MAX),
  quick,
  withoutEtcd: values["without-etcd"] === true,
};
/** The limits flags, as the variables our clusters read (each service validates them at start). */
const paxosEnv: Record<string, string> = {};
for (const [flag, variable] of [
  ["limits", "PAXOS_LIMITS"],
  ["host-limits", "PAXOS_HOST_LIMITS"],
  ["gateway-limits", "PAXOS_GATEWAY_LIMITS"],
] as const) {
  const text = values[flag];
  if (text === undefined) continue;
  try {
    JSON.parse(text);
  } catch {
    usage(`--${flag} must be a JSON object such as '{"inflightSlotsMax":4}', not ${JSON.stringify(text)}`);
  }
  paxosEnv[variable] = text;
}
const flags: Record<string, string | boolean> = {};
for (const [name, value] of Object.entries(values)) if (value !== undefined) flags[name] = value;
const cpuList = cpus();
const machine = {
  cpuModel: cpuList[0]?.model ?? "unknown",
  cpuCount: cpuList.length,
  memoryBytes: totalmem(),
  os: `${process.platform} ${release()}`,
  node: process.version,
  loadAverageAtStart: loadavg(),
};
for (const scenario of selected) {
  const missing = scenario.preflight(settings);
  if (missing !== null) {
    process.stderr.write(`bench: ${scenario.name}: ${missing}\n`);
    process.exit(2);
  }
}
const runDir = await mkdtemp(join(tmpdir(), "paxos-bench-"));
const context: ScenarioContext = {
  repoRoot: resolve(import.meta.dirname, ".."),
  runDir,
  ...settings,
  keepData: values["keep-data"] === true,
  profileDir: values.profile === true ? join(runDir, "profiles") : null,
  paxosEnv,
  flags,
  machine,
  say,
  signal: controller.signal,
};
say(`run folder ${runDir} (logs, data, results.json)`);
say(
  `${machine.cpuCount} × ${machine.cpuModel}, load average ${machine.loadAverageAtStart.map((n) => n.toFixed(2)).join(" ")}; ` +
    `${context.warmupSeconds} s warm-up, ${context.durationSeconds} s measured per cell or row`,
);

const startedAt = new Date().toISOString();
const reports: { scenario: string; report: ScenarioReport }[] = [];
let exitCode = 0;
try {
  for (const scenario of selected) {
    say(`scenario ${scenario.name}: ${scenario.summary}`);
    const report = await scenario.run(context);
    reports.push({ scenario: scenario.name, report });
    if (report.failures.length > 0) exitCode = 1;
  }
} catch (error) {
  if (error instanceof BenchAborted) {
    say("stopped by Ctrl-C; no results");
    exitCode = 130;
  } else if (error instanceof BenchError) {
    say(`failed: ${error.message}`);
    exitCode = 1;
  } else {
    say(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    exitCode = 1;
  }
} finally {
  killAll();
}

if (reports.length > 0) {
  const resultsPath = join(runDir, "results.json");
  const scenarios = Object.fromEntries(reports.map(({ scenario, report }) => [scenario, report.data]));
  await writeFile(
    resultsPath,
    `${JSON.stringify({ startedAt, finishedAt: new Date().toISOString(), machine: { ...machine, loadAverageAtEnd: loadavg() }, settings, scenarios }, null, 2)}\n`,
  );
  for (const { report } of reports) {
    process.stdout.write(`\n${report.title}\n\n${report.table}\n\n`);
    for (const note of report.notes) process.stdout.write(`- ${note}\n`);
    if (report.failures.length > 0) {
      process.stdout.write("\nFAILED (so the exit code is 1):\n");
      for (const failure of report.failures) process.stdout.write(`- ${failure}\n`);
    }
  }
  process.stdout.write(`\nResults: ${resultsPath}\n`);
  for (const { report } of reports) for (const file of report.files) process.stdout.write(`         ${file}\n`);
}
process.exit(exitCode);
