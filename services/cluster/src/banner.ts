import type { PrometheusStatus } from "./local-prometheus.ts";

/**
 * What `npm start` prints once the gateway answers /readyz: where it is, requests to paste (with
 * the bearer token from `tokenFile`),
 * how its servers are guarded (`security`: whole lines, empty when there are no servers), where
 * each process's admin endpoints are, and where its Prometheus is (or why there is none, or how
 * to have one; `prometheus` null: the mode offers none).
 */
export function printReady(
  print: (line: string) => void,
  gatewayUrl: string,
  mode: string,
  admin: readonly { readonly name: string; readonly port: number }[],
  prometheus: PrometheusStatus | null,
  security: readonly string[],
  tokenFile: string,
): void {
  const auth = `-H "authorization: Bearer $(cat ${tokenFile})"`;
  const lines = [
    "",
    `Paxos cluster ready (${mode}).`,
    `  Gateway: ${gatewayUrl} (clients send a bearer token: client "dev"'s is in ${tokenFile})`,
    "",
    "  Propose a value:",
    `    curl -sS -X POST ${gatewayUrl}/v1/proposals ${auth} -H 'content-type: application/json' -d '{"value":"hello"}'`,
    "  Read the log:",
    `    curl -sS ${auth} '${gatewayUrl}/v1/log?from=0&limit=10'`,
    "  Cluster state:",
    `    curl -sS ${auth} ${gatewayUrl}/v1/cluster`,
  ];
  if (security.length > 0) lines.push("", ...security);
  if (admin.length > 0) {
    lines.push("", "  Admin endpoints (/healthz /readyz /metrics):");
    for (const { name, port } of admin) lines.push(`    ${name.padEnd(12)} http://127.0.0.1:${port}`);
  }
  if (prometheus !== null) lines.push("", ...prometheusLines(prometheus));
  if (admin.length > 0) lines.push("", tracingLine(process.env));
  lines.push("", "  Ctrl-C stops everything; the data stays for the next start.", "");
  for (const line of lines) print(line);
}

/** Where the services send traces: the OTLP endpoint `npm start` passed on, or how to set one. */
function tracingLine(env: NodeJS.ProcessEnv): string {
  const endpoint = env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] ?? env["OTEL_EXPORTER_OTLP_ENDPOINT"];
  if (env["OTEL_SDK_DISABLED"]?.trim().toLowerCase() === "true") return "  Traces: off (OTEL_SDK_DISABLED=true)";
  if (endpoint !== undefined && endpoint.trim() !== "") {
    return `  Traces: every service exports to ${endpoint}; the gateway's traceparent header names each proposal's trace`;
  }
  return "  Traces: off; to a Jaeger: OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 npm start";
}

function prometheusLines(prometheus: PrometheusStatus): string[] {
  switch (prometheus.kind) {
    case "running":
      return [
        `  Prometheus, scraping every process: ${prometheus.url}`,
        `    curl -sS '${prometheus.url}/api/v1/query?query=up'`,
        "    Grafana: provision deploy/grafana/ (see Metrics in README.md)",
      ];
    case "unavailable":
      return [`  Prometheus: not running; ${prometheus.reason}`];
    case "off":
      return ["  Metrics in a Prometheus of its own: PAXOS_PROMETHEUS=1 npm start (needs prometheus on PATH)"];
  }
}
