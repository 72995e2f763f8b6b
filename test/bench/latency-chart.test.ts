// latest.svg: one p50 and one p99 line per system and value size, both axes labelled, a legend,
// and text escaped; the series come from the closed-loop cells only (medians over the rounds).
import { describe, expect, it } from "vitest";
import { chartSeries, latencyChartSvg } from "../../bench/lib/latency-chart.ts";
import { fixture } from "./versus-fixture.ts";

describe("chartSeries", () => {
  it("has one series per system and value size, through the closed-loop cells", () => {
    const series = chartSeries(fixture());
    expect(series.map((s) => `${s.system} ${s.valueBytes}`)).toEqual(["etcd 100", "paxos 100"]);
    // etcd: medians of rounds 1 and 2; 1 then 64 clients.
    expect(series[0]?.points).toEqual([
      { writesPerSecond: 250, p50Ms: 3.5, p99Ms: 7, label: "1" },
      { writesPerSecond: 1100, p50Ms: 45, p99Ms: 90, label: "64" },
    ]);
  });
});

describe("latencyChartSvg", () => {
  const svg = latencyChartSvg(chartSeries(fixture()), "Latency <against> throughput");

  it("is one SVG document with axes labels and a legend", () => {
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
    expect(svg).toContain("throughput (writes/s, closed loop)");
    expect(svg).toContain("latency (ms, log scale)");
    expect(svg).toContain('<g class="legend">');
    expect(svg).toContain("p50 (solid)");
    expect(svg).toContain("p99 (dashed)");
  });

  it("draws a line for each series and percentile", () => {
    for (const name of ["etcd 100 B p50", "etcd 100 B p99", "paxos 100 B p50", "paxos 100 B p99"]) {
      expect(svg).toContain(`data-series="${name}"`);
    }
    expect(svg.match(/<polyline /g)).toHaveLength(4);
    expect(svg.match(/stroke-dasharray="6 4"\/>/g)?.length).toBeGreaterThanOrEqual(2);
  });

  it("puts decades on the latency axis (log scale)", () => {
    for (const tick of [">1<", ">10<", ">100<"]) expect(svg).toContain(tick);
  });

  it("escapes text", () => {
    expect(svg).toContain("Latency &lt;against&gt; throughput");
    expect(svg).not.toContain("<against>");
  });

  it("says so when there is nothing to draw", () => {
    expect(latencyChartSvg([], "empty")).toContain("no closed-loop results");
  });
});
