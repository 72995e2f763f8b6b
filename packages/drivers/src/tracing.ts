import {
  type Attributes,
  context,
  isSpanContextValid,
  type Link,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import type { Ballot } from "@paxos/core";

/*
 * The drivers' spans, through the OpenTelemetry API only. Until a host registers the SDK the API
 * is a no-op, so the simulator pays nothing and stays deterministic; spans only record what the
 * drivers do and never decide anything. Trace context travels as message headers (the
 * Transport's `context`), never as ambient state: a driver queues messages and writes later, so
 * each span's parent is the context of the message it works on.
 */

/** The trace headers of a message (a W3C traceparent and tracestate), possibly none. */
export type TraceHeaders = Readonly<Record<string, string>>;

const tracer = trace.getTracer("@paxos/drivers");

/**
 * Starts a span that continues the trace carried by `parent` (a message's headers), or null
 * when the message belongs to no trace: work nobody asked for (heartbeats, ticks) is not traced.
 */
export function childSpan(name: string, parent: TraceHeaders, attributes: Attributes): Span | null {
  if (Object.keys(parent).length === 0) return null;
  return tracer.startSpan(name, { attributes }, propagation.extract(ROOT_CONTEXT, parent));
}

/** Starts a span with `parent` as its parent when given (else a new trace), linked to `links`. */
export function startSpan(
  name: string,
  attributes: Attributes,
  options: { readonly parent?: Span | null; readonly links?: readonly Span[] } = {},
): Span {
  const links: Link[] = (options.links ?? []).map((span) => ({ context: span.spanContext() }));
  const parent = options.parent == null ? ROOT_CONTEXT : trace.setSpan(ROOT_CONTEXT, options.parent);
  return tracer.startSpan(name, { attributes, links, root: options.parent == null }, parent);
}

/**
 * The headers that continue `span`'s trace in the messages it sends; `fallback` when there is no
 * span, or when tracing is off in this process (the incoming context then passes through).
 */
export function headersOf(span: Span | null, fallback: TraceHeaders = {}): TraceHeaders {
  if (span === null || !isSpanContextValid(span.spanContext())) return fallback;
  const headers: Record<string, string> = {};
  propagation.inject(trace.setSpan(ROOT_CONTEXT, span), headers);
  return Object.keys(headers).length === 0 ? fallback : headers;
}

/**
 * Runs `fn` with `span` active, so that what `fn` starts (a store's client span) is its child;
 * with no span, under the root context: the callback that led here may run in the context of an
 * earlier, traced message, which this work must not join.
 */
export function withSpan<T>(span: Span | null, fn: () => T): T {
  return context.with(span === null ? ROOT_CONTEXT : trace.setSpan(ROOT_CONTEXT, span), fn);
}

/** Ends `span` as failed with `message`. */
export function endFailed(span: Span | null, message: string): void {
  span?.setStatus({ code: SpanStatusCode.ERROR, message });
  span?.end();
}

/** The trace id of `span` when it is sampled (an exemplar worth linking to), else null. */
export function sampledTraceId(span: Span | null): string | null {
  const spanContext = span?.spanContext();
  return spanContext !== undefined && (spanContext.traceFlags & 1) === 1 ? spanContext.traceId : null;
}

/** A ballot as span attributes. */
export function ballotAttributes(ballot: Ballot): Attributes {
  return { "paxos.ballot.round": ballot.round, "paxos.ballot.proposer": ballot.proposerId };
}
