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

/**
 * The UTF-8 length of `text`, which is what it costs on the wire. String `length` counts UTF-16
 * code units: a CJK character is one unit but three bytes, so limits in bytes must never be
 * checked against `length`. A lone surrogate counts 3 (what an encoder substitutes); JSON text
 * from JSON.stringify never holds one, since it escapes them.
 */
export function utf8Bytes(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code < 0xdc00 && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next < 0xe000) {
        bytes += 4;
        i++;
      } else {
        bytes += 3;
      }
    } else bytes += 3;
  }
  return bytes;
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
