import type { JsonValue } from "@paxos/core";

/**
 * True when two JSON values are equal as JSON: objects compare by their members whatever their
 * order (JSON objects are unordered, and JavaScript reorders integer-like keys anyway), arrays
 * element by element, numbers by value. Used to tell an idempotent retry (same body) from a reused
 * key (another body).
 */
export function sameJson(a: JsonValue, b: JsonValue): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    const left: readonly JsonValue[] = a;
    const right: readonly JsonValue[] = b;
    return left.every((item, i) => sameJson(item, right[i] as JsonValue));
  }
  const left = a as { readonly [key: string]: JsonValue };
  const right = b as { readonly [key: string]: JsonValue };
  const keys = Object.keys(left);
  if (keys.length !== Object.keys(right).length) return false;
  return keys.every((key) => Object.hasOwn(right, key) && sameJson(left[key] as JsonValue, right[key] as JsonValue));
}
