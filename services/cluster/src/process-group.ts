import { type ChildProcess, spawn } from "node:child_process";
import { LineFormatter, LineSplitter } from "./log-lines.ts";

/** One process the launcher starts. */
export interface ChildSpec {
  /** Shown in brackets before each of its lines, e.g. "acceptor a1". */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  /** Output lines to leave out (noise a new user cannot act on). */
  readonly quiet?: RegExp;
}

/** How a child ended. */
export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A child the group started. */
export interface Child {
  readonly name: string;
  readonly pid: number | undefined;
  /** Resolves once the child has exited (also when it failed to spawn). */
  readonly exited: Promise<ChildExit>;
  /** True once the child has exited. */
  readonly done: boolean;
}

/**
 * The children of `npm start`, their output prefixed per process, and their stopping. Each child
 * runs in its own process group (`detached`), so a Ctrl-C in the terminal reaches only the
 * launcher, which then stops the children in order; if the launcher itself exits unexpectedly,
 * every child still running is killed on the way out.
 */
export class ProcessGroup {
  readonly #children: ChildProcessEntry[] = [];
  readonly #print: (line: string) => void;
  readonly #colour: boolean;
  readonly #onUnexpectedExit: (child: Child, exit: ChildExit) => void;
  #stopping = false;

  /**
   * `print` writes one formatted line; `onUnexpectedExit` hears of a child that exits while the
   * group is not stopping.
   */
  constructor(
    print: (line: string) => void,
    colour: boolean,
    onUnexpectedExit: (child: Child, exit: ChildExit) => void,
  ) {
    this.#print = print;
    this.#colour = colour;
    this.#onUnexpectedExit = onUnexpectedExit;
    process.once("exit", () => {
      for (const entry of this.#children) if (!entry.done) entry.process.kill("SIGKILL");
    });
  }

  /** True once `stop` has begun. */
  get stopping(): boolean {
    return this.#stopping;
  }

  /** Starts a child and streams its output, formatted, through `print`. */
  start(spec: ChildSpec): Child {
    const formatter = new LineFormatter(spec.name, this.#children.length, this.#colour);
    const child = spawn(spec.command, [...spec.args], {
      cwd: spec.cwd,
      env: spec.env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    const entry = new ChildProcessEntry(spec.name, child);
    this.#children.push(entry);
    for (const stream of [child.stdout, child.stderr]) {
      const splitter = new LineSplitter((line) => {
        if (spec.quiet?.test(line) !== true) this.#print(formatter.format(line));
      });
      stream?.setEncoding("utf8");
      stream?.on("data", (chunk: string) => splitter.push(chunk));
      stream?.on("end", () => splitter.end());
    }
    void entry.exited.then((exit) => {
      if (!this.#stopping && !entry.stopRequested) this.#onUnexpectedExit(entry, exit);
    });
    return entry;
  }

  /**
   * Stops `children` (default: every child) at once: SIGTERM, then SIGKILL for those still
   * running after `timeoutMs`. Resolves once all of them have exited.
   */
  async stop(children: readonly Child[] | null, timeoutMs: number): Promise<void> {
    if (children === null) this.#stopping = true;
    const targets = this.#children.filter((entry) => children === null || children.includes(entry));
    await Promise.all(targets.map((entry) => entry.stop(timeoutMs)));
  }
}

class ChildProcessEntry implements Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly exited: Promise<ChildExit>;
  done = false;
  stopRequested = false;

  constructor(name: string, child: ChildProcess) {
    this.name = name;
    this.process = child;
    this.exited = new Promise((resolve) => {
      child.once("error", () => {
        // Failed to spawn: no exit event follows.
        if (child.pid === undefined) {
          this.done = true;
          resolve({ code: null, signal: null });
        }
      });
      child.once("exit", (code, signal) => {
        this.done = true;
        resolve({ code, signal });
      });
    });
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  async stop(timeoutMs: number): Promise<void> {
    this.stopRequested = true;
    if (this.done) return;
    this.process.kill("SIGTERM");
    const timer = setTimeout(() => {
      if (!this.done) this.process.kill("SIGKILL");
    }, timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }
}
