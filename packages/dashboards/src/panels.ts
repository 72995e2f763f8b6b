// The few panel shapes the dashboard uses, on the Grafana Foundation SDK's builders: a time
// series, a stat and a state timeline, each on the provisioned Prometheus datasource, so the
// dashboard reads as a list of questions and queries rather than builder calls.
import * as common from "@grafana/grafana-foundation-sdk/common";
import * as dashboard from "@grafana/grafana-foundation-sdk/dashboard";
import * as prometheus from "@grafana/grafana-foundation-sdk/prometheus";
import * as stat from "@grafana/grafana-foundation-sdk/stat";
import * as statetimeline from "@grafana/grafana-foundation-sdk/statetimeline";
import * as timeseries from "@grafana/grafana-foundation-sdk/timeseries";

/** The uid of the Prometheus datasource the provisioning file creates and every panel uses. */
export const PROMETHEUS_DATASOURCE_UID = "paxos-prometheus";

const DATASOURCE = { type: "prometheus", uid: PROMETHEUS_DATASOURCE_UID };

/** Grafana's rate window: at least four scrape intervals, so rate() always has two samples. */
export const RATE_WINDOW = "$__rate_interval";
/** The dashboard's whole time range, for "how many in the range" questions. */
export const RANGE_WINDOW = "$__range";

/** One PromQL query of a panel and the legend of the series it returns. */
export interface PanelQuery {
  readonly expr: string;
  /** Grafana legend template, such as `{{instance}}`. */
  readonly legend: string;
  /** Also fetch exemplars (a latency histogram's trace ids), shown as points that lead to the trace. */
  readonly exemplar?: boolean;
}

/** What every panel has: a title, a sentence on what it answers, its unit and its queries. */
export interface PanelSpec {
  readonly title: string;
  readonly description: string;
  /** A Grafana unit id: `s`, `reqps`, `short`, `bytes`, `none`. */
  readonly unit: string;
  readonly queries: readonly PanelQuery[];
  /** Grid width out of 24. */
  readonly width: number;
  /** Grid height in rows of 30 px. */
  readonly height: number;
}

/** A value mapping for 0/1 gauges: what 0 and 1 mean, in red and green. */
export interface BooleanMeaning {
  readonly zero: string;
  readonly one: string;
}

function targets(queries: readonly PanelQuery[], instant: boolean): prometheus.DataqueryBuilder[] {
  return queries.map((query, i) => {
    const target = new prometheus.DataqueryBuilder()
      .datasource(DATASOURCE)
      .refId(String.fromCharCode(65 + i))
      .expr(query.expr)
      .legendFormat(query.legend);
    if (query.exemplar === true) target.exemplar(true);
    return instant ? target.instant() : target.range();
  });
}

function gridPos(spec: PanelSpec): dashboard.GridPos {
  // x = y = 0 lets the dashboard builder place the panel after the previous one.
  return { x: 0, y: 0, w: spec.width, h: spec.height };
}

function booleanMappings(meaning: BooleanMeaning): dashboard.ValueMapping[] {
  return [
    {
      type: dashboard.MappingType.ValueToText,
      options: {
        "0": { text: meaning.zero, color: "red", index: 0 },
        "1": { text: meaning.one, color: "green", index: 1 },
      },
    },
  ];
}

function thresholds(steps: dashboard.Threshold[]): dashboard.ThresholdsConfigBuilder {
  return new dashboard.ThresholdsConfigBuilder().mode(dashboard.ThresholdsMode.Absolute).steps(steps);
}

/** A time series of every query, legend as a list below, tooltip over all series. */
export function timeSeriesPanel(spec: PanelSpec): timeseries.PanelBuilder {
  return new timeseries.PanelBuilder()
    .title(spec.title)
    .description(spec.description)
    .datasource(DATASOURCE)
    .unit(spec.unit)
    .gridPos(gridPos(spec))
    .targets(targets(spec.queries, false))
    .lineWidth(1)
    .fillOpacity(10)
    .showPoints(common.VisibilityMode.Never)
    .spanNulls(false)
    .legend(
      new common.VizLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(common.LegendDisplayMode.List)
        .placement(common.LegendPlacement.Bottom),
    )
    .tooltip(
      new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.Descending),
    );
}

/**
 * A stat of each series' last value, by name. `boolean` turns a 0/1 gauge into words in red and
 * green; `steps` colours other values (absolute thresholds, the first step's value null).
 */
export function statPanel(
  spec: PanelSpec,
  colours: { readonly boolean: BooleanMeaning } | { readonly steps: dashboard.Threshold[] },
): stat.PanelBuilder {
  const panel = new stat.PanelBuilder()
    .title(spec.title)
    .description(spec.description)
    .datasource(DATASOURCE)
    .unit(spec.unit)
    .gridPos(gridPos(spec))
    .targets(targets(spec.queries, true))
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(["lastNotNull"]).values(false))
    .graphMode(common.BigValueGraphMode.None)
    .colorMode(common.BigValueColorMode.Background)
    .textMode(common.BigValueTextMode.Auto)
    .noValue("no data");
  if ("boolean" in colours) {
    return panel.mappings(booleanMappings(colours.boolean)).thresholds(
      thresholds([
        { value: null, color: "red" },
        { value: 1, color: "green" },
      ]),
    );
  }
  return panel.thresholds(thresholds(colours.steps));
}

/** A state timeline of 0/1 gauges, one lane per series: who was what, and since when. */
export function stateTimelinePanel(spec: PanelSpec, meaning: BooleanMeaning): statetimeline.PanelBuilder {
  return new statetimeline.PanelBuilder()
    .title(spec.title)
    .description(spec.description)
    .datasource(DATASOURCE)
    .unit(spec.unit)
    .gridPos(gridPos(spec))
    .targets(targets(spec.queries, false))
    .mappings(booleanMappings(meaning))
    .thresholds(
      thresholds([
        { value: null, color: "red" },
        { value: 1, color: "green" },
      ]),
    )
    .showValue(common.VisibilityMode.Auto)
    .mergeValues(true)
    .legend(new common.VizLegendOptionsBuilder().showLegend(false));
}

/** A row heading: the panels added after it, up to the next row, belong to it. */
export function row(title: string): dashboard.RowBuilder {
  return new dashboard.RowBuilder(title).collapsed(false);
}
