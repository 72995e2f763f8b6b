import type { JsonValue } from "@paxos/core";
import { HttpProblem } from "./problem.ts";

/*
 * Validation of what clients send, once, at the edge: the proposal body, the Idempotency-Key
 * header and the numeric parameters of the log reads. Each function returns the validated value
 * or throws an HttpProblem (400 or 415); nothing reaches the bus before these pass.
 */

/**
 * What an Idempotency-Key may be: 1 to 200 characters of letters, digits and `._~:+/=-` (enough
 * for UUIDs, ULIDs and base64). A key sent twice arrives joined with ", " and is refused.
 */
export const IDEMPOTENCY_KEY_PATTERN: RegExp = /^[A-Za-z0-9._~:+/=-]{1,200}$/;

/** A proposal as the client sent it, validated. */
export interface ProposalBody {
  readonly value: JsonValue;
}

/**
 * True for `application/json` and `application/<anything>+json`, with any parameters. Anything
 * else (including no Content-Type at all) is answered 415 before the body is read.
 */
export function isJsonContentType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const mediaType = (contentType.split(";")[0] ?? "").trim().toLowerCase();
  return mediaType === "application/json" || /^application\/[a-z0-9!#$&^_.-]+\+json$/.test(mediaType);
}

/** The Idempotency-Key header, validated; undefined when the client sent none. */
export function parseIdempotencyKey(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (!IDEMPOTENCY_KEY_PATTERN.test(header)) {
    throw new HttpProblem(
      "invalidIdempotencyKey",
      `Idempotency-Key must be 1 to 200 characters of letters, digits and "._~:+/=-", sent once`,
    );
  }
  return header;
}

/**
 * The proposal body: exactly one member, `value`, holding any JSON value. Unknown members are
 * refused rather than ignored, so a misspelled or future field is never silently dropped.
 * Numbers must be finite (JSON.parse turns 1e400 into Infinity, which JSON cannot carry) and
 * nesting at most `valueDepthMax` deep. `body` is what `strictJsonBody` parsed (undefined when the
 * request had none), so it is already exactly the JSON the client sent.
 */
export function parseProposalBody(body: unknown, valueDepthMax: number): ProposalBody {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new HttpProblem("invalidBody", 'The body must be a JSON object {"value": <any JSON>}');
  }
  const members = Object.keys(body);
  const unknown = members.filter((name) => name !== "value");
  if (unknown.length > 0) {
    throw new HttpProblem("invalidBody", `Unknown member ${JSON.stringify(unknown[0])}: the body takes only "value"`);
  }
  if (!Object.hasOwn(body, "value")) {
    throw new HttpProblem("invalidBody", 'The body must have a "value" member (null is a value)');
  }
  const value = (body as { value: unknown }).value;
  checkJsonValue(value, valueDepthMax);
  return { value: value as JsonValue };
}

/**
 * Checks, without recursion, that `value` is JSON as JSON.parse builds it with finite numbers and
 * at most `depthMax` levels of arrays and objects.
 */
function checkJsonValue(value: unknown, depthMax: number): void {
  const pending: { readonly item: unknown; readonly depth: number }[] = [{ item: value, depth: 0 }];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const { item, depth } = next;
    if (typeof item === "number" && !Number.isFinite(item)) {
      throw new HttpProblem("invalidBody", "Numbers in the value must be finite");
    }
    if (item === null || typeof item !== "object") continue;
    if (depth >= depthMax) {
      throw new HttpProblem("invalidBody", `The value nests deeper than ${depthMax} levels`);
    }
    const children: readonly unknown[] = Array.isArray(item) ? item : Object.values(item);
    for (const child of children) pending.push({ item: child, depth: depth + 1 });
  }
}

/**
 * An integer parameter in plain decimal (no sign, exponent or leading zeros), between `min`
 * (default 0) and `max` (default the largest safe integer). `raw` is what express parsed: a
 * string, an array when the parameter was repeated, or undefined. Returns `fallback` when absent;
 * throws 400 when present and invalid.
 */
export function parseIntegerParameter(
  name: string,
  raw: unknown,
  options: { readonly fallback: number; readonly min?: number; readonly max?: number },
): number {
  if (raw === undefined) return options.fallback;
  const min = options.min ?? 0;
  const max = options.max ?? Number.MAX_SAFE_INTEGER;
  const parsed = typeof raw === "string" && /^(0|[1-9][0-9]*)$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(parsed) || parsed < min || parsed > max) {
    throw new HttpProblem("invalidParameter", `${name} must be an integer from ${min} to ${max}, given once`);
  }
  return parsed;
}
