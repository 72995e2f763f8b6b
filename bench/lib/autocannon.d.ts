// The part of autocannon 9's programmatic API the bench uses (the package ships no types and
// @types/autocannon is not a dependency). From its README, "API" and "Results".
declare module "autocannon" {
  import type { EventEmitter } from "node:events";

  namespace autocannon {
    interface Options {
      url: string;
      /** Concurrent connections; each sends its next request once the last is answered. */
      connections?: number;
      /** Seconds to run. */
      duration?: number;
      /** Seconds to wait for an answer before counting a timeout. */
      timeout?: number;
      pipelining?: number;
      method?: "GET" | "POST" | "PUT" | "DELETE" | "PATCH";
      headers?: Record<string, string>;
      body?: string | Buffer;
      /** Leave non-2xx answers out of the latency and throughput histograms. */
      excludeErrorStats?: boolean;
    }

    /** A histogram summary (hdr-histogram-percentiles-obj). */
    interface Histogram {
      min: number;
      max: number;
      average: number;
      p50: number;
      p99: number;
      total: number;
    }

    interface Result {
      /** Seconds the run took. */
      duration: number;
      /** Connection errors, timeouts included. */
      errors: number;
      timeouts: number;
      non2xx: number;
      statusCodeStats: Record<string, { count: number }>;
      latency: Histogram;
      requests: Histogram & { sent: number };
    }

    /** A running load: an EventEmitter that is also a promise of its result. */
    interface Instance extends EventEmitter, PromiseLike<Result> {
      /** Ends the run early; the promise then resolves with what was measured so far. */
      stop(): void;
      on(
        event: "response",
        listener: (client: unknown, statusCode: number, resBytes: number, responseTimeMs: number) => void,
      ): this;
      on(event: "tick", listener: (counts: { counter: number; bytes: number }) => void): this;
      on(event: "reqError", listener: (error: Error) => void): this;
    }
  }

  function autocannon(options: autocannon.Options): autocannon.Instance;
  export = autocannon;
}
