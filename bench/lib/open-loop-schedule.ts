/**
 * When an open-loop load sends each of its requests: request k is due at
 * `startMs + k × 1000 / ratePerSecond`, whatever happened to the requests before it. Latency is
 * measured from that due time, not from when the generator got round to sending, so a system
 * that stalls is charged for every request it held up (no coordinated omission, as in Gil Tene's
 * "How NOT to Measure Latency" and wrk2). The first `warmupMs` are sent but not measured; the
 * next `durationMs` are the measured window. Pure: times come in as arguments.
 */
export class OpenLoopSchedule {
  readonly ratePerSecond: number;
  readonly startMs: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  /** Requests in the whole load, warm-up included. */
  readonly count: number;
  readonly #intervalMs: number;

  constructor(options: {
    readonly ratePerSecond: number;
    readonly startMs: number;
    readonly warmupMs: number;
    readonly durationMs: number;
  }) {
    const { ratePerSecond, startMs, warmupMs, durationMs } = options;
    if (!(ratePerSecond > 0) || !Number.isFinite(ratePerSecond)) throw new Error("the rate must be above 0");
    if (!(warmupMs >= 0) || !(durationMs > 0)) throw new Error("the warm-up must be >= 0 and the window > 0");
    this.ratePerSecond = ratePerSecond;
    this.startMs = startMs;
    this.warmupMs = warmupMs;
    this.durationMs = durationMs;
    this.#intervalMs = 1000 / ratePerSecond;
    this.count = Math.ceil(((warmupMs + durationMs) * ratePerSecond) / 1000 - 1e-9);
  }

  /** When request `k` is due. */
  dueMs(k: number): number {
    return this.startMs + k * this.#intervalMs;
  }

  /** Where the measured window begins and ends (end excluded). */
  get windowStartMs(): number {
    return this.startMs + this.warmupMs;
  }

  get windowEndMs(): number {
    return this.startMs + this.warmupMs + this.durationMs;
  }

  /** True when request `k` is due inside the measured window: only those are measured. */
  inWindow(k: number): boolean {
    const due = this.dueMs(k);
    return due >= this.windowStartMs && due < this.windowEndMs;
  }

  /**
   * The requests due by `nowMs` that are not sent yet, given that requests before `next` are:
   * the range [next, end). The generator sends them at once (late ones keep their due time).
   */
  dueBy(nowMs: number, next: number): { readonly from: number; readonly to: number } {
    if (next >= this.count || nowMs < this.dueMs(next)) return { from: next, to: next };
    const last = Math.floor((nowMs - this.startMs) / this.#intervalMs + 1e-9);
    return { from: next, to: Math.min(this.count, Math.max(next, last + 1)) };
  }

  /** How long from `nowMs` until the first request not yet sent (`next`) is due; null when none is left. */
  waitMs(nowMs: number, next: number): number | null {
    if (next >= this.count) return null;
    return Math.max(0, this.dueMs(next) - nowMs);
  }
}

/**
 * A bound on the requests outstanding at once: a request that comes due while `max` wait for
 * their answers is skipped (never sent) and counted, rather than queued, so the generator cannot
 * fall behind its own schedule or grow without bound. Pure bookkeeping.
 */
export class OutstandingBound {
  readonly max: number;
  #outstanding = 0;
  #skipped = 0;

  constructor(max: number) {
    if (!Number.isSafeInteger(max) || max < 1) throw new Error("the bound must be a whole number of at least 1");
    this.max = max;
  }

  /** Takes a slot for a request about to be sent; false (and counted as skipped) when none is free. */
  tryAcquire(): boolean {
    if (this.#outstanding >= this.max) {
      this.#skipped++;
      return false;
    }
    this.#outstanding++;
    return true;
  }

  /** Gives back the slot of a request that was answered (or failed). */
  release(): void {
    if (this.#outstanding === 0) throw new Error("released a slot that was not taken");
    this.#outstanding--;
  }

  get outstanding(): number {
    return this.#outstanding;
  }

  get skipped(): number {
    return this.#skipped;
  }
}
