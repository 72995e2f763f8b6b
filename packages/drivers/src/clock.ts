/** A pending timer; `cancel` is idempotent and safe after the timer fired. */
export interface Timer {
  cancel(): void;
}

/**
 * Time as a driver sees it: a monotonic clock in milliseconds and one-shot timers. Services pass
 * real timers (which never keep the process alive); the simulator passes its virtual clock, so a
 * seed replays exactly. A driver reads no other clock.
 */
export interface Clock {
  now(): number;
  /** Calls `fn` once, `delayMs` from now, unless cancelled first. Never calls it synchronously. */
  setTimer(delayMs: number, fn: () => void): Timer;
}

/** A timer that re-arms itself every `intervalMs` until cancelled. */
export function every(clock: Clock, intervalMs: number, fn: () => void): Timer {
  let current: Timer;
  let cancelled = false;
  const arm = (): void => {
    current = clock.setTimer(intervalMs, () => {
      if (cancelled) return;
      arm();
      fn();
    });
  };
  arm();
  return {
    cancel: () => {
      cancelled = true;
      current.cancel();
    },
  };
}
