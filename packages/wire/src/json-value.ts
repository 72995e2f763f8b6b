import type { JsonValue } from "@paxos/core";

/**
 * True when `value` is a JSON value: null, a boolean, a finite number, a string, or an array or
 * plain object of JSON values. Iterative, so deep values cost no stack. Much cheaper than a
 * recursive schema union on large payloads, and it keeps the value as it is (no copy): decoded
 * payloads are opaque data that the protocol compares by their JSON text.
 */
export function isJsonValue(value: unknown): value is JsonValue {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const item = pending.pop();
    switch (typeof item) {
      case "string":
      case "boolean":
        continue;
      case "number":
        if (!Number.isFinite(item)) return false;
        continue;
      case "object":
        if (item === null) continue;
        if (Array.isArray(item)) {
          // Holes read as undefined and are refused below, like any undefined element.
          for (let i = 0; i < item.length; i++) pending.push((item as unknown[])[i]);
          continue;
        }
        if (!isPlainObject(item)) return false;
        for (const key of Object.keys(item)) pending.push((item as Record<string, unknown>)[key]);
        continue;
      default:
        return false;
    }
  }
  return true;
}

function isPlainObject(value: object): boolean {
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/**
 * True when `value` nests arrays and objects at most `depthMax` deep (a scalar is depth 0).
 * Iterative, like isJsonValue.
 */
export function jsonDepthAtMost(value: unknown, depthMax: number): boolean {
  // Two parallel stacks rather than a pair per node: every decoded message is walked.
  const items: unknown[] = [value];
  const depths: number[] = [0];
  for (let item = items.pop(); depths.length > 0; item = items.pop()) {
    const depth = depths.pop() ?? 0;
    if (typeof item !== "object" || item === null) continue;
    if (depth + 1 > depthMax) return false;
    if (Array.isArray(item)) {
      for (let i = 0; i < item.length; i++) {
        items.push((item as unknown[])[i]);
        depths.push(depth + 1);
      }
    } else {
      for (const key of Object.keys(item)) {
        items.push((item as Record<string, unknown>)[key]);
        depths.push(depth + 1);
      }
    }
  }
  return true;
}
