import { createHash } from "node:crypto";
import { CHECK_EXAMPLES_MAX } from "./bench-limits.ts";

/**
 * The exactly-once check of issue 11: after a system's load, every write it acknowledged must be
 * in its log exactly once, where its acknowledgement said, with its value. Values are compared
 * by `valueKey` (a digest of long values), so the check holds a few bytes per entry however big
 * the values are.
 */

/** A write the system acknowledged: its id, the position its answer gave, and the value sent. */
export interface AcknowledgedWrite {
  /** The request id of ours, the key of etcd's. */
  readonly requestId: string;
  /** The log index of ours, the revision of etcd's. */
  readonly position: number;
  /** `valueKey` of the value sent. */
  readonly valueKey: string;
}

/** One entry of our log as read back: `GET /v1/log` gives index, value and requestId. */
export interface LoggedEntry {
  readonly position: number;
  readonly requestId: string;
  readonly valueKey: string;
}

/** One key of etcd's as read back by a range request. */
export interface StoredKey {
  readonly key: string;
  /** The revision of its last write. */
  readonly modRevision: number;
  /** How many times it was written since it was created: 1 for a key written once. */
  readonly version: number;
  readonly valueKey: string;
}

/** The ways an acknowledged write can be wrong, as the report counts them. */
export type CheckProblemKind = "lost" | "wrongIndex" | "wrongValue" | "duplicate";

/** What the check found. `ok` when no acknowledged write has a problem. */
export interface ExactlyOnceResult {
  readonly ok: boolean;
  readonly acknowledged: number;
  /** Entries (ours) or keys (etcd's) read back. */
  readonly entriesRead: number;
  /** Acknowledged writes with each kind of problem. */
  readonly problems: Readonly<Record<CheckProblemKind, number>>;
  /** A few of each, described, to look up in the log. */
  readonly examples: readonly string[];
}

/** The comparable form of a value: JSON, or a SHA-256 of it when longer than a digest. */
export function valueKey(value: unknown): string {
  const json = JSON.stringify(value) ?? "undefined";
  return json.length <= 64 ? json : `sha256:${createHash("sha256").update(json).digest("base64")}`;
}

class Findings {
  readonly problems: Record<CheckProblemKind, number> = { lost: 0, wrongIndex: 0, wrongValue: 0, duplicate: 0 };
  readonly examples: string[] = [];
  readonly #shown: Record<CheckProblemKind, number> = { lost: 0, wrongIndex: 0, wrongValue: 0, duplicate: 0 };

  add(kind: CheckProblemKind, description: () => string): void {
    this.problems[kind]++;
    if (this.#shown[kind] < CHECK_EXAMPLES_MAX) {
      this.#shown[kind]++;
      this.examples.push(`${kind}: ${description()}`);
    }
  }

  result(acknowledged: number, entriesRead: number): ExactlyOnceResult {
    const ok = Object.values(this.problems).every((n) => n === 0);
    return { ok, acknowledged, entriesRead, problems: { ...this.problems }, examples: [...this.examples] };
  }
}

/**
 * Checks our log against the acknowledged writes, reading the log as a stream of entries (feed
 * every page to `add`, then call `result`). An acknowledged write is
 * - `lost` when its request id is nowhere in the log,
 * - `wrongIndex` when it is, but not at the index its answer gave,
 * - `wrongValue` when the entry at that index has its request id but another value,
 * - `duplicate` when its request id or its value is in the log more than once.
 * Entries of writes not acknowledged (warm-up probes, timed-out requests) are only read.
 */
export class LogCheck {
  readonly #acknowledged: readonly AcknowledgedWrite[];
  readonly #acknowledgedValues = new Set<string>();
  /** Where each request id and each acknowledged value was seen. */
  readonly #positionsOfRequest = new Map<string, number[]>();
  readonly #positionsOfValue = new Map<string, number[]>();
  readonly #entryAt = new Map<number, { readonly requestId: string; readonly valueKey: string }>();
  #entriesRead = 0;

  constructor(acknowledged: readonly AcknowledgedWrite[]) {
    this.#acknowledged = acknowledged;
    for (const write of acknowledged) this.#acknowledgedValues.add(write.valueKey);
  }

  /** The highest index an acknowledgement gave (-1 for none): the log must reach it. */
  get highestAcknowledgedPosition(): number {
    return this.#acknowledged.reduce((max, write) => Math.max(max, write.position), -1);
  }

  add(entry: LoggedEntry): void {
    this.#entriesRead++;
    this.#entryAt.set(entry.position, { requestId: entry.requestId, valueKey: entry.valueKey });
    push(this.#positionsOfRequest, entry.requestId, entry.position);
    if (this.#acknowledgedValues.has(entry.valueKey)) push(this.#positionsOfValue, entry.valueKey, entry.position);
  }

  result(): ExactlyOnceResult {
    const findings = new Findings();
    for (const write of this.#acknowledged) {
      const positions = this.#positionsOfRequest.get(write.requestId) ?? [];
      const at = this.#entryAt.get(write.position);
      if (positions.length === 0) {
        findings.add(
          "lost",
          () => `request ${write.requestId}, acknowledged at index ${write.position}, is not in the log`,
        );
      } else if (!positions.includes(write.position)) {
        findings.add(
          "wrongIndex",
          () =>
            `request ${write.requestId} was acknowledged at index ${write.position} but is at ${positions.join(", ")}` +
            (at === undefined ? "" : ` (index ${write.position} holds request ${at.requestId})`),
        );
      } else if (at !== undefined && at.valueKey !== write.valueKey) {
        findings.add("wrongValue", () => `index ${write.position} holds request ${write.requestId} with another value`);
      }
      const valuePositions = this.#positionsOfValue.get(write.valueKey) ?? [];
      if (positions.length > 1 || valuePositions.length > 1) {
        const where = [...new Set([...positions, ...valuePositions])].sort((a, b) => a - b);
        findings.add("duplicate", () => `request ${write.requestId} or its value is at indexes ${where.join(", ")}`);
      }
    }
    return findings.result(this.#acknowledged.length, this.#entriesRead);
  }
}

/**
 * Checks etcd's keys against the acknowledged puts (each to a key of its own): an acknowledged
 * put is `lost` when its key is missing, `wrongValue` when the key holds another value,
 * `wrongIndex` when the key's last write is not at the revision the put's answer gave, and
 * `duplicate` when the key was written more than once (its version is above 1).
 */
export class KeyValueCheck {
  readonly #acknowledged: readonly AcknowledgedWrite[];
  readonly #stored = new Map<string, StoredKey>();

  constructor(acknowledged: readonly AcknowledgedWrite[]) {
    this.#acknowledged = acknowledged;
  }

  add(key: StoredKey): void {
    this.#stored.set(key.key, key);
  }

  result(): ExactlyOnceResult {
    const findings = new Findings();
    for (const write of this.#acknowledged) {
      const stored = this.#stored.get(write.requestId);
      if (stored === undefined) {
        findings.add("lost", () => `key ${write.requestId}, acknowledged at revision ${write.position}, is missing`);
        continue;
      }
      if (stored.valueKey !== write.valueKey) {
        findings.add("wrongValue", () => `key ${write.requestId} holds another value`);
      }
      if (stored.modRevision !== write.position) {
        findings.add(
          "wrongIndex",
          () =>
            `key ${write.requestId} was acknowledged at revision ${write.position}, last written at ${stored.modRevision}`,
        );
      }
      if (stored.version > 1) {
        findings.add("duplicate", () => `key ${write.requestId} was written ${stored.version} times`);
      }
    }
    return findings.result(this.#acknowledged.length, this.#stored.size);
  }
}

function push(map: Map<string, number[]>, key: string, position: number): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [position]);
  else list.push(position);
}
