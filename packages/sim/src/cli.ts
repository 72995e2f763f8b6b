// The simulator's command line: `npm run sim -- --help`.
import { randomInt } from "node:crypto";
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { Worker } from "node:worker_threads";
import { type BatchSummary, emptySummary, mergeSummary, runBatch } from "./batch.ts";
import { FAULT_KINDS, OUTCOME_KINDS, runSeed } from "./simulation.ts";
import { isVariantName, VARIANT_NAMES, VARIANT_SEED_BUDGET, VARIANTS, type VariantName } from "./variants.ts";

const HELP = `Deterministic Paxos simulator: runs the shipped role drivers, over the wire codec and the
production subjects, through seeded fault schedules.

Usage:
  npm run sim -- --seeds 10000            run seeds 1..10000 on every core, then summarise
  npm run sim -- --seeds 500 --random     run 500 seeds from a random start (printed)
  npm run sim -- --seed 42 --trace        replay one run exactly and print what happened
  npm run sim -- --variants               show that every broken variant is caught

Options:
  --seeds N        how many seeds to run (default 1000)
  --from S         first seed (default 1)
  --random         start at a random seed instead of 1
  --seed N         run only seed N
  --trace          with --seed: print every event
  --variant NAME   run a deliberately broken variant (see --variants); "none" is the real protocol
  --variants       run each broken variant until the checkers catch it
  --budget N       with --variants: seeds to try per variant (default ${VARIANT_SEED_BUDGET})
  --workers N      worker threads (default: the number of cores)
  --help           this text

Broken variants:
${VARIANT_NAMES.map((name) => `  ${name.padEnd(32)}${VARIANTS[name]}`).join("\n")}
`;

const { values } = parseArgs({
  options: {
    seeds: { type: "string" },
    from: { type: "string" },
    random: { type: "boolean" },
    seed: { type: "string" },
    trace: { type: "boolean" },
    variant: { type: "string" },
    variants: { type: "boolean" },
    budget: { type: "string" },
    workers: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
  strict: true,
});

function count(name: string, text: string | undefined, fallback: number, min: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min) usage(`--${name} must be a whole number of at least ${min}, not "${text}"`);
  return n;
}

function usage(message: string): never {
  process.stderr.write(`sim: ${message}\nSee: npm run sim -- --help\n`);
  process.exit(2);
}

const fmt = (n: number): string => n.toLocaleString("en-US");

if (values.help === true) {
  process.stdout.write(HELP);
} else if (values.variants === true) {
  runVariants(count("budget", values.budget, VARIANT_SEED_BUDGET, 1));
} else if (values.seed !== undefined) {
  runOne(count("seed", values.seed, 1, 0), variantOf(values.variant), values.trace === true);
} else {
  const seeds = count("seeds", values.seeds, 1000, 1);
  const from = values.random === true ? randomInt(1, 2 ** 31) : count("from", values.from, 1, 0);
  const workers = Math.min(count("workers", values.workers, availableParallelism(), 1), seeds);
  await runMany(from, seeds, variantOf(values.variant), workers);
}

function variantOf(name: string | undefined): VariantName {
  if (name === undefined) return "none";
  if (!isVariantName(name)) usage(`unknown variant "${name}"; known: none, ${VARIANT_NAMES.join(", ")}`);
  return name;
}

function runOne(seed: number, variant: VariantName, trace: boolean): void {
  const result = runSeed({
    seed,
    variant,
    ...(trace ? { trace: (line: string) => process.stdout.write(`${line}\n`) } : {}),
  });
  const faults = FAULT_KINDS.filter((k) => result.faults[k] > 0).map((k) => `${k} ${result.faults[k]}`);
  process.stdout.write(
    `seed ${seed}: ${fmt(result.steps)} steps, ${result.virtualMs}ms virtual, ${result.requestsDecided}/${result.requests} requests decided everywhere, ` +
      `${result.slotsChosen} slots chosen; faults: ${faults.join(", ") || "none"}\n`,
  );
  if (result.violation !== null) {
    process.stdout.write(`VIOLATION ${result.violation.kind}: ${result.violation.message}\n`);
    process.exitCode = variant === "none" ? 1 : 0;
  } else {
    process.stdout.write("no violation\n");
  }
}

async function runMany(from: number, seeds: number, variant: VariantName, workers: number): Promise<void> {
  const started = performance.now();
  const total = emptySummary();
  const tty = process.stderr.isTTY;
  let nextReport = 0.1;
  const report = (): void => {
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const line = `sim: ${fmt(total.runs)}/${fmt(seeds)} runs, ${fmt(total.steps)} steps, ${total.failed.length} violations, ${seconds}s`;
    if (tty) process.stderr.write(`\r${line}   `);
    else if (total.runs / seeds >= nextReport || total.runs === seeds) {
      process.stderr.write(`${line}\n`);
      while (nextReport <= total.runs / seeds) nextReport += 0.1;
    }
  };
  process.stderr.write(
    `sim: seeds ${from}..${from + seeds - 1} on ${workers} worker${workers === 1 ? "" : "s"}${variant === "none" ? "" : `, variant ${variant}`}\n`,
  );
  const chunk = Math.ceil(seeds / workers);
  await Promise.all(
    Array.from({ length: workers }, (_, i) => {
      const fromSeed = from + i * chunk;
      const toSeed = Math.min(from + seeds, fromSeed + chunk);
      return new Promise<void>((resolve, reject) => {
        const worker = new Worker(new URL("./worker.ts", import.meta.url), {
          workerData: { fromSeed, toSeed, variant },
        });
        worker.on("message", (part: BatchSummary) => {
          mergeSummary(total, part);
          report();
        });
        worker.on("error", reject);
        worker.on("exit", (code) =>
          code === 0 ? resolve() : reject(new Error(`simulator worker exited with code ${code}`)),
        );
      });
    }),
  );
  if (tty) process.stderr.write("\n");
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const out: string[] = [];
  out.push(
    `sim: ${fmt(total.runs)} runs (seeds ${from}..${from + seeds - 1}), ${fmt(total.steps)} steps, ` +
      `${total.failed.length} violations, ${seconds}s on ${workers} worker${workers === 1 ? "" : "s"}`,
  );
  out.push(`  faults injected: ${FAULT_KINDS.map((k) => `${k} ${fmt(total.faults[k])}`).join(", ")}`);
  out.push(
    `  decided: ${fmt(total.requestsDecided)} of ${fmt(total.requests)} requests at every learner; ${fmt(total.slotsChosen)} slots chosen; ` +
      `${fmt(total.duplicatesSuppressed)} deliveries of retried requests suppressed`,
  );
  out.push(
    `  liveness after healing: slowest request decided in ${fmt(total.decisionMsMax)}ms (bound 5,000ms per request); ` +
      `${fmt(total.outcomes.leaderChangeAfterSettle)} leader changes after settling`,
  );
  out.push(`  seen: ${OUTCOME_KINDS.map((k) => `${k} ${fmt(total.outcomes[k])}`).join(", ")}`);
  const missing = FAULT_KINDS.filter((k) => total.faults[k] === 0);
  if (missing.length > 0) out.push(`  fault kinds never injected: ${missing.join(", ")} (run more seeds)`);
  total.failed.sort((a, b) => a.seed - b.seed);
  for (const failed of total.failed.slice(0, 20)) {
    out.push(`  seed ${failed.seed}: ${failed.violation.kind}: ${failed.violation.message}`);
    out.push(
      `    replay: npm run sim -- --seed ${failed.seed}${variant === "none" ? "" : ` --variant ${variant}`} --trace`,
    );
  }
  if (total.failed.length > 20) out.push(`  … and ${total.failed.length - 20} more`);
  process.stdout.write(`${out.join("\n")}\n`);
  if (variant === "none" && total.failed.length > 0) process.exitCode = 1;
}

function runVariants(budget: number): void {
  let missed = 0;
  for (const variant of VARIANT_NAMES) {
    const started = performance.now();
    const summary = runBatch({ fromSeed: 1, toSeed: budget + 1, variant, stopAtFirstFailure: true });
    const ms = Math.round(performance.now() - started);
    const caught = summary.failed[0];
    if (caught === undefined) {
      missed++;
      process.stdout.write(`NOT CAUGHT  ${variant}: ${budget} seeds without a violation (${ms}ms)\n`);
    } else {
      process.stdout.write(
        `caught      ${variant.padEnd(32)} by seed ${String(caught.seed).padEnd(5)} ${caught.violation.kind}: ${caught.violation.message} (${ms}ms)\n`,
      );
    }
  }
  if (missed > 0) process.exitCode = 1;
}
