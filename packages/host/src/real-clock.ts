import { performance } from "node:perf_hooks";
import type { Clock } from "@paxos/drivers";

/**
 * The Clock of the services: `performance.now()` (monotonic) and Node timers that never keep the
 * process alive. Drivers read no other time.
 */
export const realClock: Clock = Object.freeze({
  now: () => performance.now(),
  setTimer: (delayMs: number, fn: () => void) => {
    const timer = setTimeout(fn, delayMs);
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
});
