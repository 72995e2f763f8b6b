import { DEFAULT_LIMITS, type Limits } from "@paxos/core";
import type { Bus, Subjects } from "@paxos/wire";
import type { Server } from "node:http";
import express, { type Express, type RequestHandler } from "express";
import { pino, type Logger } from "pino";
import { Registry } from "prom-client";
import { AcceptorStatusBoard } from "./acceptor-view.ts";
import { authenticate, type GatewayAuth } from "./authentication.ts";
import { BusClusterClient } from "./bus-cluster-client.ts";
import { DeliveryWaiters } from "./delivery-waiters.ts";
import { type GatewayLimits, gatewayLimits, type GatewayServerLimits, gatewayServerLimits } from "./gateway-limits.ts";
import { GatewayMetrics } from "./gateway-metrics.ts";
import { problemHandler, routeNotFound } from "./http-errors.ts";
import { createLimitedServer } from "./http-server.ts";
import { LeaderTracker } from "./leader-tracker.ts";
import type { LogStreamHandle } from "./log-stream.ts";
import { ProposalService } from "./proposal-service.ts";
import { authFailureLimit, clientRateLimit } from "./rate-limit.ts";
import { requestTelemetry } from "./request-telemetry.ts";
import { gatewayRouter } from "./routes.ts";

/** What a gateway app needs. */
export interface GatewayAppOptions {
  readonly bus: Bus;
  readonly subjects: Subjects;
  /** The configured acceptors: statuses and messages from other ids are dropped. */
  readonly acceptorIds: readonly string[];
  /**
   * How clients authenticate (authentication.ts; `loadGatewayAuth` builds it from settings).
   * Absent, no token is accepted: every request but the probes and `/metrics` is refused 401.
   * The gateway is closed unless configured open: `{ mode: "none" }` is for development only.
   */
  readonly auth?: GatewayAuth;
  /**
   * Overrides of the gateway's bounds and timeouts (tests shorten them); what they leave out is
   * the default, or derived from them and from `protocolLimits` (see `gatewayLimits`).
   */
  readonly limits?: Partial<GatewayLimits>;
  /**
   * Overrides of the HTTP server's limits against slow clients (tests shorten them); what they
   * leave out is the default, or derived from `limits` (see `gatewayServerLimits`).
   */
  readonly serverLimits?: Partial<GatewayServerLimits>;
  /**
   * The protocol limits every process of the cluster runs with: for decoding, and the largest and
   * deepest proposal and the leader's staleness follow from them (DEFAULT_LIMITS when absent).
   */
  readonly protocolLimits?: Limits;
  /** Where the gateway's metrics go; a fresh registry when absent. */
  readonly registry?: Registry;
  /** True while the bus is connected, for `/readyz`; always true when absent. */
  readonly connected?: () => boolean;
  readonly logger?: Logger;
}

/** A gateway app: serve it with `listen` (or mount `app`); `close` when done. */
export interface GatewayApp {
  /**
   * The express app serving the REST API, `/healthz`, `/readyz` and `/metrics`. Serve it with
   * `listen`, which sets the server limits; mounting it elsewhere leaves them to the caller.
   */
  readonly app: Express;
  /** The server limits `listen` applies. */
  readonly serverLimits: GatewayServerLimits;
  /**
   * Starts a Node HTTP server for `app` with `serverLimits` on `port` (0 picks a free one) and
   * `host`; resolves once it listens, rejects when it cannot. The server is the caller's to close.
   */
  listen(port: number, host: string): Promise<Server>;
  /** The registry its metrics are in. */
  readonly registry: Registry;
  /**
   * Stops listening to the bus, ends open log streams and makes waiting proposals give up (their
   * clients get 504 or 503). The HTTP server and the bus belong to the caller: close the server
   * first, then this, then the bus.
   */
  close(): Promise<void>;
}

/**
 * Builds the REST gateway over `bus`: an express 5 app that forwards proposals to the leader,
 * waits for the learners to deliver them, and reads the log and the cluster's state from the
 * learners and the acceptors' statuses. It subscribes to proposer heartbeats, acceptor statuses
 * and learner deliveries at once; the caller then calls `listen`. Errors are problem+json.
 */
export function createGatewayApp(options: GatewayAppOptions): GatewayApp {
  const protocolLimits = options.protocolLimits ?? DEFAULT_LIMITS;
  const limits = gatewayLimits(options.limits, protocolLimits);
  const serverLimits = gatewayServerLimits(limits, options.serverLimits);
  const logger = options.logger ?? pino({ level: "silent" });
  const registry = options.registry ?? new Registry();
  const metrics = new GatewayMetrics(registry);
  const now = (): number => Date.now();
  const leaders = new LeaderTracker({ staleMs: limits.leaderStaleMs, now });
  const acceptors = new AcceptorStatusBoard({
    acceptorIds: options.acceptorIds,
    staleMs: limits.acceptorStatusStaleMs,
    now,
  });
  const cluster = new BusClusterClient({
    bus: options.bus,
    subjects: options.subjects,
    acceptorIds: options.acceptorIds,
    protocolLimits,
    learnerQueryWaitMs: limits.learnerQueryWaitMs,
    onHeartbeat: (ballot) => leaders.heartbeat(ballot),
    onAcceptorStatus: (status) => {
      if (!acceptors.record(status)) metrics.droppedMessages.inc({ reason: "unknownAcceptor" });
    },
    onDrop: (reason, subject, detail) => {
      metrics.droppedMessages.inc({ reason });
      logger.debug({ reason, subject, detail }, "dropped a bus message");
    },
  });
  const waiters = new DeliveryWaiters();
  const unsubscribeWaiters = cluster.onDelivery((event) => waiters.dispatch(event));
  const proposals = new ProposalService({ cluster, waiters, leaders, limits, metrics, logger });
  const closing = new AbortController();
  const streams = new Set<LogStreamHandle>();

  const auth = options.auth ?? NO_CLIENTS;
  if (auth.mode === "none") {
    logger.warn(
      "AUTHENTICATION IS OFF (PAXOS_AUTH=none): anyone who reaches this gateway may propose; development only",
    );
  }

  const app = express();
  app.disable("x-powered-by");
  // No ETag: express would hash every answer for it, POSTs included, and no client asks for one.
  app.set("etag", false);
  app.set("query parser", "simple");
  app.use(securityHeaders);
  app.use(requestTelemetry(metrics));
  // An address that keeps sending refused credentials is held back before its tokens are checked.
  app.use(authFailureLimit(auth, limits, logger));
  // Authenticated before the limit, which counts by client, and before any route reads a body.
  app.use(authenticate(auth));
  app.use(clientRateLimit(limits, logger));
  app.use(
    gatewayRouter({
      cluster,
      proposals,
      leaders,
      acceptors,
      limits,
      metrics,
      registry,
      connected: options.connected ?? (() => true),
      closing: closing.signal,
      streams,
    }),
  );
  app.use(routeNotFound);
  app.use(problemHandler(logger));

  return {
    app,
    registry,
    serverLimits,
    listen: (port, host) =>
      new Promise<Server>((resolve, reject) => {
        const server = createLimitedServer(app, serverLimits);
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          resolve(server);
        });
      }),
    close: async () => {
      if (closing.signal.aborted) return;
      closing.abort();
      proposals.close();
      await Promise.all([...streams].map((stream) => stream.end()));
      unsubscribeWaiters();
      cluster.close();
    },
  };
}

/** The authentication of an app given none: no token is valid. */
const NO_CLIENTS: GatewayAuth = {
  mode: "bearer",
  verifier: { verify: () => Promise.resolve({ valid: false, description: "This gateway accepts no tokens" }) },
  openPaths: ["/metrics"],
};

/**
 * Headers every answer carries, errors included (mounted first): `nosniff`, so that a browser
 * never runs an answer as another type than it says. Problems add `Cache-Control: no-store` where
 * they are sent (`sendProblem`), so that no cache keeps an error.
 */
const securityHeaders: RequestHandler = (_req, res, next) => {
  res.setHeader("X-Content-Type-Options", "nosniff");
  next();
};
