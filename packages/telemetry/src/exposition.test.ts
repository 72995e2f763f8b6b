// The metrics exposition: text for curl and promtool, OpenMetrics with exemplars for a Prometheus
// that asks for it, from one registry, with no format leaking into the other.
import { Counter, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { exemplarHistogram, exposition, observeTraced } from "./exposition.ts";

const OPENMETRICS = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5";
const TRACE_ID = "0af7651916cd43dd8448eb211c80319c";

function registryWithMetrics(): Registry {
  const registry = new Registry();
  new Counter({ name: "paxos_things_total", help: "Things.", registers: [registry] }).inc(3);
  const histogram = exemplarHistogram(registry, { name: "paxos_wait_seconds", help: "Waits.", buckets: [0.1, 1] });
  observeTraced(histogram, 0.05, {}, TRACE_ID);
  observeTraced(histogram, 0.5, {}, null);
  return registry;
}

describe("exposition", () => {
  it("serves the text format unless OpenMetrics is asked for, without exemplars", async () => {
    const { contentType, body } = await exposition(registryWithMetrics(), "text/plain");
    expect(contentType).toContain("text/plain");
    expect(body).toContain("# TYPE paxos_things_total counter\npaxos_things_total 3\n");
    expect(body).toContain('paxos_wait_seconds_bucket{le="0.1"} 1\n');
    expect(body).not.toContain("trace_id");
  });

  it("serves OpenMetrics with the trace id as the exemplar of its bucket", async () => {
    const { contentType, body } = await exposition(registryWithMetrics(), OPENMETRICS);
    expect(contentType).toContain("application/openmetrics-text");
    expect(body).toMatch(
      new RegExp(`paxos_wait_seconds_bucket\\{le="0.1"\\} 1 # \\{trace_id="${TRACE_ID}"\\} 0.05 \\d`),
    );
    expect(body).toMatch(/paxos_wait_seconds_bucket\{le="1"\} 2\n/); // untraced: no exemplar
    expect(body).toContain("# TYPE paxos_things counter\npaxos_things_total 3\n");
    expect(body.endsWith("# EOF\n")).toBe(true);
  });

  it("leaves the counters' names alone after an OpenMetrics scrape (prom-client renames them)", async () => {
    const registry = registryWithMetrics();
    await exposition(registry, OPENMETRICS);
    await exposition(registry, OPENMETRICS);
    const { body } = await exposition(registry, undefined);
    expect(body).toContain("# TYPE paxos_things_total counter\npaxos_things_total 3\n");
  });
});
