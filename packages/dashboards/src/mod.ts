/**
 * @paxos/dashboards: what an operator looks at the cluster through. The Grafana dashboard, built
 * with the Grafana Foundation SDK, and the PromQL queries it runs; the Grafana provisioning files
 * generated from it (`npm run dashboards` writes them under deploy/grafana/); and the Prometheus
 * scrape config, whose job names (one per role) the queries rely on.
 */
export { paxosDashboard, PAXOS_DASHBOARD_UID } from "./paxos-dashboard.ts";
export { PROMETHEUS_DATASOURCE_UID, RANGE_WINDOW, RATE_WINDOW } from "./panels.ts";
export { type DashboardQuery, dashboardQueries, PAXOS_DASHBOARD_QUERIES } from "./queries.ts";
export {
  COMPOSE_SCRAPE_TARGETS,
  composePrometheusYaml,
  dashboardJson,
  type GeneratedFile,
  generatedFiles,
  GRAFANA_DASHBOARDS_DIR,
  SCRAPE_INTERVAL_SECONDS,
} from "./generated-files.ts";
export {
  KUBERNETES_PROMETHEUS_CONFIG_PATH,
  KUBERNETES_SCRAPE_SERVICES,
  kubernetesPrometheusConfig,
} from "./kubernetes-files.ts";
export {
  ALL_JOBS_REGEX,
  prometheusArgs,
  prometheusConfig,
  type PrometheusConfigOptions,
  type PrometheusPaths,
  SCRAPE_JOBS,
  type ScrapedRole,
  type ScrapeTarget,
} from "./scrape-config.ts";
