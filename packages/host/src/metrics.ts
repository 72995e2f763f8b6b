import { collectDefaultMetrics, Counter, Registry } from "prom-client";

/**
 * The Prometheus registry of one role: Node.js default metrics plus the role's own `paxos_`
 * metrics. Each host has its own registry (never the global one), so several hosts can share a
 * process (the embedded cluster) without clashing metric names.
 */
export function createRegistry(withDefaultMetrics = true): Registry {
  const registry = new Registry();
  if (withDefaultMetrics) collectDefaultMetrics({ register: registry });
  return registry;
}

/**
 * Histogram buckets, in seconds, for making writes durable (an fsync): from well under a
 * millisecond on an SSD to the seconds of a stalled disk, so the acceptor's and the learner's
 * storage latencies read on one scale.
 */
export const STORAGE_SECONDS_BUCKETS: readonly number[] = Object.freeze([
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5,
]);

/**
 * `paxos_dropped_messages_total{reason}`: inbound messages dropped without being stepped, by
 * reason (a transport's validation failures, a full queue, storage unavailable, ...).
 * Returns the one counter of `registry`, creating it on first use.
 */
export function droppedMessagesCounter(registry: Registry): Counter<"reason"> {
  const name = "paxos_dropped_messages_total";
  const existing = registry.getSingleMetric(name);
  if (existing !== undefined) return existing as Counter<"reason">;
  return new Counter({
    name,
    help: "Inbound messages dropped without being handled, by reason.",
    labelNames: ["reason"],
    registers: [registry],
  });
}
