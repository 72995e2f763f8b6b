import { createServer, type Server, STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import type { Express } from "express";
import type { GatewayServerLimits } from "./gateway-limits.ts";
import { HttpProblem, PROBLEM_CONTENT_TYPE, problemBody } from "./problem.ts";

/*
 * The gateway's Node HTTP server: the limits of `GatewayServerLimits` (gateway-limits.ts), and
 * problem+json for the answers Node writes itself. A request cut by the headers or request
 * timeout, headers over `headerBytesMax`, or a request line Node cannot parse never reaches
 * express: Node reports it as `clientError` and, without a listener, writes a bare 408, 431 or 400.
 * The listener here writes the same statuses as problems, like every other error of the gateway.
 */

/**
 * Creates (does not start) a Node HTTP server for `app` with `limits`, whose own error answers
 * are problems (see `answerClientError`). Throws when `headersTimeoutMs` exceeds
 * `requestTimeoutMs`.
 */
export function createLimitedServer(app: Express, limits: GatewayServerLimits): Server {
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      connectionsCheckingInterval: limits.timeoutsCheckIntervalMs,
      maxHeaderSize: limits.headerBytesMax,
    },
    app,
  );
  server.maxHeadersCount = limits.headersCountMax;
  server.maxConnections = limits.connectionsMax;
  server.on("clientError", answerClientError);
  return server;
}

/** The socket of a connection Node failed to read a request from, with its in-flight answer. */
interface ClientSocket extends Duplex {
  /** Node's: the response being written on this connection, if any (`_httpMessage`). */
  readonly _httpMessage?: { readonly headersSent?: boolean } | null;
}

/**
 * The `clientError` listener: answers the error as a problem, with the status Node itself would
 * have used (408 for a headers or request timeout, 431 for headers over the limit, 413 for chunk
 * extensions over Node's limit, 400 for anything it could not parse), then destroys the socket.
 * Like Node's own answer it writes only while the socket is writable and no response has begun
 * on it: bytes after a started answer would corrupt it for the client.
 */
function answerClientError(error: NodeJS.ErrnoException, socket: ClientSocket): void {
  if (socket.writable && socket._httpMessage?.headersSent !== true) {
    socket.write(rawProblemResponse(clientErrorProblem(error.code)));
  }
  socket.destroy();
}

function clientErrorProblem(code: string | undefined): HttpProblem {
  switch (code) {
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return new HttpProblem("requestTimeout", "The request did not arrive in time");
    case "HPE_HEADER_OVERFLOW":
      return new HttpProblem("headersTooLarge", "The request line and headers are larger than the limit");
    case "HPE_CHUNK_EXTENSIONS_OVERFLOW":
      return new HttpProblem("payloadTooLarge", "The chunk extensions are larger than the limit");
    default:
      return new HttpProblem("badRequest", "The request is not valid HTTP/1.1");
  }
}

/**
 * A complete HTTP/1.1 answer carrying `problem`, with the headers every problem of the gateway
 * carries, and `Connection: close`: the connection is unusable once a request failed to parse.
 */
function rawProblemResponse(problem: HttpProblem): string {
  const body = problemBody(problem);
  return [
    `HTTP/1.1 ${problem.status} ${STATUS_CODES[problem.status] ?? ""}`,
    `Content-Type: ${PROBLEM_CONTENT_TYPE}`,
    `Content-Length: ${Buffer.byteLength(body)}`,
    "Cache-Control: no-store",
    "X-Content-Type-Options: nosniff",
    "Connection: close",
    "",
    body,
  ].join("\r\n");
}
