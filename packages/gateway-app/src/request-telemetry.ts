import {
  context,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import { observeTraced, sampledTraceId } from "@paxos/telemetry";
import type { Request, RequestHandler, Response } from "express";
import type { GatewayMetrics } from "./gateway-metrics.ts";

const tracer = trace.getTracer("@paxos/gateway-app");

/** Probes and scrapes, every few seconds each: counted, never traced (they would bury the proposals). */
const UNTRACED_PATHS: ReadonlySet<string> = new Set(["/healthz", "/readyz", "/metrics"]);

/**
 * Traces and counts every HTTP request. A SERVER span (HTTP semantic conventions) continues the
 * client's `traceparent` when it sends one and is active while the request is handled, so the
 * NATS spans of its proposal are its children; the response carries the span's own `traceparent`,
 * whose trace id a user pastes into Jaeger. When the answer is sent the request is counted by
 * route pattern and status, its duration observed with the trace id as exemplar, and the span
 * named after the route (`POST /v1/proposals`) and ended, failed on a 5xx. Probes and scrapes are
 * counted but not traced.
 */
export function requestTelemetry(metrics: GatewayMetrics): RequestHandler {
  return (req: Request, res: Response, next) => {
    const startedAt = process.hrtime.bigint();
    const span = UNTRACED_PATHS.has(req.path) ? null : startServerSpan(req, res);
    res.once("close", () => {
      const routePath: unknown = (req.route as { path?: unknown } | undefined)?.path;
      const route = typeof routePath === "string" ? routePath : "unmatched";
      const status = res.statusCode;
      const labels = { route, status: String(status) };
      metrics.requests.inc(labels);
      const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
      observeTraced(metrics.requestDuration, seconds, labels, span === null ? null : sampledTraceId(span));
      if (span === null) return;
      span.updateName(`${req.method} ${route}`);
      span.setAttribute("http.route", route);
      span.setAttribute("http.response.status_code", status);
      if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: `HTTP ${status}` });
      if (!res.writableFinished) span.addEvent("connection closed before the answer was complete");
      span.end();
    });
    if (span === null) return next();
    context.with(trace.setSpan(context.active(), span), next);
  };
}

/** The request's SERVER span, continuing the client's traceparent; its own goes back in the answer. */
function startServerSpan(req: Request, res: Response): Span {
  const span = tracer.startSpan(
    req.method,
    {
      kind: SpanKind.SERVER,
      attributes: {
        "http.request.method": req.method,
        "url.path": req.path,
        "url.scheme": req.protocol,
        "network.peer.address": req.socket.remoteAddress ?? "",
        "user_agent.original": req.get("user-agent") ?? "",
      },
    },
    propagation.extract(ROOT_CONTEXT, req.headers),
  );
  const spanContext = span.spanContext();
  if (isSpanContextValid(spanContext)) {
    const flags = spanContext.traceFlags.toString(16).padStart(2, "0");
    res.setHeader("traceparent", `00-${spanContext.traceId}-${spanContext.spanId}-${flags}`);
  }
  return span;
}
