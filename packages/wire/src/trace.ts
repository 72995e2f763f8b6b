/*
 * W3C Trace Context (https://www.w3.org/TR/trace-context/) in message headers. The headers are a
 * plain record so that this package needs no OpenTelemetry dependency: telemetry adapters inject
 * and extract with these helpers, and the transports carry the record as NATS message headers.
 */

/** Header name of the W3C traceparent: `version-traceId-parentId-flags`. */
export const TRACEPARENT_HEADER = "traceparent";
/** Header name of the W3C tracestate: vendor key=value pairs. */
export const TRACESTATE_HEADER = "tracestate";

/** Longest tracestate we carry; the specification asks propagators to keep at least 512 chars. */
export const TRACESTATE_CHARS_MAX = 512;

/** The trace context of one message, as received or to be sent. */
export interface TraceContext {
  readonly traceparent: string;
  readonly tracestate?: string;
}

// Version 00's layout; later versions may append fields after a `-`, which we accept and keep.
const TRACEPARENT_PATTERN = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-[^\s]*)?$/;
// Printable ASCII without control characters, as the tracestate grammar allows.
const TRACESTATE_PATTERN = /^[\x20-\x7e]*$/;

/**
 * True when `value` is a traceparent we may propagate: the right shape, version not ff, trace and
 * parent ids not all zeros, and for version 00 nothing after the flags.
 */
export function isValidTraceparent(value: string): boolean {
  const match = TRACEPARENT_PATTERN.exec(value);
  if (match === null) return false;
  const [, version, traceId, parentId, , rest] = match;
  if (version === "ff") return false;
  if (version === "00" && rest !== undefined) return false;
  if (traceId === "0".repeat(32) || parentId === "0".repeat(16)) return false;
  return true;
}

/**
 * Returns a copy of `headers` with `context` set in it. An invalid traceparent is left out (and
 * its tracestate with it), since the specification says to restart the trace rather than forward
 * a broken one; a tracestate that is too long or not printable is left out alone.
 */
export function withTraceContext(
  headers: Readonly<Record<string, string>>,
  context: TraceContext,
): Record<string, string> {
  const out: Record<string, string> = { ...headers };
  delete out[TRACEPARENT_HEADER];
  delete out[TRACESTATE_HEADER];
  if (!isValidTraceparent(context.traceparent)) return out;
  out[TRACEPARENT_HEADER] = context.traceparent;
  if (context.tracestate !== undefined && isValidTracestate(context.tracestate)) {
    out[TRACESTATE_HEADER] = context.tracestate;
  }
  return out;
}

/**
 * The trace context carried in `headers`, or null when there is none or its traceparent is
 * invalid. Header names match case-insensitively, as HTTP and NATS peers may capitalise them.
 */
export function getTraceContext(headers: Readonly<Record<string, string>>): TraceContext | null {
  const traceparent = headerValue(headers, TRACEPARENT_HEADER);
  if (traceparent === undefined || !isValidTraceparent(traceparent)) return null;
  const tracestate = headerValue(headers, TRACESTATE_HEADER);
  if (tracestate !== undefined && isValidTracestate(tracestate)) return { traceparent, tracestate };
  return { traceparent };
}

/**
 * Only the trace headers of `headers`, valid ones only, under their lower-case names: what a
 * transport hands a role as its message context.
 */
export function traceHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  const context = getTraceContext(headers);
  return context === null ? {} : withTraceContext({}, context);
}

function isValidTracestate(value: string): boolean {
  return value.length <= TRACESTATE_CHARS_MAX && TRACESTATE_PATTERN.test(value);
}

function headerValue(headers: Readonly<Record<string, string>>, name: string): string | undefined {
  const exact = headers[name];
  if (exact !== undefined) return exact;
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name) return value;
  }
  return undefined;
}
