// HTTP helpers for the end-to-end tests: requests to a gateway over fetch, the problem+json check
// every error answer must pass, and whole-log reads from the gateways and from the learners.
import type { JsonValue } from "@paxos/core";
import { type NatsBus } from "@paxos/transport-nats";
import { queryLearners, type Subjects } from "@paxos/wire";
import { expect } from "vitest";

/** One HTTP answer, read whole. `body` is the parsed JSON, or null when the body is not JSON. */
export interface HttpAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly body: unknown;
}

/** An entry of the decided log as the REST API and the learners show it. */
export interface LogEntry {
  readonly index: number;
  readonly value: JsonValue;
  readonly requestId: string;
}

/** Sends one request and reads the answer; rejects only on a network failure or `timeoutMs`. */
export async function http(
  url: string,
  init: { method?: string; body?: string; headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<HttpAnswer> {
  const response = await fetch(url, {
    method: init.method ?? "GET",
    ...(init.body === undefined ? {} : { body: init.body }),
    headers: init.headers ?? {},
    signal: AbortSignal.timeout(init.timeoutMs ?? 15_000),
  });
  const text = await response.text();
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: response.status, headers: response.headers, text, body };
}

/** POST /v1/proposals with `{"value": value}`, and an Idempotency-Key when `key` is given. */
export async function postProposal(
  baseUrl: string,
  value: JsonValue,
  options: { key?: string; timeoutMs?: number } = {},
): Promise<HttpAnswer> {
  return await http(`${baseUrl}/v1/proposals`, proposalRequest(value, options));
}

/**
 * POSTs a proposal as a well-behaved client does: a 503 says the request was certainly not queued
 * (no leader at that moment, as during an election on a loaded machine), so it waits Retry-After
 * and tries again, up to `retriesMax` times. Any other answer is returned as it is.
 */
export async function postProposalRetrying(
  baseUrl: string,
  value: JsonValue,
  options: { key?: string; timeoutMs?: number; retriesMax?: number } = {},
): Promise<HttpAnswer> {
  for (let attempt = 0; ; attempt++) {
    const answer = await postProposal(baseUrl, value, options);
    if (answer.status !== 503 || attempt >= (options.retriesMax ?? 5)) return answer;
    const retryAfterS = Number(answer.headers.get("retry-after") ?? "1");
    await sleep(1_000 * Math.min(Number.isFinite(retryAfterS) ? retryAfterS : 1, 5));
  }
}

function proposalRequest(value: JsonValue, options: { key?: string; timeoutMs?: number }): Parameters<typeof http>[1] {
  return {
    method: "POST",
    body: JSON.stringify({ value }),
    headers: {
      "Content-Type": "application/json",
      ...(options.key === undefined ? {} : { "Idempotency-Key": options.key }),
    },
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
  };
}

/** The entry a 200/201 proposal answer carries; throws when the body is not one. */
export function entryOf(answer: HttpAnswer): LogEntry {
  const body = answer.body as Partial<LogEntry> | null;
  if (body === null || typeof body.index !== "number" || typeof body.requestId !== "string" || !("value" in body)) {
    throw new Error(`not a log entry (HTTP ${answer.status}): ${answer.text}`);
  }
  return { index: body.index, value: body.value, requestId: body.requestId };
}

/**
 * Asserts the RFC 9457 shape every gateway error must have: the status, the problem+json content
 * type, `status`/`title`/`detail` members and no stack trace. Returns the body.
 */
export function expectProblem(answer: HttpAnswer, status: number): Record<string, unknown> {
  expect(answer.status, answer.text).toBe(status);
  expect(answer.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  const body = answer.body as Record<string, unknown>;
  expect(body).toMatchObject({ status, title: expect.any(String) as unknown, detail: expect.any(String) as unknown });
  expect(body).not.toHaveProperty("stack");
  expect(answer.text).not.toMatch(/\bat .*\.(ts|js):\d+/);
  expect(answer.text).not.toMatch(/node_modules|\/src\//);
  return body;
}

/** The whole log as one gateway serves it, read with GET /v1/log in pages of `pageLimit`. */
export async function readLogFromGateway(baseUrl: string, pageLimit = 100): Promise<LogEntry[]> {
  const entries: LogEntry[] = [];
  for (let from = 0; ;) {
    const answer = await http(`${baseUrl}/v1/log?from=${from}&limit=${pageLimit}`);
    if (answer.status !== 200) throw new Error(`GET /v1/log?from=${from}: HTTP ${answer.status} ${answer.text}`);
    const page = answer.body as { entries: LogEntry[]; next: number };
    if (page.entries.length === 0) return entries;
    entries.push(...page.entries.map(({ index, value, requestId }) => ({ index, value, requestId })));
    if (page.next <= from) throw new Error(`GET /v1/log?from=${from} did not advance: next ${page.next}`);
    from = page.next;
  }
}

/**
 * The first `count` entries of the log as each of `learners` learners holds it, read over the
 * bus with `range` queries (every learner answers each query). Answers carry no learner id, so
 * the k-th log is made of the k-th answer of each page; the logs are identical exactly when every
 * page's answers are. Throws when a page does not get `learners` answers.
 */
export async function readLogsFromLearners(
  bus: NatsBus,
  subjects: Subjects,
  learners: number,
  count: number,
): Promise<LogEntry[][]> {
  const logs: LogEntry[][] = Array.from({ length: learners }, () => []);
  for (let from = 0; from < count;) {
    const answers = await queryLearners(bus, subjects, { op: "range", from, limit: count - from }, 2_000, {
      maxReplies: learners,
    });
    if (answers.length !== learners) throw new Error(`range from ${from}: ${answers.length} of ${learners} answered`);
    let next = from;
    answers.forEach((answer, k) => {
      if (answer.op !== "range") throw new Error(`not a range answer: ${JSON.stringify(answer)}`);
      logs[k]?.push(...answer.entries.map(({ index, value, requestId }) => ({ index, value, requestId })));
      next = Math.max(next, answer.next);
    });
    if (next <= from) throw new Error(`range from ${from} did not advance`);
    from = next;
  }
  return logs;
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
