// Drops are counted one by one but logged within bounds: one line per reason per interval, a
// conflict as an error, the rest as warnings.
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { DROP_LOG_INTERVAL_MS, dropReporter } from "./drops.ts";
import type { Logger } from "./logger.ts";

function recordingLogger(): { logger: Logger; lines: { level: string; fields: Record<string, unknown> }[] } {
  const lines: { level: string; fields: Record<string, unknown> }[] = [];
  const at = (level: string) => (fields: Record<string, unknown>) => lines.push({ level, fields });
  return { logger: { warn: at("warn"), error: at("error") } as unknown as Logger, lines };
}

describe("dropReporter", () => {
  it("counts every drop, logs each reason once per interval and says how many went unlogged", async () => {
    const registry = new Registry();
    const { logger, lines } = recordingLogger();
    let now = 0;
    const report = dropReporter(registry, logger, () => now);
    for (let i = 0; i < 1_000; i++) report("schema", "bad");
    report("conflict", "two values");
    now = DROP_LOG_INTERVAL_MS;
    report("schema", "bad");
    const metric = await registry.getSingleMetric("paxos_dropped_messages_total")?.get();
    expect(metric?.values.map((v) => [v.labels["reason"], v.value])).toEqual([
      ["schema", 1_001],
      ["conflict", 1],
    ]);
    expect(lines.map((line) => [line.level, line.fields["reason"], line.fields["unloggedSince"]])).toEqual([
      ["warn", "schema", 0],
      ["error", "conflict", 0],
      ["warn", "schema", 999],
    ]);
  });
});
