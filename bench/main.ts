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

const SCENARIOS: readonly Scenario[] = [tracingScenario];

const HELP = `Benchmarks of the Paxos service, each on fresh local clusters (nats-server and redis-server on PATH).

Usage:
  npm run bench                          every scenario with the defaults
  npm run bench -- --duration 5          a shorter measured window
  npm run bench -- --only tracing        only the named scenarios (comma-separated)

Options:
  --duration S     seconds measured per row (default 10)
  --warmup S       seconds of the same load before measuring (default 2)
  --clients N      closed-loop clients, one HTTP connection each (default 16)
  --rounds N       measure every row N times, rows interleaved, to show the spread (default 1)
  --only NAMES     scenarios to run, comma-separated (default: all)
  --keep-data      keep each row's data folder (by default only its log stays)
  --profile        run every service with Node's --cpu-prof: a CPU profile per process under
                   <run folder>/profiles/<row>/ (flame graphs in Chrome DevTools or speedscope)
                   and profiles/summary.md, where each process's CPU per decision goes
  --help           this text

Scenarios:
${SCENARIOS.map((s) => `  ${s.name.padEnd(15)}${s.summary}`).join("\n")}

Logs, data folders and results.json go to a new folder under ${tmpdir()}, printed at the start.
Ctrl-C stops the running cluster and exits; a second Ctrl-C kills it at once.
`;

function usage(message: string): never {
  process.stderr.write(`bench: ${message}\nSee: npm run bench -- --help\n`);
  process.exit(2);
}

function whole(name: string, text: string | undefined, fallback: number, min: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min) usage(`--${name} must be a whole number of at least ${min}, not "${text}"`);
  return n;
}

let parsed;
try {
  parsed = parseArgs({
    options: {
      duration: { type: "string" },
      warmup: { type: "string" },
      clients: { type: "string" },
      rounds: { type: "string" },
      only: { type: "string" },
      "keep-data": { type: "boolean" },
      profile: { type: "boolean" },
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

const names = values.only?.split(",").map((name) => name.trim()) ?? SCENARIOS.map((s) => s.name);
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

const settings = {
  connections: whole("clients", values.clients, 16, 1),
  warmupSeconds: whole("warmup", values.warmup, 2, 0),
  durationSeconds: whole("duration", values.duration, 10, 1),
  rounds: whole("rounds", values.rounds, 1, 1),
};
const runDir = await mkdtemp(join(tmpdir(), "paxos-bench-"));
const context: ScenarioContext = {
  repoRoot: resolve(import.meta.dirname, ".."),
  runDir,
  ...settings,
  keepData: values["keep-data"] === true,
  profileDir: values.profile === true ? join(runDir, "profiles") : null,
  say,
  signal: controller.signal,
};
const cpuList = cpus();
const machine = {
  cpuModel: cpuList[0]?.model ?? "unknown",
  cpuCount: cpuList.length,
  memoryBytes: totalmem(),
  os: `${process.platform} ${release()}`,
  node: process.version,
  loadAverageAtStart: loadavg(),
};
say(`run folder ${runDir} (logs, data, results.json)`);
say(
  `${machine.cpuCount} × ${machine.cpuModel}, load average ${machine.loadAverageAtStart.map((n) => n.toFixed(2)).join(" ")}; ` +
    `${context.connections} clients, ${context.warmupSeconds} s warm-up, ${context.durationSeconds} s per row`,
);

const startedAt = new Date().toISOString();
const reports: { scenario: string; report: ScenarioReport }[] = [];
let exitCode = 0;
try {
  for (const scenario of selected) {
    say(`scenario ${scenario.name}: ${scenario.summary}`);
    reports.push({ scenario: scenario.name, report: await scenario.run(context) });
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
  }
  process.stdout.write(`\nResults: ${resultsPath}\n`);
}
process.exit(exitCode);
