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

/**
 * True when two slot values are the same value: what comparing their `slotValueKey`s says, but
 * request by request, so that it stops at the first difference and compares a string or number
 * payload directly rather than building both values' JSON. Every vote is compared with the value
 * it counts for; with 32 requests of 4 KiB, the two keys cost 230 µs a comparison.
 */
export function sameSlotValue(a: SlotValue, b: SlotValue): boolean {
  if (a === b) return true;
  if (a.kind === "noop" || b.kind === "noop") return a.kind === b.kind;
  if (a.requests.length !== b.requests.length) return false;
  for (let i = 0; i < a.requests.length; i++) {
    const x = a.requests[i];
    const y = b.requests[i];
    if (x === undefined || y === undefined || x.id !== y.id || !samePayload(x.payload, y.payload)) return false;
  }
  return true;
}

/**
 * Whether two payloads have the same JSON text. For scalars that is `===`: JSON has no NaN, and
 * -0 prints as 0, which `===` also equates.
 */
function samePayload(a: JsonValue, b: JsonValue): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The UTF-8 length of `text`, which is what it costs on the wire. String `length` counts UTF-16
 * code units: a CJK character is one unit but three bytes, so limits in bytes must never be
 * checked against `length`. A lone surrogate counts 3 (what an encoder substitutes); JSON text
 * from JSON.stringify never holds one, since it escapes them.
 */
export function utf8Bytes(text: string): number {
  // Node's native count: a JavaScript loop over the characters cost 5 µs for every 4 KiB value.
  return Buffer.byteLength(text, "utf8");
}

/** JSON bytes of a batch slot value around its requests: `{"kind":"batch","requests":[]}`. */
export const BATCH_OVERHEAD_BYTES = 30;

/**
 * The UTF-8 bytes a request adds to a batch: its JSON object `{"id":…,"payload":…}` and the comma
 * that separates it from the next. A batch of requests encodes to at most BATCH_OVERHEAD_BYTES
 * plus the sum of their `requestBytes`, which is how the leader keeps a slot value within
 * `batchBytesMax` on the wire.
 */
export function requestBytes(request: ClientRequest): number {
  return utf8Bytes(JSON.stringify(request.id)) + utf8Bytes(JSON.stringify(request.payload)) + 19;
}

/** The UTF-8 bytes of a slot value's JSON, as it travels inside accept, accepted and promise. */
export function slotValueBytes(value: SlotValue): number {
  return utf8Bytes(JSON.stringify(value));
}
