import type { Registry } from "prom-client";
import type { Logger } from "./logger.ts";
import { droppedMessagesCounter } from "./metrics.ts";

/** Counts one dropped input and says so in the log, within bounds. */
export type DropReporter = (reason: string, detail: string, subject?: string) => void;

/** At most one log line per drop reason in this long; the rest are counted and summed up. */
export const DROP_LOG_INTERVAL_MS = 10_000;

/**
 * A drop reporter over `registry`: every drop counts in
 * `paxos_dropped_messages_total{reason}`, and each reason logs at most once per
 * DROP_LOG_INTERVAL_MS (with how many were not logged since), so a flood of hostile messages
 * cannot flood the log too. A conflict (a value contradicting what this process holds: a forgery
 * or another process's bug) is an alert, at error; every other drop is a warning.
 */
export function dropReporter(registry: Registry, logger: Logger, nowMs: () => number = Date.now): DropReporter {
  const dropped = droppedMessagesCounter(registry);
  const lastLogged = new Map<string, { atMs: number; unlogged: number }>();
  return (reason, detail, subject) => {
    dropped.inc({ reason });
    const now = nowMs();
    const last = lastLogged.get(reason);
    if (last !== undefined && now - last.atMs < DROP_LOG_INTERVAL_MS) {
      last.unlogged++;
      return;
    }
    const fields = {
      reason,
      detail,
      ...(subject === undefined ? {} : { subject }),
      unloggedSince: last?.unlogged ?? 0,
    };
    if (reason === "conflict") {
      logger.error(fields, "refused a conflicting value: a forged message or another process's bug; kept what we hold");
    } else {
      logger.warn(fields, "dropped an inbound message");
    }
    // Reasons are a closed set (decode failures and core refusals), so this map stays small.
    lastLogged.set(reason, { atMs: now, unlogged: 0 });
  };
}
