// What a host under test tells the world: its log records (parsed, as a service would print them),
// its drop counters as /metrics serves them, and the alerts it raises for conflicting values.
import { createLogger, type createRegistry, type Logger } from "@paxos/host";

/** A logger that keeps, parsed, the JSON lines the process would print. */
export function recordingLogger(service: string, id: string): { logger: Logger; records: Record<string, unknown>[] } {
  const records: Record<string, unknown>[] = [];
  const logger = createLogger(service, id, "info", {
    write: (line: string) => void records.push(JSON.parse(line) as Record<string, unknown>),
  });
  return { logger, records };
}

/** `paxos_dropped_messages_total{reason}` as the Prometheus text of `registry` (what /metrics serves) has it. */
export async function droppedTotal(registry: ReturnType<typeof createRegistry>, reason: string): Promise<number> {
  const text = await registry.metrics();
  for (const line of text.split("\n")) {
    const match = /^paxos_dropped_messages_total\{([^}]*)\} (\S+)$/.exec(line);
    if (match?.[1]?.split(",").includes(`reason="${reason}"`)) return Number(match[2]);
  }
  return 0;
}

/** The log records that raise the alert for a refused conflicting value. */
export function conflictAlerts(records: readonly Record<string, unknown>[]): Record<string, unknown>[] {
  return records.filter(
    (record) =>
      record["level"] === "error" &&
      record["reason"] === "conflict" &&
      /refused a conflicting value/.test(String(record["msg"])),
  );
}
