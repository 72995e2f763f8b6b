import { createServer, type Server } from "node:http";
import type { Express } from "express";
import type { GatewayLimits } from "./gateway-limits.ts";

/*
 * The gateway's Node HTTP server, with explicit limits against slow and greedy clients instead of
 * Node's defaults (60 s for headers, 300 s for a request, checked only every 30 s).
 *
 * What each timeout covers (Node's http docs, `server.headersTimeout`, `server.requestTimeout`,
 * `server.keepAliveTimeout`): the headers and request timeouts run only while a request is being
 * *received*; once its last byte is in, they stop for that request. They never cut a response,
 * however long: an open `GET /v1/log/stream`, or a POST waiting for its value to be decided. The
 * keep-alive timeout runs only once the last response has been written, so it cannot cut a stream
 * either. The socket inactivity timeout (`server.timeout`) stays 0: a POST waiting for a decision
 * sends nothing for up to `proposalTimeoutMs`, and must not be cut for being quiet.
 */

/** The Node HTTP server limits of the gateway. Names carry their unit last. */
export interface GatewayServerLimits {
  /**
   * Time a client has to send the complete request headers; then Node answers 408 and closes.
   * An honest client sends them in one round trip: 10 s covers a bad mobile link, and bounds how
   * long a slowloris client holds a connection without sending a request.
   */
  readonly headersTimeoutMs: number;
  /**
   * Time a client has to send the complete request, headers and body; then 408 and close. Derived
   * as `proposalTimeoutMs` plus `REQUEST_TIMEOUT_MARGIN_MS` (at least `headersTimeoutMs`): a body of `requestBytesMax` must fit
   * at a slow upload rate, and a POST should never be cut sooner than it may run. (It does not
   * cover the answer: the body is read before the proposal starts.) Node refuses one smaller than
   * `headersTimeoutMs`.
   */
  readonly requestTimeoutMs: number;
  /**
   * How long an idle keep-alive connection stays open after its last answer (announced in the
   * `Keep-Alive` header; Node closes the socket its `keepAliveTimeoutBuffer`, 1 s, later, so that
   * a client never reuses a socket as it closes). Long enough for a client's burst of requests to
   * reuse one connection, short enough that idle connections do not pile up. Behind a proxy with a longer idle timeout, raise it above the proxy's (else the proxy
   * may reuse a connection the gateway is closing).
   */
  readonly keepAliveTimeoutMs: number;
  /**
   * How often Node checks the headers and request timeouts. Node's 30 s default would let a slow
   * client overstay `headersTimeoutMs` by up to 30 s; one pass over the open connections a second
   * is cheap at `connectionsMax`.
   */
  readonly timeoutsCheckIntervalMs: number;
  /**
   * Header lines kept per request (Node drops the rest; its default is 2,000). The gateway reads
   * half a dozen; 100 leaves room for proxies and tracing. Their bytes are bounded separately by
   * `headerBytesMax`.
   */
  readonly headersCountMax: number;
  /** Bytes of the request line and headers together; more is answered 431. Node's default, named. */
  readonly headerBytesMax: number;
  /**
   * Open connections; Node closes any beyond it at once. Derived as every proposal and stream the
   * gateway admits (`inflightProposalsMax` + `streamsMax`) plus `OTHER_CONNECTIONS_MAX` for reads,
   * probes, scrapes and idle keep-alive connections, so that the gateway's own 503s are reached
   * before connections are dropped.
   */
  readonly connectionsMax: number;
}

/** Added to `proposalTimeoutMs` for `requestTimeoutMs`. */
const REQUEST_TIMEOUT_MARGIN_MS = 5_000;
/** Connections beyond admitted proposals and streams (see `connectionsMax`). */
const OTHER_CONNECTIONS_MAX = 1_000;

/**
 * The server limits for a gateway running with `limits`, with `overrides` (tests shorten the
 * timeouts) over the defaults. The result is frozen.
 */
export function gatewayServerLimits(
  limits: Pick<GatewayLimits, "proposalTimeoutMs" | "inflightProposalsMax" | "streamsMax">,
  overrides: Partial<GatewayServerLimits> = {},
): GatewayServerLimits {
  const headersTimeoutMs = overrides.headersTimeoutMs ?? 10_000;
  return Object.freeze({
    headersTimeoutMs,
    requestTimeoutMs: Math.max(headersTimeoutMs, limits.proposalTimeoutMs + REQUEST_TIMEOUT_MARGIN_MS),
    keepAliveTimeoutMs: 5_000,
    timeoutsCheckIntervalMs: 1_000,
    headersCountMax: 100,
    headerBytesMax: 16_384,
    connectionsMax: limits.inflightProposalsMax + limits.streamsMax + OTHER_CONNECTIONS_MAX,
    ...overrides,
  });
}

/**
 * Creates (does not start) a Node HTTP server for `app` with `limits`. Throws when
 * `headersTimeoutMs` exceeds `requestTimeoutMs`.
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
  return server;
}
