// The checked-in Grafana files under deploy/grafana/ are exactly what the builder generates (so
// nobody edits the JSON by hand, and nobody forgets to regenerate it); the dashboard's panels are
// well formed; the scrape config passes `promtool check config`. Whether the queries work on a
// real Prometheus is test/e2e/dashboard-queries.test.ts.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import {
  generatedFiles,
  PAXOS_DASHBOARD_QUERIES,
  paxosDashboard,
  prometheusConfig,
  PROMETHEUS_DATASOURCE_UID,
  RANGE_WINDOW,
  RATE_WINDOW,
  SCRAPE_JOBS,
} from "./mod.ts";

const repoRoot = resolve(import.meta.dirname, "..", "..", "..");

describe("the checked-in Grafana files", () => {
  for (const file of generatedFiles()) {
    it(`${file.path} is what the builder generates`, () => {
      let checkedIn: string | null;
      try {
        checkedIn = readFileSync(resolve(repoRoot, file.path), "utf8");
      } catch {
        checkedIn = null;
      }
      expect(
        checkedIn === file.text,
        `${file.path} ${checkedIn === null ? "is missing" : "differs from what packages/dashboards generates"}: ` +
          "run `npm run dashboards` and commit the files it writes (edit the builder, never the generated file).",
      ).toBe(true);
    });
  }
});

describe("the dashboard", () => {
  const panels = paxosDashboard.panels ?? [];

  it("gives every panel its own id and every query the provisioned Prometheus datasource", () => {
    const ids = panels.map((panel) => panel.id);
    expect(new Set(ids).size).toBe(panels.length);
    for (const panel of panels) {
      if (panel.type === "row") continue;
      const { datasource, targets, title } = panel as { datasource?: unknown; targets?: unknown[]; title?: string };
      expect(datasource, title).toEqual({ type: "prometheus", uid: PROMETHEUS_DATASOURCE_UID });
      expect(targets?.length, `${title} has queries`).toBeGreaterThan(0);
      for (const target of targets ?? []) {
        expect((target as { datasource?: unknown }).datasource, title).toEqual({
          type: "prometheus",
          uid: PROMETHEUS_DATASOURCE_UID,
        });
      }
    }
  });

  it("uses only the Grafana variables the end-to-end test knows how to replace", () => {
    for (const query of PAXOS_DASHBOARD_QUERIES) {
      const rest = query.expr.replaceAll(RATE_WINDOW, "").replaceAll(RANGE_WINDOW, "");
      expect(rest, `${query.panel} ${query.refId}`).not.toContain("$");
    }
  });

  it("lists every query of every panel, each naming a metric", () => {
    const targetCount = panels.reduce(
      (sum, panel) => sum + ((panel as { targets?: unknown[] }).targets?.length ?? 0),
      0,
    );
    expect(PAXOS_DASHBOARD_QUERIES).toHaveLength(targetCount);
    for (const query of PAXOS_DASHBOARD_QUERIES) {
      expect(query.expr, query.panel).toMatch(/\b(paxos|process|nodejs)_[a-z0-9_]+|\bup\{/);
    }
  });
});

describe("prometheusConfig", () => {
  const config = prometheusConfig(
    [
      { role: "acceptor", instance: "a1", address: "127.0.0.1:40001" },
      { role: "acceptor", instance: "a2", address: "127.0.0.1:40002" },
      { role: "proposer", instance: "p1", address: "127.0.0.1:40003" },
      { role: "learner", instance: "l1", address: "127.0.0.1:40004" },
      { role: "gateway", instance: "gateway", address: "127.0.0.1:8080" },
    ],
    { scrapeIntervalSeconds: 5 },
  );

  it("names one job per role as the dashboard expects", () => {
    for (const job of Object.values(SCRAPE_JOBS)) expect(config).toContain(`job_name: "${job}"`);
    expect(config).toContain('- targets: ["127.0.0.1:40002"]\n        labels: { instance: "a2" }');
  });

  it("is a config promtool accepts", () => {
    const dir = mkdtempSync(join(tmpdir(), "paxos-prometheus-config-"));
    try {
      const file = join(dir, "prometheus.yml");
      writeFileSync(file, config);
      const checked = spawnSync("promtool", ["check", "config", file], { encoding: "utf8" });
      if (checked.error !== undefined) {
        throw new Error(`promtool could not run (${checked.error.message}): apt-get install prometheus`);
      }
      expect(checked.status, `${checked.stdout}${checked.stderr}`).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses a target it could not write as a plain YAML string", () => {
    expect(() =>
      prometheusConfig([{ role: "learner", instance: "l1", address: "h:1\n- evil" }], { scrapeIntervalSeconds: 1 }),
    ).toThrow(/address/);
  });
});
