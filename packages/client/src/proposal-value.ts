import type { JsonValue } from "@paxos/core";
import { IDEMPOTENCY_KEY_PATTERN } from "@paxos/gateway-app";
import { isJsonValue } from "@paxos/wire";
import { PaxosClientError } from "./client-error.ts";

/*
 * What the gateway checks of a POST body before anything is sent, for values that come from a
 * program instead of parsed JSON: a value must survive the trip through JSON unchanged (no
 * undefined, NaN, Date or class instance, which JSON.stringify would drop or rewrite, and which
 * would then never compare equal to what the learners deliver), nest no deeper than the gateway
 * allows, and its idempotency key must be one the gateway would accept.
 */

/**
 * Returns `value` when it is a JSON value (isJsonValue: null, booleans, finite numbers, strings,
 * arrays and plain objects of them) nesting at most `depthMax` levels of arrays and objects;
 * throws PaxosClientError("invalidProposal") otherwise.
 */
export function checkProposalValue(value: unknown, depthMax: number): JsonValue {
  if (!isJsonValue(value)) {
    throw new PaxosClientError(
      "invalidProposal",
      "The value must be JSON: null, booleans, finite numbers, strings, and arrays and plain objects of them (no undefined, NaN, Date, Map or class instances)",
    );
  }
  if (!depthAtMost(value, depthMax)) {
    throw new PaxosClientError(
      "invalidProposal",
      `The value nests deeper than ${depthMax} levels of arrays and objects`,
    );
  }
  return value;
}

/** Returns `key` when the gateway would accept it as an Idempotency-Key; throws otherwise. */
export function checkIdempotencyKey(key: unknown): string {
  if (typeof key !== "string" || !IDEMPOTENCY_KEY_PATTERN.test(key)) {
    throw new PaxosClientError(
      "invalidProposal",
      `The idempotency key must be 1 to 200 characters of letters, digits and "._~:+/=-"`,
    );
  }
  return key;
}

/** True when `value` nests arrays and objects at most `depthMax` deep (a scalar is depth 0). */
function depthAtMost(value: JsonValue, depthMax: number): boolean {
  const pending: { readonly item: JsonValue; readonly depth: number }[] = [{ item: value, depth: 0 }];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const { item, depth } = next;
    if (item === null || typeof item !== "object") continue;
    if (depth >= depthMax) return false;
    const children: readonly JsonValue[] = Array.isArray(item) ? item : Object.values(item);
    for (const child of children) pending.push({ item: child, depth: depth + 1 });
  }
  return true;
}
