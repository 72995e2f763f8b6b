// Trace headers: a valid W3C traceparent (and tracestate) goes in and comes out unchanged; invalid
// ones are never propagated, as the Trace Context specification asks.
import { describe, expect, it } from "vitest";
import { getTraceContext, isValidTraceparent, traceHeaders, withTraceContext } from "./trace.ts";

const TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

describe("trace headers", () => {
  it("puts and gets a trace context", () => {
    const headers = withTraceContext({ other: "x" }, { traceparent: TRACEPARENT, tracestate: "vendor=abc" });
    expect(headers).toEqual({ other: "x", traceparent: TRACEPARENT, tracestate: "vendor=abc" });
    expect(getTraceContext(headers)).toEqual({ traceparent: TRACEPARENT, tracestate: "vendor=abc" });
    expect(getTraceContext({ Traceparent: TRACEPARENT })).toEqual({ traceparent: TRACEPARENT });
    expect(traceHeaders({ ...headers, evil: "y" })).toEqual({ traceparent: TRACEPARENT, tracestate: "vendor=abc" });
  });

  it("refuses invalid traceparents", () => {
    for (const bad of [
      "",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
      "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
      "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
      `${TRACEPARENT}-extra`,
    ]) {
      expect(isValidTraceparent(bad), bad).toBe(false);
      expect(getTraceContext({ traceparent: bad })).toBeNull();
      expect(withTraceContext({ traceparent: TRACEPARENT }, { traceparent: bad })).toEqual({});
    }
    expect(isValidTraceparent(`01-${TRACEPARENT.slice(3)}-later`)).toBe(true);
  });

  it("drops a tracestate that is too long or not printable", () => {
    expect(getTraceContext({ traceparent: TRACEPARENT, tracestate: "a=".padEnd(513, "b") })).toEqual({
      traceparent: TRACEPARENT,
    });
    expect(getTraceContext({ traceparent: TRACEPARENT, tracestate: "a=\n" })).toEqual({ traceparent: TRACEPARENT });
  });
});
