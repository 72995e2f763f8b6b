import { createHistogram, monitorEventLoopDelay, performance } from "node:perf_hooks";
import { DRAIN_TIMEOUT_MS, PROGRESS_INTERVAL_SECONDS } from "./bench-limits.ts";
import type { BenchWrite, BenchWriteSource } from "./bench-write.ts";
import { type LatencyMs, recordLatencyMs, summariseLatency } from "./latency-summary.ts";
import { OpenLoopSchedule, OutstandingBound } from "./open-loop-schedule.ts";
import { type CpuSample, cpuBetween, type TreeCpu } from "./process-cpu.ts";
import type { WriteChannel, WriteOutcome, WriteTarget } from "./write-target.ts";

/** What every load of a cell is given. */
export interface LoadOptions {
  readonly target: WriteTarget;
  /** Makes each write (a distinct value of the cell's size). */
  readonly writes: BenchWriteSource;
  readonly warmupMs: number;
  readonly durationMs: number;
  /** Hears every acknowledged write, warm-up and drain included, for the exactly-once check. */
  readonly onAcknowledged: (write: BenchWrite, outcome: WriteOutcome & { ok: true }) => void;
  /** Samples the CPU of the system's processes; called at the window's start and end. */
  readonly sampleSystemCpu: () => CpuSample;
  /** Called every few seconds of the window with the seconds done and the successes so far. */
  readonly progress: (secondsDone: number, succeeded: number) => void;
  /** Ctrl-C: stops sending and cuts outstanding requests short. */
  readonly signal: AbortSignal;
}

/** What one load measured in its window (warm-up and drain excluded). */
export interface LoadResult {
  /** The window as it ran (its timers may fire a little late), in seconds. */
  readonly windowSeconds: number;
  /** Writes acknowledged in the window (closed loop: answered in it; open loop: due in it). */
  readonly succeeded: number;
  readonly writesPerSecond: number;
  /** Of those successes only, from send (closed loop) or due time (open loop) to answer. */
  readonly latencyMs: LatencyMs | null;
  /** Failures in the window by kind (`status 503`, `timeout`, ...). */
  readonly errors: Readonly<Record<string, number>>;
  readonly errorCount: number;
  /** Open loop: requests due in the window that were never sent, the outstanding bound being full. */
  readonly skipped: number;
  /** Writes sent in the whole load, warm-up and drain included, and how many were acknowledged. */
  readonly sentTotal: number;
  readonly acknowledgedTotal: number;
  /** Requests still unanswered when the drain's bound passed (then cut short); 0 normally. */
  readonly unanswered: number;
  /** The CPU of the system's processes over the window; null without /proc. */
  readonly cpu: TreeCpu | null;
  /** CPU seconds per 1,000 successes of the window; null when unknown or none succeeded. */
  readonly cpuSecondsPer1kWrites: number | null;
  /** The bench's own CPU over the window (the generator shares the machine with the system). */
  readonly generatorCpuSeconds: number;
  /** The 99th percentile of the bench's event-loop delay in the window: high means the generator lagged. */
  readonly generatorLoopDelayP99Ms: number;
}

/** Closed loop: `clients` clients, each with one request outstanding, sending the next on each answer. */
export interface ClosedLoopLoadOptions extends LoadOptions {
  readonly clients: number;
}

/** Open loop: requests due on a fixed schedule whatever the answers, at most `outstandingMax` at once. */
export interface OpenLoopLoadOptions extends LoadOptions {
  readonly ratePerSecond: number;
  readonly outstandingMax: number;
}

type Phase = "warmup" | "window" | "drain";

/**
 * The window's bookkeeping shared by both loads: the phase the timers switch, the successes
 * and failures counted in the window, the CPU and event-loop samples at its edges.
 */
class LoadWindow {
  phase: Phase = "warmup";
  succeeded = 0;
  readonly latencyUs = createHistogram();
  readonly errors: Record<string, number> = {};
  errorCount = 0;
  skipped = 0;
  sentTotal = 0;
  acknowledgedTotal = 0;
  readonly #options: LoadOptions;
  #startMs = 0;
  #endMs = 0;
  #cpuBefore: CpuSample = null;
  #cpu: TreeCpu | null = null;
  #ownCpuBefore: NodeJS.CpuUsage | null = null;
  #ownCpuSeconds = 0;
  readonly #loopDelay = monitorEventLoopDelay({ resolution: 10 });
  readonly #timers: NodeJS.Timeout[] = [];

  constructor(options: LoadOptions) {
    this.#options = options;
  }

  /**
   * Sets the timers that open the window `warmupMs` from now and close it `durationMs` later;
   * resolves once it closed, or at once when `signal` fires.
   */
  async schedule(warmupMs: number, durationMs: number, signal: AbortSignal): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>();
    const open = (): void => {
      this.#startMs = performance.now();
      this.#cpuBefore = this.#options.sampleSystemCpu();
      this.#ownCpuBefore = process.cpuUsage();
      this.#loopDelay.enable();
      this.phase = "window";
      const every = PROGRESS_INTERVAL_SECONDS * 1000;
      for (let at = every; at < durationMs; at += every) {
        this.#timers.push(setTimeout(() => this.#options.progress(at / 1000, this.succeeded), at));
      }
      this.#timers.push(setTimeout(close, durationMs));
    };
    const close = (): void => {
      this.phase = "drain";
      this.#endMs = performance.now();
      this.#cpu = cpuBetween(this.#cpuBefore, this.#options.sampleSystemCpu());
      const own = process.cpuUsage(this.#ownCpuBefore ?? undefined);
      this.#ownCpuSeconds = (own.user + own.system) / 1e6;
      this.#loopDelay.disable();
      resolve();
    };
    this.#timers.push(setTimeout(open, warmupMs));
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
    await promise;
  }

  /** Records how a write ended, into the window when `inWindow`. */
  record(write: BenchWrite, outcome: WriteOutcome, latencyMs: number, inWindow: boolean): void {
    if (outcome.ok) {
      this.acknowledgedTotal++;
      this.#options.onAcknowledged(write, outcome);
    }
    if (!inWindow) return;
    if (outcome.ok) {
      this.succeeded++;
      recordLatencyMs(this.latencyUs, latencyMs);
    } else {
      this.errors[outcome.error] = (this.errors[outcome.error] ?? 0) + 1;
      this.errorCount++;
    }
  }

  cancel(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#loopDelay.disable();
  }

  result(unanswered: number): LoadResult {
    this.cancel();
    const windowSeconds = this.#endMs > this.#startMs ? (this.#endMs - this.#startMs) / 1000 : 0;
    const cpu = this.#cpu;
    const p99 = this.#loopDelay.count > 0 ? this.#loopDelay.percentile(99) / 1e6 : 0;
    return {
      windowSeconds,
      succeeded: this.succeeded,
      writesPerSecond: windowSeconds > 0 ? this.succeeded / windowSeconds : 0,
      latencyMs: summariseLatency(this.latencyUs),
      errors: { ...this.errors },
      errorCount: this.errorCount,
      skipped: this.skipped,
      sentTotal: this.sentTotal,
      acknowledgedTotal: this.acknowledgedTotal,
      unanswered,
      cpu,
      cpuSecondsPer1kWrites: cpu === null || this.succeeded === 0 ? null : (cpu.cpuSeconds * 1000) / this.succeeded,
      generatorCpuSeconds: this.#ownCpuSeconds,
      generatorLoopDelayP99Ms: p99,
    };
  }
}

/**
 * Waits for `pending` to settle; once DRAIN_TIMEOUT_MS passes, aborts `cut` (which the requests
 * listen to) and waits for them to settle as aborted. Resolves with how many were cut short.
 */
async function drain(pending: ReadonlySet<Promise<unknown>>, cut: AbortController): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), DRAIN_TIMEOUT_MS);
  });
  const all = Promise.allSettled([...pending]);
  const first = await Promise.race([all.then(() => "done" as const), timedOut]);
  clearTimeout(timer);
  if (first === "done") return 0;
  const left = pending.size;
  cut.abort();
  await all;
  return left;
}

/**
 * Runs a closed-loop load: `clients` channels (one connection each), each sending a write,
 * awaiting its answer and sending the next, through `warmupMs` and the measured `durationMs`.
 * A write counts in the window when its answer arrives in it; its latency runs from its send.
 * After the window no write is sent; those outstanding are awaited (DRAIN_TIMEOUT_MS at most)
 * and still reported to `onAcknowledged`.
 */
export async function runClosedLoopLoad(options: ClosedLoopLoadOptions): Promise<LoadResult> {
  const window = new LoadWindow(options);
  const cut = new AbortController();
  const signal = AbortSignal.any([options.signal, cut.signal]);
  const channels: WriteChannel[] = Array.from({ length: options.clients }, () => options.target.openChannel());
  const inFlight = new Set<Promise<unknown>>();
  const closed = window.schedule(options.warmupMs, options.durationMs, options.signal);
  const client = async (channel: WriteChannel): Promise<void> => {
    while (window.phase !== "drain" && !signal.aborted) {
      const write = options.writes.next();
      window.sentTotal++;
      const sentMs = performance.now();
      const sending = channel.send(write, signal);
      inFlight.add(sending);
      const outcome = await sending;
      inFlight.delete(sending);
      window.record(write, outcome, performance.now() - sentMs, window.phase === "window");
    }
  };
  const clients = Promise.all(channels.map(client));
  let unanswered: number;
  try {
    await closed;
    unanswered = await drain(inFlight, cut);
    await clients;
  } finally {
    window.cancel();
    await Promise.all(channels.map((channel) => channel.close()));
  }
  return window.result(unanswered);
}

/**
 * Runs an open-loop load: write k is due `k / ratePerSecond` seconds after the start and is sent
 * then, whatever the answers to the writes before it (OpenLoopSchedule); its latency runs from
 * its due time. At most `outstandingMax` writes wait for answers at once, each on its own
 * connection (reused once answered); a write due while all are taken is skipped and counted.
 * Writes due in the window are measured, however late their answers come (up to the drain's
 * bound).
 */
export async function runOpenLoopLoad(options: OpenLoopLoadOptions): Promise<LoadResult> {
  const window = new LoadWindow(options);
  const cut = new AbortController();
  const signal = AbortSignal.any([options.signal, cut.signal]);
  const schedule = new OpenLoopSchedule({
    ratePerSecond: options.ratePerSecond,
    startMs: performance.now(),
    warmupMs: options.warmupMs,
    durationMs: options.durationMs,
  });
  const bound = new OutstandingBound(options.outstandingMax);
  // Last in, first out: at a low rate the same few connections are used, and stay warm.
  const idle: WriteChannel[] = [];
  const opened: WriteChannel[] = [];
  const inFlight = new Set<Promise<unknown>>();

  const dispatch = (k: number): void => {
    const inWindow = schedule.inWindow(k);
    if (!bound.tryAcquire()) {
      if (inWindow) window.skipped++;
      return;
    }
    let channel = idle.pop();
    if (channel === undefined) {
      channel = options.target.openChannel();
      opened.push(channel);
    }
    const write = options.writes.next();
    const dueMs = schedule.dueMs(k);
    window.sentTotal++;
    const free = channel;
    const sending = channel.send(write, signal).then((outcome) => {
      window.record(write, outcome, performance.now() - dueMs, inWindow);
      idle.push(free);
      bound.release();
    });
    inFlight.add(sending);
    void sending.finally(() => inFlight.delete(sending));
  };

  const closed = window.schedule(options.warmupMs, options.durationMs, options.signal);
  let unanswered: number;
  try {
    await new Promise<void>((resolve) => {
      let next = 0;
      const pump = (): void => {
        if (signal.aborted) {
          resolve();
          return;
        }
        const { from, to } = schedule.dueBy(performance.now(), next);
        for (let k = from; k < to; k++) dispatch(k);
        next = to;
        const waitMs = schedule.waitMs(performance.now(), next);
        if (waitMs === null) resolve();
        else setTimeout(pump, waitMs);
      };
      pump();
    });
    // The schedule ends with the window; its timer closes the window a moment later.
    await closed;
    unanswered = await drain(inFlight, cut);
  } finally {
    window.cancel();
    await Promise.all(opened.map((channel) => channel.close()));
  }
  return window.result(unanswered);
}
