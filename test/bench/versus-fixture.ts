// A small hand-made versus-etcd run for the report tests: etcd and paxos, two rounds, two
// closed-loop cells and one open-loop cell; paxos's round 2 failed its exactly-once check.
import type { CellMeasurement, CellSpec, SystemName, VersusResults } from "../../bench/lib/versus-results.ts";

export const CLOSED_1: CellSpec = { kind: "closed", clients: 1, valueBytes: 100 };
export const CLOSED_64: CellSpec = { kind: "closed", clients: 64, valueBytes: 100 };
export const OPEN_50: CellSpec = { kind: "open", ratePerSecond: 500, rateShare: 0.5, valueBytes: 100 };

export function measured(
  cell: CellSpec,
  writesPerSecond: number,
  p50: number,
  cpuSeconds: number,
  valuesPerSlot: number | null = null,
): CellMeasurement {
  const succeeded = writesPerSecond * 10;
  return {
    cell,
    windowSeconds: 10,
    succeeded,
    writesPerSecond,
    latencyMs: { count: succeeded, p50, p90: p50 * 1.5, p99: p50 * 2, p999: p50 * 3, max: p50 * 4, mean: p50 },
    errors: {},
    errorCount: 0,
    skipped: 0,
    cpuSeconds,
    cpuSecondsPer1kWrites: (cpuSeconds * 1000) / succeeded,
    generatorCpuSeconds: 1,
    cpuByProcess: [
      { pid: 1, label: "acceptor", cpuSeconds: cpuSeconds / 2, syscalls: succeeded * 3 },
      { pid: 2, label: "acceptor", cpuSeconds: cpuSeconds / 2, syscalls: succeeded * 3 },
    ],
    valuesPerSlot,
  };
}

const ok = {
  ok: true,
  acknowledged: 10,
  entriesRead: 10,
  problems: { lost: 0, wrongIndex: 0, wrongValue: 0, duplicate: 0 },
  examples: [],
};

export function fixture(systems: readonly SystemName[] = ["etcd", "paxos"]): VersusResults {
  return {
    systems,
    rounds: 2,
    cells: [CLOSED_1, CLOSED_64, OPEN_50],
    systemRounds: [
      {
        system: "etcd",
        round: 1,
        failure: null,
        check: ok,
        cells: [measured(CLOSED_1, 300, 3, 9), measured(CLOSED_64, 1000, 40, 7.5), measured(OPEN_50, 500, 20, 7.5)],
      },
      {
        system: "paxos",
        round: 1,
        failure: null,
        check: ok,
        cells: [
          measured(CLOSED_1, 150, 6, 9, 1),
          measured(CLOSED_64, 500, 80, 15, 17.25),
          measured(OPEN_50, 450, 100, 9),
        ],
      },
      {
        system: "etcd",
        round: 2,
        failure: null,
        check: ok,
        cells: [measured(CLOSED_1, 200, 4, 6), measured(CLOSED_64, 1200, 50, 9), measured(OPEN_50, 500, 25, 7.5)],
      },
      {
        system: "paxos",
        round: 2,
        failure: "exactly-once check failed (1 lost, 0 at a wrong index, 0 with a wrong value, 0 duplicated)",
        check: { ...ok, ok: false, problems: { ...ok.problems, lost: 1 } },
        cells: [measured(CLOSED_1, 9999, 1, 1), measured(CLOSED_64, 9999, 1, 1), measured(OPEN_50, 9999, 1, 1)],
      },
    ].filter((r) => systems.includes(r.system as SystemName)) as VersusResults["systemRounds"],
  };
}
