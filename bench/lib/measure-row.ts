import { BenchError, throwIfAborted } from "./bench-errors.ts";
import {
  FIRST_PROPOSAL_TIMEOUT_MS,
  READY_POLL_TIMEOUT_MS,
  READY_TIMEOUT_MS,
  REQUEST_TIMEOUT_SECONDS,
  STOP_TIMEOUT_MS,
} from "./bench-limits.ts";
import { type ClosedLoopResult, runClosedLoop } from "./closed-loop-load.ts";
import { cpuBetween, sampleCpu, type TreeCpu } from "./process-cpu.ts";
import { treeListensOn } from "./process-tree.ts";
import { waitForAnswer } from "./readiness.ts";
import type { StopOutcome, SystemUnderTest } from "./system-under-test.ts";

/** The request a row's load sends, and the status that counts as a success. */
export interface LoadRequest {
  readonly method: "POST";
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly expectedStatus: number;
}

/** Points in a row, in this order, for a caller that measures something alongside (an OTLP sink). */
export type RowPhase = "started" | "measuring" | "measured" | "stopped";

/** One row: start a system, load it, stop it. */
export interface RowPlan {
  /** Shown in progress lines, e.g. "tracing 1 %". */
  readonly name: string;
  /** Starts the system (the row stops it, whatever happens). */
  readonly start: () => Promise<SystemUnderTest>;
  readonly request: LoadRequest;
  /** Where the system says it is ready (200), e.g. /readyz. */
  readonly readyPath: string;
  readonly connections: number;
  readonly warmupSeconds: number;
  readonly durationSeconds: number;
  readonly say: (line: string) => void;
  readonly signal: AbortSignal;
  readonly onPhase?: (phase: RowPhase) => void;
}

/** What a row measured. */
export interface RowMeasurement {
  /** From start until the first request of the load was answered `expectedStatus`. */
  readonly startupMs: number;
  /** The warm-up load; null when there was none (`warmupSeconds` 0). */
  readonly warmup: ClosedLoopResult | null;
  readonly load: ClosedLoopResult;
  /** CPU of the system's whole process tree during the measured load; null without /proc. */
  readonly cpu: TreeCpu | null;
  /** CPU milliseconds per successful request of the measured load; null when unknown. */
  readonly cpuMsPerSuccess: number | null;
  readonly stop: StopOutcome;
}

/**
 * How a started system is known to take writes: `/readyz`-style `readyPath` answers 200, one of
 * its processes listens on the port of its base URL (not another program that took the port),
 * and `request` is answered `expectedStatus` (so a leader is elected). Throws BenchError naming
 * what did not answer within its bound; BenchAborted once `signal` fires.
 */
export async function waitUntilServing(
  system: SystemUnderTest,
  readyPath: string,
  request: LoadRequest,
  signal: AbortSignal,
): Promise<void> {
  await waitForAnswer(
    system,
    { method: "GET", path: readyPath, status: 200 },
    {
      what: `${system.description} did not become ready`,
      timeoutMs: READY_TIMEOUT_MS,
      attemptTimeoutMs: READY_POLL_TIMEOUT_MS,
      signal,
    },
  );
  const port = Number(new URL(system.baseUrl).port);
  if (!system.rootPids.some((pid) => treeListensOn(pid, port) !== false)) {
    throw new BenchError(
      `${system.baseUrl}${readyPath} answered 200, but no process of ${system.description} listens on ` +
        `port ${port}: another program on this machine took the port before the system bound it. ` +
        `Its log: ${system.logPath}`,
    );
  }
  await waitForAnswer(
    system,
    {
      method: request.method,
      path: request.path,
      headers: { ...request.headers, ...system.requestHeaders },
      body: request.body,
      status: request.expectedStatus,
    },
    {
      what: `${system.description} did not answer its first request`,
      timeoutMs: FIRST_PROPOSAL_TIMEOUT_MS,
      attemptTimeoutMs: REQUEST_TIMEOUT_SECONDS * 1000,
      signal,
    },
  );
}

/** How to bring up a system for a scenario. */
export interface StartPlan<S extends SystemUnderTest> {
  /** Starts the system; whoever gets it back from `startServing` must stop it (`stopSystem`). */
  readonly start: () => Promise<S>;
  /** Resolves once the started system takes writes (e.g. `waitUntilServing`); throws if it does not. */
  readonly waitReady: (system: S) => Promise<void>;
  readonly say: (line: string) => void;
}

/**
 * Starts a system and waits until it serves: the caller then owns it and must `stopSystem` it.
 * If it does not become ready (or Ctrl-C comes first), stops it here and rethrows.
 */
export async function startServing<S extends SystemUnderTest>(
  plan: StartPlan<S>,
): Promise<{ readonly system: S; readonly startupMs: number }> {
  const startedMs = Date.now();
  plan.say("starting");
  const system = await plan.start();
  plan.say(`started ${system.description}; log ${system.logPath}`);
  try {
    await plan.waitReady(system);
  } catch (error) {
    await stopSystem(system, plan.say);
    throw error;
  }
  return { system, startupMs: Date.now() - startedMs };
}

/**
 * Stops a system within STOP_TIMEOUT_MS (then kills it and its descendants) and says how it
 * went: how long it took, whether it had to be killed, what it left running.
 */
export async function stopSystem(system: SystemUnderTest, say: (line: string) => void): Promise<StopOutcome> {
  say("stopping");
  const stop = await system.stop(STOP_TIMEOUT_MS);
  const how = stop.signal !== null ? `ended by ${stop.signal}` : `exit code ${stop.exitCode}`;
  say(`stopped in ${(stop.stopMs / 1000).toFixed(1)} s (${how})`);
  if (stop.killed)
    say(`it did not exit within ${STOP_TIMEOUT_MS / 1000} s after SIGINT: killed it and its descendants`);
  if (stop.leftoverPids.length > 0) {
    say(`it left ${stop.leftoverPids.length} process(es) running (pids ${stop.leftoverPids.join(", ")}): killed them`);
  }
  return stop;
}

/**
 * Runs one row: starts the system, waits until it serves (`waitUntilServing`), warms up with the
 * same load, samples the CPU of the system's process tree, measures the load, samples again, and
 * stops the system: always, also on an error or Ctrl-C (`signal`), and within a bound. Throws
 * BenchError when the system does not become ready or does not stop; BenchAborted once the
 * signal fired.
 */
export async function measureRow(plan: RowPlan): Promise<RowMeasurement> {
  const { say, signal, request } = plan;
  const startedMs = Date.now();
  say("starting");
  const system = await plan.start();
  plan.onPhase?.("started");
  say(`started ${system.description}; log ${system.logPath}`);

  let measured: Omit<RowMeasurement, "stop"> | null = null;
  let failure: { readonly error: unknown } | null = null;
  try {
    await waitUntilServing(system, plan.readyPath, request, signal);
    const startupMs = Date.now() - startedMs;
    say(
      `ready after ${(startupMs / 1000).toFixed(1)} s${plan.warmupSeconds > 0 ? `; warming up ${plan.warmupSeconds} s` : ""}`,
    );
    const load = {
      url: `${system.baseUrl}${request.path}`,
      method: request.method,
      headers: { ...request.headers, ...system.requestHeaders },
      body: request.body,
      expectedStatus: request.expectedStatus,
      connections: plan.connections,
      signal,
    };
    const warmup =
      plan.warmupSeconds > 0
        ? await runClosedLoop({ ...load, durationSeconds: plan.warmupSeconds, progress: null })
        : null;
    throwIfAborted(signal);

    say(`measuring ${plan.durationSeconds} s with ${plan.connections} connections`);
    plan.onPhase?.("measuring");
    const cpuBefore = sampleCpu(system.rootPids);
    const measuredLoad = await runClosedLoop({ ...load, durationSeconds: plan.durationSeconds, progress: say });
    const cpu = cpuBetween(cpuBefore, sampleCpu(system.rootPids));
    plan.onPhase?.("measured");
    throwIfAborted(signal);
    const gone = system.exitReason();
    if (gone !== null) throw new BenchError(`the system stopped during the load (${gone}); its log: ${system.logPath}`);
    measured = {
      startupMs,
      warmup,
      load: measuredLoad,
      cpu,
      cpuMsPerSuccess:
        cpu === null || measuredLoad.succeeded === 0 ? null : (cpu.cpuSeconds * 1000) / measuredLoad.succeeded,
    };
  } catch (error) {
    failure = { error };
  }

  const stop = await stopSystem(system, say);
  plan.onPhase?.("stopped");
  if (failure !== null) throw failure.error;
  if (measured === null) throw new BenchError("the row ended without a measurement");
  return { ...measured, stop };
}
