import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, fstatSync, openSync, readSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { BenchError } from "./bench-errors.ts";
import { listenPort } from "@paxos/host";
import { forget, remember } from "./live-systems.ts";
import { descendants, isAlive, type ProcessIdentity, signalProcess } from "./process-tree.ts";
import type { StopOutcome, SystemUnderTest } from "./system-under-test.ts";

/** How often the launcher's descendants are listed, so that none is lost if the launcher dies. */
const DESCENDANT_SCAN_INTERVAL_MS = 2_000;

/** How to start one `npm start` cluster for a benchmark row. */
export interface PaxosClusterOptions {
  /** The repository root: the launcher is `<repoRoot>/services/cluster/src/main.ts`. */
  readonly repoRoot: string;
  /** A fresh, empty data folder (PAXOS_LOCAL_DATA): every row starts from an empty log. */
  readonly dataRoot: string;
  /** The gateway's port (PAXOS_HTTP_PORT). */
  readonly httpPort: number;
  /** The file that receives the launcher's output (every service's prefixed log lines). */
  readonly logPath: string;
  /**
   * Variables added to the launcher's environment (OTEL_*, LOG_LEVEL, PAXOS_EMBEDDED ...). The
   * bench's own OTEL_*, PAXOS_*, NATS_URL and REDIS_URLS are not passed on, so that a row is set
   * only by what the scenario says.
   */
  readonly env: Readonly<Record<string, string>>;
}

/** A running `npm start` cluster: a SystemUnderTest whose data folder the bench may read. */
export interface PaxosCluster extends SystemUnderTest {
  /** Its PAXOS_LOCAL_DATA: the NATS configuration and password files, the API token. */
  readonly dataRoot: string;
}

/**
 * Starts the cluster of `npm start` (nats-server, a redis-server per acceptor, every role as its
 * own process, the gateway on `httpPort`) as a child process in its own process group, its output
 * into `logPath`. Returns once the launcher is spawned; the caller waits for readiness (as
 * `measureRow` does) and must call `stop`.
 */
export function startPaxosCluster(options: PaxosClusterOptions): PaxosCluster {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value === undefined || /^(OTEL_|PAXOS_)/.test(name) || name === "NATS_URL" || name === "REDIS_URLS") continue;
    env[name] = value;
  }
  Object.assign(env, options.env, {
    PAXOS_HTTP_PORT: String(options.httpPort),
    PAXOS_LOCAL_DATA: options.dataRoot,
  });

  // The launcher keeps an API token it finds in the data folder: the bench's own, which it sends.
  const token = randomBytes(32).toString("base64url");
  writeFileSync(join(options.dataRoot, "api-token"), `${token}\n`, { mode: 0o600 });

  const logFd = openSync(options.logPath, "a");
  const child = spawn(process.execPath, [join(options.repoRoot, "services", "cluster", "src", "main.ts")], {
    cwd: options.repoRoot,
    env,
    stdio: ["ignore", logFd, logFd],
    // Its own process group: a Ctrl-C in the terminal reaches only the bench, which then stops
    // the cluster in order (SIGINT to the launcher, which stops its children).
    detached: true,
  });
  closeSync(logFd);
  // A spawn failure (no pid) is also emitted as an event, which must not go unhandled.
  child.once("error", () => undefined);
  const pid = child.pid;
  if (pid === undefined) throw new BenchError(`could not start ${process.execPath} for the cluster launcher`);

  let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  const exited = new Promise<void>((resolve) => {
    child.once("exit", (code, signal) => {
      exit = { code, signal };
      resolve();
    });
  });

  // Every process the launcher started, as last seen. The services stop themselves when the
  // launcher dies (PAXOS_PARENT_PID), but nats-server and redis-server would not.
  const known = new Map<string, ProcessIdentity>();
  const scan = (): void => {
    if (exit !== null) return;
    for (const identity of descendants(pid)) known.set(`${identity.pid}:${identity.startTicks}`, identity);
  };
  const scanner = setInterval(scan, DESCENDANT_SCAN_INTERVAL_MS);
  scanner.unref();

  const killEverything = (): void => {
    scan();
    if (exit === null) {
      // The launcher's own process group (the launcher and anything it did not detach). Only
      // while the launcher runs: then the group id is certainly still its pid.
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // Gone in the meantime.
      }
    }
    for (const identity of known.values()) signalProcess(identity, "SIGKILL");
  };

  // The launcher keeps the rest running when one of its processes dies, and says so in its log:
  // the cluster is then not the one the bench started. Read only what the log gained since.
  const lost = new LostChildWatch(options.logPath);
  const childLost = (): string | null => lost.check();

  let stopping: Promise<StopOutcome> | null = null;
  const stop = (timeoutMs: number): Promise<StopOutcome> => {
    stopping ??= (async () => {
      const startedMs = Date.now();
      scan();
      clearInterval(scanner);
      let killed = false;
      if (exit === null) {
        child.kill("SIGINT");
        const timer = setTimeout(() => {
          killed = true;
          killEverything();
        }, timeoutMs);
        await exited;
        clearTimeout(timer);
      }
      const leftovers = [...known.values()].filter(isAlive);
      for (const identity of leftovers) signalProcess(identity, "SIGKILL");
      forget(system);
      const finalExit = exit ?? { code: null, signal: null };
      return {
        exitCode: finalExit.code,
        signal: finalExit.signal,
        stopMs: Date.now() - startedMs,
        killed,
        leftoverPids: leftovers.map((identity) => identity.pid),
      };
    })();
    return stopping;
  };

  const system: PaxosCluster = {
    dataRoot: options.dataRoot,
    description: `cluster (launcher pid ${pid}, gateway port ${options.httpPort})`,
    requestHeaders: { authorization: `Bearer ${token}` },
    baseUrl: `http://127.0.0.1:${options.httpPort}`,
    rootPids: [pid],
    logPath: options.logPath,
    exitReason: () => {
      if (exit === null) return childLost();
      return exit.signal !== null
        ? `the launcher was killed by ${exit.signal}`
        : `the launcher exited with code ${exit.code}`;
    },
    stop,
    killNow: killEverything,
  };
  remember(system);
  return system;
}

/** What the launcher logs when one of its processes exits while the cluster runs (local-cluster.ts). */
const CHILD_EXITED = /^\[cluster\] (.+ exited unexpectedly .*)$/m;

/** Reads a growing log from where it last stopped, for the launcher's line about a lost process. */
class LostChildWatch {
  readonly #path: string;
  #offset = 0;
  #found: string | null = null;
  #carry = "";

  constructor(path: string) {
    this.#path = path;
  }

  /** The launcher's line about a process of the cluster that exited, or null (so far). */
  check(): string | null {
    if (this.#found !== null) return this.#found;
    let fd: number;
    try {
      fd = openSync(this.#path, "r");
    } catch {
      return null;
    }
    try {
      const size = fstatSync(fd).size;
      if (size <= this.#offset) return null;
      const buffer = Buffer.alloc(size - this.#offset);
      readSync(fd, buffer, 0, buffer.length, this.#offset);
      this.#offset = size;
      const text = this.#carry + buffer.toString("utf8");
      const lastNewline = text.lastIndexOf("\n");
      this.#carry = text.slice(lastNewline + 1);
      const line = CHILD_EXITED.exec(text.slice(0, lastNewline + 1))?.[1];
      if (line !== undefined) this.#found = `the launcher says: ${line}`;
      return this.#found;
    } finally {
      closeSync(fd);
    }
  }
}

/** Where a fresh cluster of one row keeps its files. */
export interface FreshClusterOptions {
  readonly repoRoot: string;
  /** The run's folder: the row's log and data folder are made in it. */
  readonly runDir: string;
  /** Names the row's files, e.g. "tracing-off". */
  readonly slug: string;
  readonly env: Readonly<Record<string, string>>;
  /** Keep the data folder after the cluster stopped (by default it is removed; the log stays). */
  readonly keepData: boolean;
}

/**
 * Starts a cluster with an empty data folder (mkdtemp under `runDir`), a free gateway port and
 * its log at `<runDir>/<slug>.log`. Stopping it also removes the data folder unless `keepData`.
 */
export async function startFreshPaxosCluster(options: FreshClusterOptions): Promise<PaxosCluster> {
  const dataRoot = await mkdtemp(join(options.runDir, `${options.slug}-data-`));
  const system = startPaxosCluster({
    repoRoot: options.repoRoot,
    dataRoot,
    httpPort: await listenPort(),
    logPath: join(options.runDir, `${options.slug}.log`),
    env: options.env,
  });
  if (options.keepData) return system;
  return {
    ...system,
    stop: async (timeoutMs) => {
      const outcome = await system.stop(timeoutMs);
      await rm(dataRoot, { recursive: true, force: true });
      return outcome;
    },
  };
}
