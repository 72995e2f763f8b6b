import type { Response } from "express";

/*
 * Errors of the REST API as RFC 9457 problem details (`application/problem+json`). Every error
 * the gateway answers goes through `sendProblem`, so no other shape (and never a stack trace)
 * reaches a client.
 */

/** The closed set of problems the gateway reports. Each has one HTTP status and one title. */
export const PROBLEMS = {
  malformedJson: { status: 400, title: "Malformed JSON" },
  invalidBody: { status: 400, title: "Invalid request body" },
  lossyJson: { status: 400, title: "JSON that parsing would change" },
  invalidIdempotencyKey: { status: 400, title: "Invalid Idempotency-Key header" },
  invalidParameter: { status: 400, title: "Invalid parameter" },
  malformedUri: { status: 400, title: "Malformed URI" },
  badRequest: { status: 400, title: "Bad request" },
  unauthorized: { status: 401, title: "Authentication required" },
  invalidToken: { status: 401, title: "Invalid token" },
  insufficientScope: { status: 403, title: "Insufficient scope" },
  routeNotFound: { status: 404, title: "Not found" },
  entryNotFound: { status: 404, title: "Log entry not decided" },
  methodNotAllowed: { status: 405, title: "Method not allowed" },
  requestTimeout: { status: 408, title: "Request timeout" },
  idempotencyKeyInFlight: { status: 409, title: "Request with this Idempotency-Key is in flight" },
  payloadTooLarge: { status: 413, title: "Payload too large" },
  unsupportedMediaType: { status: 415, title: "Unsupported media type" },
  idempotencyKeyReused: { status: 422, title: "Idempotency-Key reused with a different value" },
  tooManyRequests: { status: 429, title: "Too many requests" },
  headersTooLarge: { status: 431, title: "Request header fields too large" },
  internal: { status: 500, title: "Internal error" },
  unavailable: { status: 503, title: "Service unavailable" },
  outcomeUnknown: { status: 504, title: "Timed out; outcome unknown" },
} as const;

/** The code of one problem; it also names the problem `type` URI. */
export type ProblemCode = keyof typeof PROBLEMS;

/** Extra members a problem may carry (RFC 9457, 3.2), for example the request id. */
export type ProblemExtensions = Readonly<Record<string, string | number>>;

/**
 * An expected failure of one HTTP request, thrown by handlers and turned into a problem response
 * by the app's error handler. `headers` are set on the response (for example `Retry-After`).
 */
export class HttpProblem extends Error {
  override readonly name = "HttpProblem";
  readonly code: ProblemCode;
  readonly detail: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly extensions: ProblemExtensions;

  constructor(
    code: ProblemCode,
    detail: string,
    options: { headers?: Readonly<Record<string, string>>; extensions?: ProblemExtensions } = {},
  ) {
    super(`${code}: ${detail}`);
    this.code = code;
    this.detail = detail;
    this.headers = options.headers ?? {};
    this.extensions = options.extensions ?? {};
  }

  get status(): number {
    return PROBLEMS[this.code].status;
  }
}

/** The `type` URI of a problem code: a stable identifier clients may switch on. */
export function problemType(code: ProblemCode): string {
  return `urn:paxos:problem:${code}`;
}

/** The media type of every error answer. */
export const PROBLEM_CONTENT_TYPE = "application/problem+json; charset=utf-8";

/** The JSON body of the problem. Extension members never override the standard ones. */
export function problemBody(problem: HttpProblem): string {
  const { status, title } = PROBLEMS[problem.code];
  const standard = { type: problemType(problem.code), title, status, detail: problem.detail };
  const extensions = Object.entries(problem.extensions).filter(([name]) => !Object.hasOwn(standard, name));
  return JSON.stringify({ ...standard, ...Object.fromEntries(extensions) });
}

/** Answers `res` with the problem. The caller must not have sent headers yet. */
export function sendProblem(res: Response, problem: HttpProblem): void {
  for (const [name, value] of Object.entries(problem.headers)) res.setHeader(name, value);
  res.status(problem.status);
  res.setHeader("Content-Type", PROBLEM_CONTENT_TYPE);
  res.setHeader("Cache-Control", "no-store");
  res.send(problemBody(problem));
}
