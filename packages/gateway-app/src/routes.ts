import { exposition } from "@paxos/telemetry";
import { randomUUID } from "node:crypto";
import express, { type RequestHandler, type Router } from "express";
import type { Registry } from "prom-client";
import type { AcceptorStatusBoard } from "./acceptor-view.ts";
import { clientOf } from "./authentication.ts";
import type { ClusterPort, LogEntryView } from "./cluster-port.ts";
import type { GatewayLimits } from "./gateway-limits.ts";
import type { GatewayMetrics } from "./gateway-metrics.ts";
import { methodNotAllowed } from "./http-errors.ts";
import { scopedRequestId } from "./idempotency-scope.ts";
import type { LeaderTracker } from "./leader-tracker.ts";
import { type LogStreamHandle, startLogStream } from "./log-stream.ts";
import { HttpProblem } from "./problem.ts";
import { type Proposal, type ProposalService, shownRequestId } from "./proposal-service.ts";
import {
  isJsonContentType,
  parseIdempotencyKey,
  parseIntegerParameter,
  parseProposalBody,
} from "./request-validation.ts";
import { strictJsonBody } from "./strict-json-body.ts";

/** What the routes run on; built once per app by `createGatewayApp`. */
export interface RouteContext {
  readonly cluster: ClusterPort;
  readonly proposals: ProposalService;
  readonly leaders: LeaderTracker;
  readonly acceptors: AcceptorStatusBoard;
  readonly limits: GatewayLimits;
  readonly metrics: GatewayMetrics;
  readonly registry: Registry;
  /** True while the bus is connected. */
  readonly connected: () => boolean;
  /** Aborts when the app closes: /readyz then says so (the proposal service stops its own waits). */
  readonly closing: AbortSignal;
  /** Open streams, so that closing the app ends them. */
  readonly streams: Set<LogStreamHandle>;
}

/** The REST API of DESIGN.md ("REST API (gateway)") and the probes, as one router. */
export function gatewayRouter(ctx: RouteContext): Router {
  const router = express.Router({ strict: false, caseSensitive: true });
  const { limits } = ctx;
  // The body object is one level around the value.
  const jsonBody = strictJsonBody({ bytesMax: limits.requestBytesMax, depthMax: limits.valueDepthMax + 1 });

  router
    .route("/v1/proposals")
    .post(requireJson, jsonBody, async (req, res) => {
      // Everything is validated before anything is sent: a refused request proposes nothing.
      const key = parseIdempotencyKey(req.get("Idempotency-Key"));
      const body = parseProposalBody(req.body, limits.valueDepthMax);
      const client = clientOf(req);
      // authenticate lets no POST through without a client (none of them is an open path).
      if (client === null) throw new Error("a POST reached its route without an authenticated client");
      const proposal: Proposal =
        key === undefined
          ? { requestId: randomUUID(), value: body.value, idempotencyKey: null }
          : { requestId: scopedRequestId(client.clientId, key), value: body.value, idempotencyKey: key };
      const gone = new AbortController();
      // Only a client that left before its answer aborts the wait: aborting after every answer
      // (with no reason, so a DOMException and its stack) was 3 % of the gateway's CPU.
      res.once("close", () => {
        if (!res.writableFinished) gone.abort(CLIENT_GONE);
      });
      const result = await ctx.proposals.submit(proposal, gone.signal);
      if (result.replayed) res.setHeader("Idempotent-Replayed", "true");
      res.setHeader("Location", `/v1/log/${result.entry.index}`);
      res.status(result.replayed ? 200 : 201).json({ ...entryBody(result.entry), requestId: shownRequestId(proposal) });
    })
    .all(methodNotAllowed(["POST"]));

  // Before /v1/log/:index, which would otherwise take "stream" as an index.
  router
    .route("/v1/log/stream")
    .get((req, res) => {
      const lastEventId = req.get("Last-Event-ID");
      const from =
        req.query["from"] !== undefined || lastEventId === undefined
          ? parseIntegerParameter("from", req.query["from"], { fallback: 0 })
          : parseIntegerParameter("Last-Event-ID", lastEventId, { fallback: 0 }) + 1;
      if (ctx.streams.size >= limits.streamsMax) throw unavailable(limits, "Too many open log streams");
      ctx.metrics.streams.inc();
      const handle = startLogStream({
        req,
        res,
        from,
        cluster: ctx.cluster,
        limits,
        onEnd: () => {
          ctx.metrics.streams.dec();
          ctx.streams.delete(handle);
        },
      });
      ctx.streams.add(handle);
    })
    .all(methodNotAllowed(["GET"]));

  router
    .route("/v1/log/:index")
    .get(async (req, res) => {
      const index = parseIntegerParameter("index", req.params["index"], { fallback: 0 });
      const read = await ctx.cluster.readEntry(index);
      if (read.answered === 0) throw unavailable(limits, "No learner answered");
      if (read.result === null) throw new HttpProblem("entryNotFound", `No value is decided at index ${index} yet`);
      res.json(entryBody(read.result));
    })
    .all(methodNotAllowed(["GET"]));

  router
    .route("/v1/log")
    .get(async (req, res) => {
      const from = parseIntegerParameter("from", req.query["from"], { fallback: 0 });
      const limit = parseIntegerParameter("limit", req.query["limit"], {
        fallback: limits.logPageLimitDefault,
        min: 1,
        max: limits.logPageLimitMax,
      });
      const read = await ctx.cluster.readRange(from, limit);
      if (read.answered === 0) throw unavailable(limits, "No learner answered");
      res.json({ entries: read.result.entries.map(entryBody), next: read.result.next });
    })
    .all(methodNotAllowed(["GET"]));

  router
    .route("/v1/cluster")
    .get(async (_req, res) => {
      const learners = await ctx.cluster.learnerStatuses();
      const leader = ctx.leaders.leader();
      const decided = Math.max(0, ...learners.map((learner) => learner.nextIndex));
      res.json({
        leader: leader === null ? null : { proposerId: leader.proposerId, ballot: leader.ballot },
        acceptors: ctx.acceptors.view(),
        learners,
        // The highest index any learner has delivered; null while nothing is (known to be) decided.
        lastDecidedIndex: decided === 0 ? null : decided - 1,
      });
    })
    .all(methodNotAllowed(["GET"]));

  router
    .route("/healthz")
    .get((_req, res) => {
      res.json({ status: "ok" });
    })
    .all(methodNotAllowed(["GET"]));

  router
    .route("/readyz")
    .get((_req, res) => {
      const connected = ctx.connected();
      const leader = ctx.leaders.leader();
      const ready = connected && leader !== null && !ctx.closing.aborted;
      res.status(ready ? 200 : 503);
      if (!ready) res.setHeader("Retry-After", String(limits.retryAfterSeconds));
      res.json({ ready, connected, leader: leader?.proposerId ?? null, closing: ctx.closing.aborted });
    })
    .all(methodNotAllowed(["GET"]));

  router
    .route("/metrics")
    .get(async (req, res) => {
      ctx.metrics.leaderKnown.set(ctx.leaders.leader() === null ? 0 : 1);
      const { contentType, body } = await exposition(ctx.registry, req.get("accept"));
      res.type(contentType).send(body);
    })
    .all(methodNotAllowed(["GET"]));

  return router;
}

/** 415 unless the request says it carries JSON; runs before the body is read. */
const requireJson: RequestHandler = (req, _res, next) => {
  if (!isJsonContentType(req.get("Content-Type"))) {
    next(new HttpProblem("unsupportedMediaType", "Send the proposal as application/json"));
    return;
  }
  next();
};

/** An entry as the API shows it; the slot is an internal detail. */
function entryBody(entry: LogEntryView): LogEntryView {
  return { index: entry.index, value: entry.value, requestId: entry.requestId };
}

function unavailable(limits: GatewayLimits, detail: string): HttpProblem {
  return new HttpProblem("unavailable", detail, { headers: { "Retry-After": String(limits.retryAfterSeconds) } });
}

/** Why a proposal's wait ends when its client went away: not an error, so no stack is captured. */
const CLIENT_GONE = Symbol("client gone");
