import { createHistogram } from "node:perf_hooks";
import autocannon from "autocannon";
import { PROGRESS_INTERVAL_SECONDS, REQUEST_TIMEOUT_SECONDS } from "./bench-limits.ts";
import { type LatencyMs, recordLatencyMs, summariseLatency } from "./latency-summary.ts";

/** One closed-loop load: `connections` clients, each sending its next request once answered. */
export interface ClosedLoopOptions {
  /** The full URL of the request, e.g. http://127.0.0.1:8080/v1/proposals. */
  readonly url: string;
  readonly method: "GET" | "POST";
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** The only status that counts as a success; any other answer is an error. */
  readonly expectedStatus: number;
  readonly connections: number;
  readonly durationSeconds: number;
  /** Stops the load early; the result then covers what ran. */
  readonly signal: AbortSignal;
  /** Hears a progress line every few seconds; null for none. */
  readonly progress: ((line: string) => void) | null;
}

/** What one closed-loop load measured. */
export interface ClosedLoopResult {
  readonly durationSeconds: number;
  /** Requests answered with the expected status. */
  readonly succeeded: number;
  /** Successes per second over the run. */
  readonly succeededPerSecond: number;
  /** Answers with any other status, by status. */
  readonly unexpectedStatuses: Readonly<Record<string, number>>;
  /** Connection errors and timeouts (no answer at all). */
  readonly connectionErrors: number;
  readonly timeouts: number;
  /** Every request that did not succeed: unexpected statuses plus connection errors. */
  readonly errors: number;
  /** Of the successful requests only; null when none succeeded. */
  readonly latencyMs: LatencyMs | null;
}

/**
 * Drives a closed-loop HTTP load with autocannon and resolves with what it measured. Latency is
 * kept in microseconds in Node's own HDR histogram, of successful answers only (autocannon's own
 * histogram has whole-millisecond steps and counts every 2xx).
 */
export async function runClosedLoop(options: ClosedLoopOptions): Promise<ClosedLoopResult> {
  const latencyUs = createHistogram();
  const unexpectedStatuses: Record<string, number> = {};
  let succeeded = 0;

  const instance = autocannon({
    url: options.url,
    method: options.method,
    headers: { ...options.headers },
    body: options.body,
    connections: options.connections,
    duration: options.durationSeconds,
    timeout: REQUEST_TIMEOUT_SECONDS,
    pipelining: 1,
  });
  instance.on("response", (_client, statusCode, _bytes, responseTimeMs) => {
    if (statusCode === options.expectedStatus) {
      succeeded++;
      recordLatencyMs(latencyUs, responseTimeMs);
    } else {
      unexpectedStatuses[statusCode] = (unexpectedStatuses[statusCode] ?? 0) + 1;
    }
  });
  let seconds = 0;
  instance.on("tick", () => {
    seconds++;
    if (options.progress !== null && seconds % PROGRESS_INTERVAL_SECONDS === 0 && seconds < options.durationSeconds) {
      options.progress(`${seconds} s of ${options.durationSeconds}: ${succeeded} answered ${options.expectedStatus}`);
    }
  });
  const stop = (): void => instance.stop();
  options.signal.addEventListener("abort", stop, { once: true });
  if (options.signal.aborted) stop();

  const result = await instance;
  options.signal.removeEventListener("abort", stop);

  const unexpected = Object.values(unexpectedStatuses).reduce((sum, n) => sum + n, 0);
  return {
    durationSeconds: result.duration,
    succeeded,
    succeededPerSecond: result.duration > 0 ? succeeded / result.duration : 0,
    unexpectedStatuses,
    connectionErrors: result.errors,
    timeouts: result.timeouts,
    errors: unexpected + result.errors,
    latencyMs: summariseLatency(latencyUs),
  };
}
