import type * as dashboard from "@grafana/grafana-foundation-sdk/dashboard";
import { paxosDashboard } from "./paxos-dashboard.ts";

/** One PromQL query of a dashboard panel. */
export interface DashboardQuery {
  /** The panel's title. */
  readonly panel: string;
  /** The query's refId within the panel (A, B, …). */
  readonly refId: string;
  /** The PromQL, with Grafana's variables (`$__rate_interval`, `$__range`) still in it. */
  readonly expr: string;
}

/**
 * Every Prometheus query of `model`, in panel order, read from the built JSON model itself (also
 * from collapsed rows), so the list cannot drift from what Grafana runs. Throws on a panel
 * target that carries no PromQL: this dashboard has no other kind of query.
 */
export function dashboardQueries(model: dashboard.Dashboard): DashboardQuery[] {
  const queries: DashboardQuery[] = [];
  const visit = (panel: dashboard.Panel | dashboard.RowPanel): void => {
    if (panel.type === "row") {
      for (const inner of (panel as dashboard.RowPanel).panels) visit(inner);
      return;
    }
    const title = (panel as dashboard.Panel).title ?? "";
    for (const target of (panel as dashboard.Panel).targets ?? []) {
      const { expr, refId } = target as { expr?: unknown; refId?: unknown };
      if (typeof expr !== "string" || typeof refId !== "string") {
        throw new Error(`panel ${JSON.stringify(title)}: a target without PromQL or refId`);
      }
      queries.push({ panel: title, refId, expr });
    }
  };
  for (const panel of model.panels ?? []) visit(panel);
  return queries;
}

/** Every PromQL query of `paxosDashboard`, in panel order. */
export const PAXOS_DASHBOARD_QUERIES: readonly DashboardQuery[] = Object.freeze(dashboardQueries(paxosDashboard));
