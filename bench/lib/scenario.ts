/** The machine a run is on, as the results files record it. */
export interface MachineInfo {
  readonly cpuModel: string;
  readonly cpuCount: number;
  readonly memoryBytes: number;
  /** Platform and kernel release, e.g. "linux 6.1.0". */
  readonly os: string;
  readonly node: string;
  readonly loadAverageAtStart: readonly number[];
}

/** What every scenario of a run is given. */
export interface ScenarioContext {
  /** The repository root. */
  readonly repoRoot: string;
  /** This run's folder under the OS temp dir: logs, data folders and results go here. */
  readonly runDir: string;
  /** `--clients`: closed-loop client counts (HTTP connections) per load; null for the scenario's own. */
  readonly clients: readonly number[] | null;
  readonly warmupSeconds: number;
  readonly durationSeconds: number;
  /**
   * `--rounds`: how many times each row is measured, rows interleaved, so the spread on a noisy
   * machine shows; null for the scenario's own default.
   */
  readonly rounds: number | null;
  /** `--quick`: the smallest run that still shows every system (see the scenario's own meaning). */
  readonly quick: boolean;
  /** `--without-etcd`: leave etcd out of the comparison (and its ratios). */
  readonly withoutEtcd: boolean;
  /** Keep each row's data folder instead of removing it once the row's system stopped. */
  readonly keepData: boolean;
  /**
   * With `--profile`: where every service writes its CPU profile (one folder per row), and the
   * scenario its summary; null without.
   */
  readonly profileDir: string | null;
  /** `--limits` and its kin: the limits variables every cluster of ours runs with (ours only). */
  readonly paxosEnv: Readonly<Record<string, string>>;
  /** The command line's flags as given, for the results file. */
  readonly flags: Readonly<Record<string, string | boolean>>;
  /** The machine the run is on, for the results file. */
  readonly machine: MachineInfo;
  /** Prints one progress line. */
  readonly say: (line: string) => void;
  /** Fires on Ctrl-C: the scenario stops what it started and throws BenchAborted. */
  readonly signal: AbortSignal;
}

/** What a scenario hands back: a table to print, notes under it, and data for the JSON file. */
export interface ScenarioReport {
  readonly title: string;
  readonly table: string;
  readonly notes: readonly string[];
  readonly data: unknown;
  /** Why the run must exit non-zero (a system failed its check or its round); empty when it need not. */
  readonly failures: readonly string[];
  /** Files the scenario wrote besides results.json, to print at the end. */
  readonly files: readonly string[];
}

/** One benchmark `npm run bench -- --only <name>` can select. */
export interface Scenario {
  readonly name: string;
  /** One line for --help. */
  readonly summary: string;
  /** True for the scenarios `npm run bench` runs without --only. */
  readonly runsByDefault: boolean;
  /**
   * Checks, before anything starts, that what the scenario needs is installed and that its flags
   * fit; returns what is wrong and what to do (the bench then exits with code 2), or null.
   */
  preflight(flags: Pick<ScenarioContext, "clients" | "withoutEtcd">): string | null;
  run(context: ScenarioContext): Promise<ScenarioReport>;
}
