import type { DeliveryEvent } from "./cluster-port.ts";

/** A registration for the first delivery of one request id. */
export interface DeliveryWaiter {
  /** The first delivery event for the request id, or null if it was cancelled first. */
  readonly first: Promise<DeliveryEvent | null>;
  /** True once `first` has settled. */
  settled(): boolean;
  /** Stops waiting; `first` resolves null if no event came. Idempotent. */
  cancel(): void;
}

/**
 * Routes delivery events to the proposals waiting for them, by request id. A proposal registers
 * BEFORE it sends its propose request, so a delivery that races the propose reply is not missed.
 * `dispatch` is what the single delivery subscription of the gateway calls.
 */
export class DeliveryWaiters {
  readonly #byRequestId = new Map<string, Set<(event: DeliveryEvent | null) => void>>();

  /** Starts waiting for the first delivery of `requestId`. The caller must cancel it when done. */
  register(requestId: string): DeliveryWaiter {
    let done = false;
    let settle: (event: DeliveryEvent | null) => void = () => undefined;
    const first = new Promise<DeliveryEvent | null>((resolve) => {
      settle = (event) => {
        if (done) return;
        done = true;
        const set = this.#byRequestId.get(requestId);
        set?.delete(settle);
        if (set?.size === 0) this.#byRequestId.delete(requestId);
        resolve(event);
      };
    });
    const set = this.#byRequestId.get(requestId) ?? new Set();
    set.add(settle);
    this.#byRequestId.set(requestId, set);
    return { first, settled: () => done, cancel: () => settle(null) };
  }

  /** Hands `event` to everyone waiting for its request id. */
  dispatch(event: DeliveryEvent): void {
    const set = this.#byRequestId.get(event.requestId);
    if (set === undefined) return;
    for (const settle of [...set]) settle(event);
  }

  /** Request ids waited on now (for tests and metrics). */
  get size(): number {
    return this.#byRequestId.size;
  }
}
