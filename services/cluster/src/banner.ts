/**
 * What `npm start` prints once the gateway answers /readyz: where it is, a request to paste, and
 * where each process's admin endpoints are.
 */
export function printReady(
  print: (line: string) => void,
  gatewayUrl: string,
  mode: string,
  admin: readonly { readonly name: string; readonly port: number }[],
): void {
  const lines = [
    "",
    `Paxos cluster ready (${mode}).`,
    `  Gateway: ${gatewayUrl}`,
    "",
    "  Propose a value:",
    `    curl -sS -X POST ${gatewayUrl}/v1/proposals -H 'content-type: application/json' -d '{"value":"hello"}'`,
    "  Read the log:",
    `    curl -sS '${gatewayUrl}/v1/log?from=0&limit=10'`,
    "  Cluster state:",
    `    curl -sS ${gatewayUrl}/v1/cluster`,
  ];
  if (admin.length > 0) {
    lines.push("", "  Admin endpoints (/healthz /readyz /metrics):");
    for (const { name, port } of admin) lines.push(`    ${name.padEnd(12)} http://127.0.0.1:${port}`);
  }
  lines.push("", "  Ctrl-C stops everything; the data stays for the next start.", "");
  for (const line of lines) print(line);
}
