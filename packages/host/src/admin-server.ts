import { exposition } from "@paxos/telemetry";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import express, { type ErrorRequestHandler, type RequestHandler, type Response } from "express";
import type { Registry } from "prom-client";
import type { Logger } from "./logger.ts";

/** What a role reports to `/readyz`: ready or not, and why, for people reading the answer. */
export interface Readiness {
  readonly ready: boolean;
  readonly detail: Readonly<Record<string, unknown>>;
}

/** How the admin server is set up. */
export interface AdminServerOptions {
  /** TCP port; 0 picks a free one (see `AdminServer.port`). */
  readonly port: number;
  /** Interface to bind, e.g. "0.0.0.0" in a container, "127.0.0.1" on a shared machine. */
  readonly host: string;
  readonly registry: Registry;
  /** Called on every `/readyz`; must be cheap and must not throw. */
  readonly readiness: () => Readiness;
  /** True while the bus is connected; not ready while it is not. Always connected when absent. */
  readonly connected?: () => boolean;
  readonly logger: Logger;
  /** Overrides of `DEFAULT_ADMIN_SERVER_LIMITS` (tests shorten the timeouts). */
  readonly limits?: Partial<AdminServerLimits>;
}

/**
 * The Node HTTP server limits of an admin server, against slow clients on the admin port. Its
 * clients are probes and Prometheus: a few small GETs without a body, answered at once.
 * The headers and request timeouts cover only receiving a request (Node's http docs), the
 * keep-alive timeout only the idle time after an answer.
 */
export interface AdminServerLimits {
  /** Time a client has to send the request headers; then 408 and close. One round trip is enough. */
  readonly headersTimeoutMs: number;
  /** Time a client has to send the whole request; the admin routes take no body. */
  readonly requestTimeoutMs: number;
  /**
   * Idle time a keep-alive connection is kept after its answer: long enough for a probe's next
   * request to reuse it, short enough that idle connections do not pile up.
   */
  readonly keepAliveTimeoutMs: number;
  /** How often Node checks the two timeouts above (its 30 s default would let them overrun). */
  readonly timeoutsCheckIntervalMs: number;
  /** Header lines kept per request (Node's default is 2,000); probes and scrapers send a few. */
  readonly headersCountMax: number;
  /** Open connections: kubelet probes and one or two scrapers need a handful; Node closes more. */
  readonly connectionsMax: number;
}

/** What admin servers run with. */
export const DEFAULT_ADMIN_SERVER_LIMITS: AdminServerLimits = Object.freeze({
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  timeoutsCheckIntervalMs: 1_000,
  headersCountMax: 100,
  connectionsMax: 100,
});

/** A running admin server. */
export interface AdminServer {
  /** The port it listens on (the chosen one when started with port 0). */
  readonly port: number;
  /** Stops accepting connections and closes open ones. */
  close(): Promise<void>;
}

/**
 * Starts the admin HTTP server of a role process: `/healthz` (200 while the process runs),
 * `/readyz` (200 when `readiness()` says ready and the bus is connected, else 503; JSON detail
 * either way) and `/metrics` (the Prometheus text of `registry`). Any other path is a 404, another
 * method a 405 with `Allow`, both `application/problem+json` as the gateway answers them. Resolves
 * once it listens.
 */
export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const limits = { ...DEFAULT_ADMIN_SERVER_LIMITS, ...options.limits };
  const app = express();
  app.disable("x-powered-by");
  app.use((_req, res, next) => {
    res.setHeader("X-Content-Type-Options", "nosniff");
    next();
  });
  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  app.get("/readyz", (_req, res) => {
    const readiness = options.readiness();
    const connected = options.connected?.() ?? true;
    const ready = readiness.ready && connected;
    res.status(ready ? 200 : 503).json({ ready, busConnected: connected, ...readiness.detail });
  });
  app.get("/metrics", async (req, res) => {
    try {
      const { contentType, body } = await exposition(options.registry, req.get("accept"));
      res.type(contentType).send(body);
    } catch (error) {
      options.logger.error({ err: error }, "metrics collection failed");
      res.status(500).type("text/plain").send("metrics collection failed\n");
    }
  });
  app.all(["/healthz", "/readyz", "/metrics"], methodNotAllowed);
  app.use(routeNotFound);
  app.use(problemHandler(options.logger));

  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      connectionsCheckingInterval: limits.timeoutsCheckIntervalMs,
    },
    app,
  );
  server.maxHeadersCount = limits.headersCountMax;
  server.maxConnections = limits.connectionsMax;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  options.logger.info({ port, host: options.host }, "admin server listening (/healthz /readyz /metrics)");
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/*
 * Problem answers (RFC 9457) of the admin port, in the gateway's vocabulary (same `type` URIs and
 * titles), written here because host must not depend on the gateway app.
 */

/** Answers `res` with a problem; the caller has not sent headers. */
function sendProblem(
  res: Response,
  problem: { code: string; status: number; title: string; detail: string; headers?: Record<string, string> },
): void {
  for (const [name, value] of Object.entries(problem.headers ?? {})) res.setHeader(name, value);
  res.status(problem.status);
  res.setHeader("Content-Type", "application/problem+json; charset=utf-8");
  res.setHeader("Cache-Control", "no-store");
  const { code, status, title, detail } = problem;
  res.send(JSON.stringify({ type: `urn:paxos:problem:${code}`, title, status, detail }));
}

/** Every admin route answers GET (and HEAD, which express serves with it) only. */
const methodNotAllowed: RequestHandler = (req, res) => {
  sendProblem(res, {
    code: "methodNotAllowed",
    status: 405,
    title: "Method not allowed",
    detail: `${req.method} is not allowed here; use GET`,
    headers: { Allow: "GET" },
  });
};

const routeNotFound: RequestHandler = (req, res) => {
  sendProblem(res, { code: "routeNotFound", status: 404, title: "Not found", detail: `No resource at ${req.path}` });
};

/** Anything a route throws is a bug: logged, answered 500 without its stack. */
function problemHandler(logger: Logger): ErrorRequestHandler {
  // Express recognises an error handler by its four parameters, so `_next` must stay.
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  return (error: unknown, req, res, _next) => {
    logger.error({ err: error, method: req.method, path: req.path }, "admin request failed");
    if (res.headersSent) {
      res.end();
      return;
    }
    sendProblem(res, {
      code: "internal",
      status: 500,
      title: "Internal error",
      detail: "An unexpected error occurred",
    });
  };
}
