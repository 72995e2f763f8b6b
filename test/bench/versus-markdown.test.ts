// The versus-etcd Markdown report: the closed-loop table has the columns of issue 11 with
// medians, spreads and ratios of the same round; a round that failed its check has no result
// and is left out of the numbers (and said so); the open-loop table, the check table and
// --without-etcd's shape.
import { describe, expect, it } from "vitest";
import {
  checkTable,
  closedLoopTable,
  cpuByProcessTable,
  syscallsByProcessTable,
  everyRoundTable,
  formatMs,
  openLoopTable,
  versusMarkdown,
} from "../../bench/lib/versus-markdown.ts";
import { fixture } from "./versus-fixture.ts";

/** The cells of the table's row that starts with `first` (trimmed), or undefined. */
function row(table: string, first: string): string[] | undefined {
  return table
    .split("\n")
    .map((line) =>
      line
        .split("|")
        .slice(1, -1)
        .map((cell) => cell.trim()),
    )
    .find((cells) => cells[0] === first);
}

describe("closedLoopTable", () => {
  const table = closedLoopTable(fixture(), "paxos");

  it("has issue 11's columns, then the other ratios and the errors", () => {
    expect(row(table, "clients")).toEqual([
      "clients",
      "value",
      "etcd writes/s",
      "ours",
      "ratio",
      "etcd p50 / p99 / p99.9 ms",
      "ours p50 / p99 / p99.9 ms",
      "ratio p50 / p99",
      "CPU-s per 1k writes, etcd / ours",
      "CPU ratio",
      "errors, etcd / ours",
    ]);
  });

  it("shows etcd's spread over both rounds, and ours from the round with a result only", () => {
    // etcd: 300 and 200 writes/s (median 250); paxos: round 2 failed, so its 9999 is nowhere.
    expect(row(table, "1")).toEqual([
      "1",
      "100 B",
      "250 (200–300)",
      "150",
      "0.50×",
      "3.50 / 7.00 / 10.5",
      "6.00 / 12.0 / 18.0",
      "2.00× / 2.00×",
      "3.00 / 6.00",
      "2.00×",
      "0 / 0",
    ]);
    expect(table).not.toContain("9,999");
  });
});

describe("the other tables", () => {
  it("open loop: every system at the rate, ratios to etcd of the same round", () => {
    const table = openLoopTable(fixture());
    expect(row(table, "500 (50 %)")?.[2]).toBe("etcd");
    const paxos = table.split("\n").find((line) => line.includes("| paxos"));
    expect(paxos).toContain("0.90× / 5.00× / 5.00× / 1.33×");
  });

  it("the check table says which round failed", () => {
    const table = checkTable(fixture());
    expect(table.split("\n").find((line) => line.includes("| paxos") && line.includes("|     2 |"))).toContain(
      "FAILED",
    );
  });

  it("every round: the failed round is a line of its own with the reason", () => {
    expect(everyRoundTable(fixture())).toContain("no result: exactly-once check failed (1 lost");
  });

  it("every round: a cell shows how many values its slots carried, when the system said", () => {
    const lines = everyRoundTable(fixture()).split("\n");
    const row = (system: string, cell: string): string =>
      lines.find((line) => line.startsWith(`| ${system} `) && line.includes("|     1 |") && line.includes(cell)) ?? "";
    expect(row("paxos", "64 clients")).toMatch(/\|\s+17\.3 \|$/);
    expect(row("paxos", "1 client,")).toMatch(/\|\s+1\.0 \|$/);
    expect(row("etcd", "64 clients")).toMatch(/\|\s+\|$/);
  });

  it("CPU by process groups processes by label and adds the bench's own", () => {
    const table = cpuByProcessTable(fixture(), "paxos") ?? "";
    expect(table).toContain("acceptor ×2");
    expect(table).toContain("bench process (not counted)");
  });

  it("system calls by process: per write, summed over a label's processes, no bench column", () => {
    const table = syscallsByProcessTable(fixture(), "paxos") ?? "";
    // Each of the two acceptors made 3 system calls per successful write.
    expect(row(table, "closed loop, 64 clients, 100 B")?.[1]).toBe("6.00");
    expect(table).not.toContain("bench process");
    const unknown = fixture();
    const withoutCounts = {
      ...unknown,
      systemRounds: unknown.systemRounds.map((r) => ({
        ...r,
        cells: r.cells.map((m) => ({ ...m, cpuByProcess: m.cpuByProcess.map((p) => ({ ...p, syscalls: null })) })),
      })),
    };
    expect(syscallsByProcessTable(withoutCounts, "paxos")).toBeNull();
  });

  it("without etcd: no etcd or ratio columns", () => {
    const table = closedLoopTable(fixture(["paxos"]), "paxos");
    expect(table).not.toContain("etcd");
    expect(table).not.toContain("ratio");
    expect(row(table, "64")?.[2]).toBe("500");
  });

  it("the whole report names the failed round above the tables", () => {
    const markdown = versusMarkdown(fixture(), { title: "t", lines: ["a line"], notes: ["a note"] });
    expect(markdown).toMatch(/^# t\n\n- a line\n/);
    expect(markdown.indexOf("Rounds without a result:** paxos round 2")).toBeLessThan(
      markdown.indexOf("## Closed loop"),
    );
    expect(markdown).toContain("### paxos: ");
    expect(markdown).toContain("## Open loop");
    expect(markdown).toContain("- a note");
  });
});

describe("formatMs", () => {
  it("gives small latencies two decimals and large ones none", () => {
    expect(formatMs(2.345)).toBe("2.35");
    expect(formatMs(23.45)).toBe("23.4");
    expect(formatMs(2345)).toBe("2,345");
    expect(formatMs(null)).toBe("no result");
  });
});
