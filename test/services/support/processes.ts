// Role services and the launcher as real child processes for tests: their output is kept (and
// shown when a test fails), and every one started is killed by pid when the test file ends.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { resolve } from "node:path";
import { listenPort } from "../../support/free-port.ts";

/** The repository root. */
export const REPO_ROOT = resolve(import.meta.dirname, "..", "..", "..");

/** A child process started by a test. */
export interface TestProcess {
  readonly name: string;
  readonly pid: number;
  /** Every line it wrote to stdout or stderr so far. */
  readonly lines: readonly string[];
  /** Resolves with the exit code (or the signal name) once it exits. */
  readonly exited: Promise<number | NodeJS.Signals>;
  /** True once it has exited. */
  readonly done: boolean;
  /** Resolves with the first line (past or future) matching `pattern`; rejects after `timeoutMs`. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<string>;
  /** Sends `signal` (default SIGTERM) by pid and waits for the exit, up to `timeoutMs`. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | NodeJS.Signals>;
  /** Waits for the process to exit by itself, up to `timeoutMs`. */
  waitExit(timeoutMs: number): Promise<number | NodeJS.Signals>;
}

const live = new Set<ChildProcess>();
/** Children that must get SIGTERM first: launchers, which stop their own children on it. */
const graceful = new WeakSet<ChildProcess>();
process.once("exit", () => {
  for (const child of live) if (child.pid !== undefined) process.kill(child.pid, "SIGKILL");
});

/**
 * Stops every child still running, by pid: SIGKILL, except launchers, which get SIGTERM (and up to
 * 15 s to stop their own children) before SIGKILL. Call in afterAll.
 */
export async function killAll(): Promise<void> {
  const exits: Promise<unknown>[] = [];
  for (const child of live) {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) continue;
    const pid = child.pid;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    exits.push(exited);
    if (!graceful.has(child)) {
      process.kill(pid, "SIGKILL");
      continue;
    }
    process.kill(pid, "SIGTERM");
    const timer = setTimeout(() => process.kill(pid, "SIGKILL"), 15_000);
    void exited.then(() => clearTimeout(timer));
  }
  await Promise.all(exits);
  live.clear();
}

/** The pids of the running children of `pid` (from `ps`). */
export function childPids(pid: number): number[] {
  try {
    return execFileSync("ps", ["-o", "pid=", "--ppid", String(pid)], { encoding: "utf8" })
      .split("\n")
      .map((line) => Number.parseInt(line.trim(), 10))
      .filter((child) => Number.isSafeInteger(child));
  } catch {
    return []; // ps exits 1 when there are none
  }
}

/** True while a process with this pid runs (zombies count as gone). */
export function isRunning(pid: number): boolean {
  try {
    const state = execFileSync("ps", ["-o", "stat=", "-p", String(pid)], { encoding: "utf8" }).trim();
    return state !== "" && !state.startsWith("Z");
  } catch {
    return false;
  }
}

/**
 * Starts `node <script>` from the repository root with `env` added to a minimal environment.
 * `launcher`: the process starts children of its own; killAll stops it with SIGTERM first.
 */
export function startNode(name: string, script: string, env: Record<string, string>, launcher = false): TestProcess {
  const child = spawn(process.execPath, [resolve(REPO_ROOT, script)], {
    cwd: REPO_ROOT,
    env: { PATH: process.env["PATH"] ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (child.pid === undefined) throw new Error(`${name}: failed to spawn`);
  live.add(child);
  if (launcher) graceful.add(child);
  const lines: string[] = [];
  const watchers = new Set<{ pattern: RegExp; resolve: (line: string) => void }>();
  let rest = "";
  const onData = (chunk: Buffer): void => {
    const parts = (rest + chunk.toString("utf8")).split("\n");
    rest = parts.pop() ?? "";
    for (const line of parts) {
      lines.push(line);
      for (const watcher of watchers) {
        if (watcher.pattern.test(line)) {
          watchers.delete(watcher);
          watcher.resolve(line);
        }
      }
    }
  };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);
  let done = false;
  const exited = new Promise<number | NodeJS.Signals>((resolveExit) => {
    child.once("exit", (code, signal) => {
      done = true;
      live.delete(child);
      if (rest !== "") lines.push(rest);
      resolveExit(code ?? signal ?? -1);
    });
  });
  const pid = child.pid;
  return {
    name,
    pid,
    lines,
    exited,
    get done() {
      return done;
    },
    waitForLine(pattern: RegExp, timeoutMs: number): Promise<string> {
      const seen = lines.find((line) => pattern.test(line));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolveLine, reject) => {
        const watcher = { pattern, resolve: resolveLine };
        watchers.add(watcher);
        const timer = setTimeout(() => {
          watchers.delete(watcher);
          reject(
            new Error(
              `${name}: no line matching ${String(pattern)} within ${timeoutMs} ms; output:\n${lines.join("\n")}`,
            ),
          );
        }, timeoutMs);
        void exited.then(() => {
          if (!watchers.has(watcher)) return;
          // Give the last output a moment to be split into lines.
          setTimeout(() => {
            if (!watchers.has(watcher)) return;
            watchers.delete(watcher);
            clearTimeout(timer);
            reject(new Error(`${name} exited before a line matched ${String(pattern)}; output:\n${lines.join("\n")}`));
          }, 50);
        });
      });
    },
    async stop(signal: NodeJS.Signals = "SIGTERM", timeoutMs = 10_000): Promise<number | NodeJS.Signals> {
      if (!done) process.kill(pid, signal);
      return await exitWithin(exited, timeoutMs, `${name} did not exit within ${timeoutMs} ms after ${signal}`);
    },
    waitExit(timeoutMs: number): Promise<number | NodeJS.Signals> {
      return exitWithin(exited, timeoutMs, `${name} did not exit within ${timeoutMs} ms`);
    },
  };
}

async function exitWithin<T>(exited: Promise<T>, timeoutMs: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), timeoutMs);
  });
  try {
    return await Promise.race([exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** GET a JSON endpoint; resolves with status and parsed body (null when not JSON). */
export async function getJson(
  url: string,
  timeoutMs = 2_000,
  token?: string,
): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url, {
    signal: AbortSignal.timeout(timeoutMs),
    ...(token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } }),
  });
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  return { status: response.status, body };
}

/** Polls `check` until it resolves true; rejects with `what` after `timeoutMs`. */
export async function eventually(
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export { listenPort };
