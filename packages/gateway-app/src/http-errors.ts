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

/**
 * The codes of node:zlib's decompression errors, which body-parser passes on: zlib's (gzip,
 * deflate: `Z_DATA_ERROR`, `Z_BUF_ERROR` for a cut stream), brotli's (`ERR__ERROR_FORMAT_…`) and
 * zstd's (`ZSTD_error_…`).
 */
const DECOMPRESSION_ERROR_CODE = /^(Z_|ERR__ERROR_|ZSTD_error_)/;

/** The fields body-parser puts on its errors (`code` is node:zlib's, on a decompression error). */
interface BodyParserError {
  readonly type?: unknown;
  readonly status?: unknown;
  readonly limit?: unknown;
  readonly code?: unknown;
}

/**
 * Maps a body-parser failure to a problem: malformed JSON 400, too large 413, an unsupported
 * charset or content encoding 415, a body that does not decompress 400 (body-parser passes zlib's
 * error on with status 400 and no `type`), any other client error of body-parser's 400. Returns
 * null for anything else.
 */
function bodyParserProblem(error: unknown): HttpProblem | null {
  if (typeof error !== "object" || error === null) return null;
  const { type, status, limit, code } = error as BodyParserError;
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
      if (typeof status !== "number" || status < 400 || status >= 500) return null;
      if (typeof code === "string" && DECOMPRESSION_ERROR_CODE.test(code)) {
        return new HttpProblem("invalidBody", "The body does not decompress with its Content-Encoding");
      }
      return type === undefined ? null : new HttpProblem("invalidBody", "The body could not be read");
  }
}

/** Longest part of a malformed path a problem repeats. */
const MALFORMED_PATH_SHOWN_CHARS_MAX = 200;

/**
 * Maps a path that does not percent-decode (the router's `decodeURIComponent` of a route
 * parameter throws a URIError, as for `/v1/log/%ZZ`) to a 400 problem. Returns null for
 * anything else.
 */
function malformedUriProblem(error: unknown, path: string): HttpProblem | null {
  if (!(error instanceof URIError)) return null;
  const shown =
    path.length > MALFORMED_PATH_SHOWN_CHARS_MAX ? `${path.slice(0, MALFORMED_PATH_SHOWN_CHARS_MAX)}…` : path;
  return new HttpProblem("malformedUri", `Malformed URI: ${shown} is not valid percent-encoded UTF-8`);
}

/**
 * The last middleware of the app. HttpProblems, malformed URIs and body-parser errors become
 * their problem;
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
        : (malformedUriProblem(error, req.path) ??
          bodyParserProblem(error) ??
          new HttpProblem("internal", "An unexpected error occurred"));
    if (problem.code === "internal") logger.error({ err: error, method: req.method, path: req.path }, "request failed");
    if (res.headersSent) {
      res.end();
      return;
    }
    sendProblem(res, problem);
  };
}
