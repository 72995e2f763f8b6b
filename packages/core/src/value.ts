/** Any JSON value: what a client may submit. */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/**
 * One client proposal. `id` is the client's request id (the gateway's Idempotency-Key, or a
 * generated one): a request chosen twice, after retries, is delivered once, at its first index.
 */
export interface ClientRequest {
  readonly id: string;
  readonly payload: JsonValue;
}

/**
 * What one log slot holds once chosen: a batch of client requests, or a no-op that a new leader
 * uses to fill a hole that phase 1 revealed no value for ("Paxos Made Simple", 3).
 */
export type SlotValue =
  { readonly kind: "noop" } | { readonly kind: "batch"; readonly requests: readonly ClientRequest[] };

export const NOOP: SlotValue = Object.freeze({ kind: "noop" });

/**
 * A canonical string for a slot value, so two values can be compared for equality. Payloads are
 * compared by their JSON text, which is what travels on the wire.
 */
export function slotValueKey(value: SlotValue): string {
  if (value.kind === "noop") return "noop";
  return JSON.stringify(value.requests.map((r) => [r.id, r.payload]));
}

/** True when two slot values are the same value. */
export function sameSlotValue(a: SlotValue, b: SlotValue): boolean {
  return a === b || slotValueKey(a) === slotValueKey(b);
}

/** The size a request adds to a batch, in bytes of its JSON text (an estimate for batching). */
export function requestBytes(request: ClientRequest): number {
  return request.id.length + JSON.stringify(request.payload).length + 16;
}
