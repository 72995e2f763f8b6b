import { isSpanContextValid, type Span, trace, TraceFlags } from "@opentelemetry/api";
import {
  Histogram,
  type HistogramConfiguration,
  type Metric,
  type OpenMetricsContentType,
  Registry,
} from "prom-client";

/** A scrape's answer: the body and its Content-Type. */
export interface Exposition {
  readonly contentType: string;
  readonly body: string;
}

/**
 * The metrics of `registry` in the format the scraper asked for: OpenMetrics (with exemplars)
 * when its Accept header names `application/openmetrics-text`, as Prometheus does when exemplar
 * storage is on; the Prometheus text format otherwise (curl, promtool).
 *
 * prom-client serves one format per registry and, rendering OpenMetrics, renames each counter
 * for good (it strips `_total`, then writes it back in the output). So the process registry
 * stays in the text format and an OpenMetrics scrape renders through a registry of its own whose
 * counters are views of the real ones with a name of their own: the real counters keep theirs.
 */
export async function exposition(registry: Registry, accept: string | undefined): Promise<Exposition> {
  if (accept === undefined || !accept.includes("application/openmetrics-text")) {
    return { contentType: registry.contentType, body: await registry.metrics() };
  }
  const openMetrics = new Registry<OpenMetricsContentType>();
  openMetrics.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  // getMetricsAsArray is typed as plain objects but returns the metrics themselves.
  for (const metric of registry.getMetricsAsArray() as unknown as Metric[]) {
    const view: Metric = isCounter(metric)
      ? (Object.create(metric, {
          name: { value: (metric as unknown as { name: string }).name, writable: true },
        }) as Metric)
      : metric;
    openMetrics.registerMetric(view);
  }
  return { contentType: openMetrics.contentType, body: await openMetrics.metrics() };
}

/**
 * A histogram that keeps, per bucket, the trace id of its latest traced observation as an
 * exemplar (OpenMetrics only). Registered in `registry` by hand: prom-client refuses exemplars on
 * a text-format registry at construction, though it renders them through `exposition` fine.
 * Observe it with `observeTraced`.
 */
export function exemplarHistogram<T extends string>(
  registry: Registry,
  configuration: Omit<HistogramConfiguration<T>, "registers" | "enableExemplars">,
): Histogram<T> {
  const histogram = new Histogram<T>({ ...configuration, registers: [], enableExemplars: true });
  registry.registerMetric(histogram);
  return histogram;
}

/**
 * Observes `value` in an exemplar histogram; `traceId` (default: the active span's, when it is
 * sampled) becomes the bucket's exemplar, so a slow bucket in Grafana links to a trace in Jaeger.
 */
export function observeTraced<T extends string>(
  histogram: Histogram<T>,
  value: number,
  labels: Partial<Record<T, string | number>> = {},
  traceId: string | null = activeTraceId(),
): void {
  // The exemplar's label set is its own (trace_id), not the histogram's labels.
  const exemplarLabels = (traceId === null ? {} : { trace_id: traceId }) as Partial<Record<T, string>>;
  histogram.observe({ value, labels, exemplarLabels });
}

/** The trace id of the active span when it is sampled (and so will be exported), else null. */
export function activeTraceId(): string | null {
  return sampledTraceId(trace.getActiveSpan());
}

/** The trace id of `span` when it is valid and sampled (an exemplar worth linking to), else null. */
export function sampledTraceId(span: Span | undefined): string | null {
  const spanContext = span?.spanContext();
  return spanContext !== undefined &&
    isSpanContextValid(spanContext) &&
    (spanContext.traceFlags & TraceFlags.SAMPLED) !== 0
    ? spanContext.traceId
    : null;
}

function isCounter(metric: Metric): boolean {
  return (metric as { type?: unknown }).type === "counter";
}
