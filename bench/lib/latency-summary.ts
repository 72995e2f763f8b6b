import type { RecordableHistogram } from "node:perf_hooks";

/** Latency percentiles of the successful requests of a load, in milliseconds. */
export interface LatencyMs {
  /** How many latencies the percentiles are of. */
  readonly count: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly mean: number;
}

/**
 * Records one latency, in milliseconds, into an HDR histogram of microseconds (Node's
 * `perf_hooks.createHistogram`), which keeps 3 significant digits over any range. Latencies
 * under a microsecond count as one (the histogram takes only whole numbers of at least 1).
 */
export function recordLatencyMs(histogram: RecordableHistogram, latencyMs: number): void {
  histogram.record(Math.max(1, Math.round(latencyMs * 1000)));
}

/** The percentiles of a histogram of microseconds, in milliseconds; null when it is empty. */
export function summariseLatency(histogram: RecordableHistogram): LatencyMs | null {
  if (histogram.count === 0) return null;
  const ms = (us: number): number => us / 1000;
  return {
    count: histogram.count,
    p50: ms(histogram.percentile(50)),
    p90: ms(histogram.percentile(90)),
    p99: ms(histogram.percentile(99)),
    p999: ms(histogram.percentile(99.9)),
    max: ms(histogram.max),
    mean: ms(histogram.mean),
  };
}

/** The least, middle and greatest of some measurements (the spread over rounds). */
export interface Spread {
  readonly min: number;
  /** The median; for an even count the mean of the two middle values. */
  readonly median: number;
  readonly max: number;
  /** Every value, in the order given (round order). */
  readonly values: readonly number[];
}

/** The spread of `values`, leaving out nulls (a round without a result); null when none is left. */
export function spreadOf(values: readonly (number | null)[]): Spread | null {
  const present = values.filter((v): v is number => v !== null && Number.isFinite(v));
  if (present.length === 0) return null;
  const sorted = [...present].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
  return { min: sorted[0] ?? 0, median, max: sorted[sorted.length - 1] ?? 0, values: present };
}
