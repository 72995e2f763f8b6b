import { cellSpread, METRICS, type SystemName, valueLabel, type VersusResults } from "./versus-results.ts";

/*
 * latest.svg: latency against throughput, hand-written SVG (no dependency). Throughput on a
 * linear x axis, latency on a logarithmic y axis; per system and value size one line through its
 * closed-loop cells (1, 16, 64, 256 clients: more clients, more throughput and latency) for the
 * p50 (solid) and one for the p99 (dashed). Pure.
 */

/** One closed-loop cell of a series: the medians over the rounds. */
export interface ChartPoint {
  readonly writesPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Shown next to the point, e.g. "64". */
  readonly label: string;
}

/** One system at one value size. */
export interface ChartSeries {
  readonly system: string;
  readonly valueBytes: number;
  readonly points: readonly ChartPoint[];
}

/** The chart's series from a run's closed-loop cells (medians over rounds with a result). */
export function chartSeries(results: VersusResults): ChartSeries[] {
  const sizes = [...new Set(results.cells.map((c) => c.valueBytes))].sort((a, b) => a - b);
  const series: ChartSeries[] = [];
  for (const system of results.systems) {
    for (const valueBytes of sizes) {
      const points: ChartPoint[] = [];
      for (const cell of results.cells) {
        if (cell.kind !== "closed" || cell.valueBytes !== valueBytes) continue;
        const rate = cellSpread(results, system, cell, METRICS.writesPerSecond)?.median;
        const p50 = cellSpread(results, system, cell, METRICS.p50)?.median;
        const p99 = cellSpread(results, system, cell, METRICS.p99)?.median;
        if (rate === undefined || p50 === undefined || p99 === undefined) continue;
        points.push({ writesPerSecond: rate, p50Ms: p50, p99Ms: p99, label: String(cell.clients) });
      }
      if (points.length > 0) series.push({ system, valueBytes, points });
    }
  }
  return series;
}

const COLOURS: Readonly<Record<SystemName, string>> = {
  etcd: "#1f77b4",
  paxos: "#d62728",
  "paxos-nats": "#2ca02c",
  "paxos-embedded": "#9467bd",
};
const SPARE_COLOURS = ["#ff7f0e", "#8c564b", "#e377c2", "#17becf"];

const WIDTH = 980;
const HEIGHT = 600;
const MARGIN = { left: 80, right: 290, top: 56, bottom: 64 } as const;

/** Escapes text for an SVG text node or attribute. */
function xml(text: string): string {
  return text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&apos;");
}

const num = (n: number): string => (Math.round(n * 10) / 10).toString();

/** A round upper end for a linear axis from 0 to `max`, and its tick step. */
function linearTicks(max: number): { readonly top: number; readonly step: number } {
  if (!(max > 0)) return { top: 1, step: 0.2 };
  const rough = max / 5;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * magnitude).find((s) => s >= rough) ?? 10 * magnitude;
  return { top: Math.ceil((max * 1.05) / step) * step, step };
}

/** The latency-against-throughput chart of `series`, as a whole SVG document. */
export function latencyChartSvg(series: readonly ChartSeries[], title: string): string {
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const all = series.flatMap((s) => s.points);
  const latencies = all.flatMap((p) => [p.p50Ms, p.p99Ms]).filter((ms) => ms > 0 && Number.isFinite(ms));
  const x = linearTicks(Math.max(0, ...all.map((p) => p.writesPerSecond)));
  let lowDecade = latencies.length === 0 ? -1 : Math.floor(Math.log10(Math.min(...latencies)));
  let highDecade = latencies.length === 0 ? 3 : Math.ceil(Math.log10(Math.max(...latencies)));
  if (highDecade <= lowDecade) highDecade = lowDecade + 1;
  if (highDecade - lowDecade < 2) lowDecade = highDecade - 2;
  const xOf = (rate: number): number => MARGIN.left + (rate / x.top) * plotWidth;
  const yOf = (ms: number): number =>
    MARGIN.top +
    plotHeight -
    ((Math.log10(Math.max(ms, 10 ** lowDecade)) - lowDecade) / (highDecade - lowDecade)) * plotHeight;

  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<title>${xml(title)}</title>`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    `<text x="${MARGIN.left}" y="28" font-size="16" font-weight="bold">${xml(title)}</text>`,
  ];

  // Axes, grid and tick labels.
  out.push(`<g class="axes" stroke="#444" fill="none">`);
  out.push(
    `<line x1="${MARGIN.left}" y1="${MARGIN.top + plotHeight}" x2="${MARGIN.left + plotWidth}" y2="${MARGIN.top + plotHeight}"/>`,
    `<line x1="${MARGIN.left}" y1="${MARGIN.top}" x2="${MARGIN.left}" y2="${MARGIN.top + plotHeight}"/>`,
  );
  out.push(`</g>`);
  out.push(`<g class="grid" stroke="#ddd">`);
  for (let tick = 0; tick <= x.top + 1e-9; tick += x.step) {
    out.push(
      `<line x1="${num(xOf(tick))}" y1="${MARGIN.top}" x2="${num(xOf(tick))}" y2="${MARGIN.top + plotHeight}"/>`,
    );
  }
  const yTicks: number[] = [];
  for (let decade = lowDecade; decade <= highDecade; decade++) {
    for (const f of highDecade - lowDecade <= 3 ? [1, 2, 5] : [1]) {
      const ms = f * 10 ** decade;
      if (decade === highDecade && f > 1) continue;
      yTicks.push(ms);
      out.push(`<line x1="${MARGIN.left}" y1="${num(yOf(ms))}" x2="${MARGIN.left + plotWidth}" y2="${num(yOf(ms))}"/>`);
    }
  }
  out.push(`</g>`);
  out.push(`<g class="tick-labels" fill="#222">`);
  for (let tick = 0; tick <= x.top + 1e-9; tick += x.step) {
    out.push(
      `<text x="${num(xOf(tick))}" y="${MARGIN.top + plotHeight + 18}" text-anchor="middle">${xml(tick.toLocaleString("en-US", { maximumFractionDigits: 1 }))}</text>`,
    );
  }
  for (const ms of yTicks) {
    const text = ms >= 1 ? ms.toLocaleString("en-US") : ms.toPrecision(1);
    out.push(`<text x="${MARGIN.left - 8}" y="${num(yOf(ms) + 4)}" text-anchor="end">${xml(text)}</text>`);
  }
  out.push(`</g>`);
  out.push(
    `<text x="${MARGIN.left + plotWidth / 2}" y="${HEIGHT - 18}" text-anchor="middle" font-size="13">throughput (writes/s, closed loop)</text>`,
    `<text transform="translate(22 ${MARGIN.top + plotHeight / 2}) rotate(-90)" text-anchor="middle" font-size="13">latency (ms, log scale)</text>`,
  );

  // The series.
  const sizes = [...new Set(series.map((s) => s.valueBytes))].sort((a, b) => a - b);
  let spare = 0;
  const colourOf = new Map<string, string>();
  const colour = (system: string): string => {
    let c = colourOf.get(system);
    if (c === undefined) {
      c = COLOURS[system as SystemName] ?? SPARE_COLOURS[spare++ % SPARE_COLOURS.length] ?? "#000";
      colourOf.set(system, c);
    }
    return c;
  };
  const marker = (valueBytes: number, cx: number, cy: number, fill: string): string => {
    switch (sizes.indexOf(valueBytes) % 3) {
      case 0:
        return `<circle cx="${num(cx)}" cy="${num(cy)}" r="4" fill="${fill}"/>`;
      case 1:
        return `<rect x="${num(cx - 4)}" y="${num(cy - 4)}" width="8" height="8" fill="${fill}"/>`;
      default:
        return `<path d="M${num(cx)} ${num(cy - 5)}L${num(cx + 5)} ${num(cy + 4)}L${num(cx - 5)} ${num(cy + 4)}Z" fill="${fill}"/>`;
    }
  };
  for (const s of series) {
    const c = colour(s.system);
    const points = [...s.points].sort((a, b) => a.writesPerSecond - b.writesPerSecond);
    for (const percentile of ["p50", "p99"] as const) {
      const name = `${s.system} ${valueLabel(s.valueBytes)} ${percentile}`;
      const coords = points
        .map((p) => `${num(xOf(p.writesPerSecond))},${num(yOf(percentile === "p50" ? p.p50Ms : p.p99Ms))}`)
        .join(" ");
      out.push(
        `<g class="series" data-series="${xml(name)}">`,
        `<title>${xml(name)}</title>`,
        `<polyline points="${coords}" fill="none" stroke="${c}" stroke-width="2"${percentile === "p99" ? ' stroke-dasharray="6 4"' : ""}/>`,
        ...points.map((p) =>
          marker(s.valueBytes, xOf(p.writesPerSecond), yOf(percentile === "p50" ? p.p50Ms : p.p99Ms), c),
        ),
        ...(percentile === "p50"
          ? points.map(
              (p) =>
                `<text x="${num(xOf(p.writesPerSecond) + 6)}" y="${num(yOf(p.p50Ms) + 14)}" font-size="10" fill="${c}">${xml(p.label)}</text>`,
            )
          : []),
        `</g>`,
      );
    }
  }

  // The legend.
  const legendX = MARGIN.left + plotWidth + 24;
  let legendY = MARGIN.top + 8;
  out.push(`<g class="legend">`);
  for (const s of series) {
    const c = colour(s.system);
    out.push(
      `<line x1="${legendX}" y1="${legendY}" x2="${legendX + 28}" y2="${legendY}" stroke="${c}" stroke-width="2"/>`,
      marker(s.valueBytes, legendX + 14, legendY, c),
      `<text x="${legendX + 36}" y="${legendY + 4}">${xml(`${s.system}, ${valueLabel(s.valueBytes)}`)}</text>`,
    );
    legendY += 20;
  }
  legendY += 8;
  out.push(
    `<line x1="${legendX}" y1="${legendY}" x2="${legendX + 28}" y2="${legendY}" stroke="#444" stroke-width="2"/>`,
    `<text x="${legendX + 36}" y="${legendY + 4}">p50 (solid)</text>`,
  );
  legendY += 20;
  out.push(
    `<line x1="${legendX}" y1="${legendY}" x2="${legendX + 28}" y2="${legendY}" stroke="#444" stroke-width="2" stroke-dasharray="6 4"/>`,
    `<text x="${legendX + 36}" y="${legendY + 4}">p99 (dashed)</text>`,
  );
  legendY += 20;
  out.push(`<text x="${legendX}" y="${legendY + 4}" font-size="11" fill="#555">numbers at points: clients</text>`);
  out.push(`</g>`);
  if (series.length === 0) {
    out.push(
      `<text x="${MARGIN.left + plotWidth / 2}" y="${MARGIN.top + plotHeight / 2}" text-anchor="middle" fill="#888">no closed-loop results</text>`,
    );
  }
  out.push(`</svg>`, "");
  return out.join("\n");
}
