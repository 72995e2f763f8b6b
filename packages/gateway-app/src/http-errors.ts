import type { ErrorRequestHandler, RequestHandler } from "express";
import type { Logger } from "pino";
import { HttpProblem, sendProblem } from "./problem.ts";

/*
 * The app's edges for failures: unknown routes, wrong methods, and the final error handler that
 * turns anything thrown into a problem response, so express's default handler (which prints a
 * stack in development) never answers.
 */

/** Answers 404 for a path no route serves. Mounted after every route. */
export const routeNotFound: RequestHandler = (req, _res, next) => {
  next(new HttpProblem("routeNotFound", `No resource at ${req.path}`));
};

/** Answers 405 with `Allow` for a known path asked with another method. */
export function methodNotAllowed(allowed: readonly string[]): RequestHandler {
  const allow = allowed.join(", ");
  return (req, _res, next) => {
    next(
      new HttpProblem("methodNotAllowed", `${req.method} is not allowed here; use ${allow}`, {
        headers: { Allow: allow },
      }),
    );
  };
}

/** The fields body-parser puts on its errors. */
interface BodyParserError {
  readonly type?: unknown;
  readonly status?: unknown;
  readonly limit?: unknown;
}

/**
 * Maps a body-parser failure to a problem: malformed JSON 400, too large 413, an unsupported
 * charset or content encoding 415, any other client error 400. Returns null for anything else.
 */
function bodyParserProblem(error: unknown): HttpProblem | null {
  if (typeof error !== "object" || error === null || !("type" in error)) return null;
  const { type, status, limit } = error as BodyParserError;
  switch (type) {
    case "entity.parse.failed":
      return new HttpProblem("malformedJson", "The body is not valid JSON");
    case "entity.too.large":
      return new HttpProblem(
        "payloadTooLarge",
        typeof limit === "number" ? `The body is larger than ${limit} bytes` : "The body is larger than the limit",
      );
    case "charset.unsupported":
    case "encoding.unsupported":
      return new HttpProblem("unsupportedMediaType", "Send UTF-8 JSON, identity, gzip, deflate or br encoded");
    default:
      if (typeof status === "number" && status >= 400 && status < 500) {
        return new HttpProblem("invalidBody", "The body could not be read");
      }
      return null;
  }
}

/**
 * The last middleware of the app. HttpProblems and body-parser errors become their problem;
 * anything else is a bug: logged with its stack, answered 500 without it. A response already
 * started (a stream) is ended instead.
 */
export function problemHandler(logger: Logger): ErrorRequestHandler {
  // Express recognises an error handler by its four parameters, so `_next` must stay.
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  return (error: unknown, req, res, _next) => {
    const problem =
      error instanceof HttpProblem
        ? error
        : (bodyParserProblem(error) ?? new HttpProblem("internal", "An unexpected error occurred"));
    if (problem.code === "internal") logger.error({ err: error, method: req.method, path: req.path }, "request failed");
    if (res.headersSent) {
      res.end();
      return;
    }
    sendProblem(res, problem);
  };
}
