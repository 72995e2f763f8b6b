import { setTimeout as sleep } from "node:timers/promises";
import { BenchError, throwIfAborted } from "./bench-errors.ts";
import { LOG_CATCH_UP_TIMEOUT_MS, LOG_PAGE_LIMIT, LOG_READ_TIMEOUT_MS, POLL_INTERVAL_MS } from "./bench-limits.ts";
import { type LoggedEntry, valueKey } from "./exactly-once.ts";
import type { HttpWriteApi } from "./http-write-target.ts";
import type { SystemUnderTest } from "./system-under-test.ts";
import type { WriteOutcome } from "./write-target.ts";

/*
 * Our REST gateway's API (packages/gateway-app/src/routes.ts): POST /v1/proposals with
 * {"value": ...} is answered 201 with {"index", "value", "requestId"} once the value is chosen
 * and delivered; GET /v1/log?from=&limit= with {"entries": [{index, value, requestId}], "next"}.
 */

/**
 * Bench writes as proposals: POST /v1/proposals on `system` (its bearer token included) with the
 * write's value as a JSON string, no Idempotency-Key (each request a new proposal); success is
 * 201 with the entry's index and the request id the gateway gave it.
 */
export function paxosProposalApi(system: SystemUnderTest): HttpWriteApi {
  return {
    origin: system.baseUrl,
    path: "/v1/proposals",
    headers: { "content-type": "application/json", ...system.requestHeaders },
    body: (write) => JSON.stringify({ value: write.value }),
    answer: (statusCode, body): WriteOutcome => {
      if (statusCode !== 201) return { ok: false, error: `status ${statusCode}` };
      try {
        const answer = JSON.parse(body) as { index?: unknown; requestId?: unknown };
        if (typeof answer.index !== "number" || typeof answer.requestId !== "string") {
          return { ok: false, error: "bad answer" };
        }
        return { ok: true, position: answer.index, requestId: answer.requestId };
      } catch {
        return { ok: false, error: "bad answer" };
      }
    },
  };
}

interface LogPage {
  readonly entries: readonly { readonly index: number; readonly value: unknown; readonly requestId: string }[];
  readonly next: number;
}

/**
 * Reads the whole log of `system` through GET /v1/log, page after page of LOG_PAGE_LIMIT from
 * index 0, handing each entry to `onEntry`, until a page comes back empty. When the log then
 * ends before `mustReach` (the highest acknowledged index: a learner still catching up), it
 * asks again from there for LOG_CATCH_UP_TIMEOUT_MS before it gives up. Resolves with how many
 * entries it read; throws BenchError when a page is not answered 200.
 */
export async function readPaxosLog(
  system: SystemUnderTest,
  mustReach: number,
  onEntry: (entry: LoggedEntry) => void,
  signal: AbortSignal,
): Promise<number> {
  let from = 0;
  let read = 0;
  const catchUpDeadline = (): number => Date.now() + LOG_CATCH_UP_TIMEOUT_MS;
  let deadline: number | null = null;
  for (;;) {
    throwIfAborted(signal);
    const url = `${system.baseUrl}/v1/log?from=${from}&limit=${LOG_PAGE_LIMIT}`;
    const response = await fetch(url, {
      headers: system.requestHeaders,
      signal: AbortSignal.any([signal, AbortSignal.timeout(LOG_READ_TIMEOUT_MS)]),
    });
    const text = await response.text();
    if (response.status !== 200) {
      throw new BenchError(`GET ${url} answered ${response.status}: ${text.slice(0, 300)}`);
    }
    const page = JSON.parse(text) as LogPage;
    for (const entry of page.entries) {
      onEntry({ position: entry.index, requestId: entry.requestId, valueKey: valueKey(entry.value) });
    }
    read += page.entries.length;
    if (page.entries.length > 0) {
      from = page.next;
      deadline = null;
      continue;
    }
    if (from > mustReach) return read;
    deadline ??= catchUpDeadline();
    if (Date.now() > deadline) return read;
    await sleep(POLL_INTERVAL_MS);
  }
}

/** How far the cluster's log has come: client values delivered and slots decided (no-ops too). */
export interface DecidedCount {
  readonly values: number;
  readonly slots: number;
}

/**
 * What the furthest learner of `system` has decided, from GET /v1/cluster; null when it cannot
 * say (no learner answered, or the answer is not what the gateway sends). The difference of two
 * readings gives how many client values the slots between them carried.
 */
export async function readDecided(system: SystemUnderTest, signal: AbortSignal): Promise<DecidedCount | null> {
  try {
    const response = await fetch(`${system.baseUrl}/v1/cluster`, {
      headers: system.requestHeaders,
      signal: AbortSignal.any([signal, AbortSignal.timeout(LOG_READ_TIMEOUT_MS)]),
    });
    if (response.status !== 200) return null;
    const body = (await response.json()) as { learners?: { nextIndex?: unknown; nextSlot?: unknown }[] };
    const learners = (body.learners ?? []).filter(
      (l): l is { nextIndex: number; nextSlot: number } =>
        typeof l.nextIndex === "number" && typeof l.nextSlot === "number",
    );
    if (learners.length === 0) return null;
    return {
      values: Math.max(...learners.map((l) => l.nextIndex)),
      slots: Math.max(...learners.map((l) => l.nextSlot)),
    };
  } catch {
    throwIfAborted(signal);
    return null;
  }
}
