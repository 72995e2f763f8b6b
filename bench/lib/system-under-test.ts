/** How a system under test ended when the bench stopped it. */
export interface StopOutcome {
  /** Its exit code, or null when a signal ended it. */
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  /** How long from the stop request until it had exited. */
  readonly stopMs: number;
  /** True when it did not exit within its bound and was killed with SIGKILL. */
  readonly killed: boolean;
  /** Descendants still alive after it exited (it did not stop them), which the bench killed. */
  readonly leftoverPids: readonly number[];
}

/**
 * A running system the bench loads: this project's cluster (paxos-cluster.ts) or etcd's
 * (etcd-cluster.ts).
 * The bench starts it, waits until it is ready, measures it, and always stops it.
 */
export interface SystemUnderTest {
  /** Shown in progress lines, e.g. "cluster pid 1234". */
  readonly description: string;
  /** Where its HTTP API listens, e.g. http://127.0.0.1:41234 (for etcd: its first member's client URL). */
  readonly baseUrl: string;
  /** Headers every request to it carries, such as its API token. */
  readonly requestHeaders: Readonly<Record<string, string>>;
  /**
   * The processes whose trees (each and every descendant) are the system, for CPU accounting:
   * the launcher of our cluster, the three members of etcd's.
   */
  readonly rootPids: readonly number[];
  /** Where its output goes, to name in error messages. */
  readonly logPath: string;
  /**
   * Null while it runs; a reason once it has exited on its own, or once one of its processes has
   * (our launcher keeps the others running).
   */
  exitReason(): string | null;
  /**
   * Asks it to stop (SIGINT) and resolves once it exited; after `timeoutMs` kills it and every
   * descendant with SIGKILL. Safe to call more than once.
   */
  stop(timeoutMs: number): Promise<StopOutcome>;
  /** Kills it and every descendant at once with SIGKILL (the second Ctrl-C, the process exiting). */
  killNow(): void;
}
