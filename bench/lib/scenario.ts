/** What every scenario of a run is given. */
export interface ScenarioContext {
  /** The repository root. */
  readonly repoRoot: string;
  /** This run's folder under the OS temp dir: logs, data folders and results go here. */
  readonly runDir: string;
  /** Closed-loop clients (HTTP connections) per load. */
  readonly connections: number;
  readonly warmupSeconds: number;
  readonly durationSeconds: number;
  /** How many times each row is measured, rows interleaved, so the spread on a noisy machine shows. */
  readonly rounds: number;
  /** Keep each row's data folder instead of removing it once the row's system stopped. */
  readonly keepData: boolean;
  /**
   * With `--profile`: where every service writes its CPU profile (one folder per row), and the
   * scenario its summary; null without.
   */
  readonly profileDir: string | null;
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
}

/** One benchmark `npm run bench -- --only <name>` can select. */
export interface Scenario {
  readonly name: string;
  /** One line for --help. */
  readonly summary: string;
  run(context: ScenarioContext): Promise<ScenarioReport>;
}
