import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { BenchError } from "./bench-errors.ts";
import { listenPort } from "@paxos/host";
import { forget, remember } from "./live-systems.ts";
import type { StopOutcome, SystemUnderTest } from "./system-under-test.ts";

/** The etcd binary the bench runs (Debian's etcd-server package puts it on PATH). */
export const ETCD_COMMAND = "etcd";

/** One member of the bench's etcd cluster. */
export interface EtcdMember {
  readonly name: string;
  /** Where it serves clients, the v3 JSON gateway included: http://127.0.0.1:<port>. */
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly pid: number;
  readonly logPath: string;
}

/** A running 3-member etcd cluster: a SystemUnderTest whose processes are its members. */
export interface EtcdCluster extends SystemUnderTest {
  readonly members: readonly EtcdMember[];
}

/** Where a fresh etcd cluster of one round keeps its files. */
export interface EtcdClusterOptions {
  /** The run's folder: the members' logs (`<slug>-<member>.log`) and data folder go in it. */
  readonly runDir: string;
  /** Names the files, e.g. "etcd-round1". */
  readonly slug: string;
  /** Keep the data folder once stopped (by default it is removed; the logs stay). */
  readonly keepData: boolean;
}

const MEMBER_NAMES = ["m1", "m2", "m3"] as const;

/**
 * Starts a new 3-member etcd cluster on loopback: every member with an empty data folder under
 * `<runDir>/<slug>-data/`, its client and peer ports free (below the ephemeral range, see
 * listenPort), etcd's default settings otherwise (so its default fsync of the WAL on every commit),
 * each member in its own process group (a Ctrl-C in the terminal reaches only the bench). Returns
 * once they are spawned; the caller waits for readiness (`waitForEtcd`) and must call `stop`.
 */
export async function startEtcdCluster(options: EtcdClusterOptions): Promise<EtcdCluster> {
  const dataRoot = join(options.runDir, `${options.slug}-data`);
  await mkdir(dataRoot, { recursive: true });
  const taken = new Set<number>();
  const distinctPort = async (): Promise<number> => {
    for (;;) {
      const port = await listenPort();
      if (!taken.has(port)) {
        taken.add(port);
        return port;
      }
    }
  };
  const plan: { name: string; clientUrl: string; peerUrl: string }[] = [];
  for (const name of MEMBER_NAMES) {
    plan.push({
      name,
      clientUrl: `http://127.0.0.1:${await distinctPort()}`,
      peerUrl: `http://127.0.0.1:${await distinctPort()}`,
    });
  }
  const initialCluster = plan.map((m) => `${m.name}=${m.peerUrl}`).join(",");

  const children: { readonly member: EtcdMember; readonly child: ChildProcess; exit: ChildExit | null }[] = [];
  for (const m of plan) {
    const logPath = join(options.runDir, `${options.slug}-${m.name}.log`);
    const logFd = openSync(logPath, "a");
    const child = spawn(
      ETCD_COMMAND,
      [
        `--name=${m.name}`,
        `--data-dir=${join(dataRoot, m.name)}`,
        `--listen-client-urls=${m.clientUrl}`,
        `--advertise-client-urls=${m.clientUrl}`,
        `--listen-peer-urls=${m.peerUrl}`,
        `--initial-advertise-peer-urls=${m.peerUrl}`,
        `--initial-cluster=${initialCluster}`,
        "--initial-cluster-state=new",
        `--initial-cluster-token=paxos-bench-${options.slug}-${process.pid}`,
      ],
      { stdio: ["ignore", logFd, logFd], detached: true, env: { PATH: process.env["PATH"] ?? "" } },
    );
    closeSync(logFd);
    child.once("error", () => undefined);
    if (child.pid === undefined) {
      for (const started of children) started.child.kill("SIGKILL");
      throw new BenchError(`could not start ${ETCD_COMMAND} (is it on PATH? apt-get install etcd-server)`);
    }
    const entry = { member: { ...m, pid: child.pid, logPath }, child, exit: null as ChildExit | null };
    child.once("exit", (code, signal) => {
      entry.exit = { code, signal };
    });
    children.push(entry);
  }

  const exited = (entry: (typeof children)[number]): Promise<void> =>
    entry.exit !== null ? Promise.resolve() : new Promise((resolve) => entry.child.once("exit", () => resolve()));

  const killNow = (): void => {
    for (const entry of children) {
      if (entry.exit === null) entry.child.kill("SIGKILL");
    }
  };

  let stopping: Promise<StopOutcome> | null = null;
  const stop = (timeoutMs: number): Promise<StopOutcome> => {
    stopping ??= (async () => {
      const startedMs = Date.now();
      let killed = false;
      const timer = setTimeout(() => {
        killed = true;
        killNow();
      }, timeoutMs);
      // One member at a time: a leader told to stop hands its leadership to a live member first,
      // which takes milliseconds; stopped together, each waits seconds for a transfer that
      // cannot happen.
      for (const entry of children) {
        if (entry.exit === null) entry.child.kill("SIGTERM");
        await exited(entry);
      }
      clearTimeout(timer);
      forget(cluster);
      if (!options.keepData) await rm(dataRoot, { recursive: true, force: true });
      // The first member that did not exit cleanly speaks for the cluster.
      const worst = children.find((e) => e.exit?.code !== 0)?.exit ?? children[0]?.exit ?? null;
      return {
        exitCode: worst?.code ?? null,
        signal: worst?.signal ?? null,
        stopMs: Date.now() - startedMs,
        killed,
        leftoverPids: [],
      };
    })();
    return stopping;
  };

  const members = children.map((e) => e.member);
  const cluster: EtcdCluster = {
    description: `etcd (members ${members.map((m) => `${m.name} pid ${m.pid}`).join(", ")})`,
    baseUrl: members[0]?.clientUrl ?? "",
    requestHeaders: { "content-type": "application/json" },
    rootPids: members.map((m) => m.pid),
    logPath: members[0]?.logPath ?? "",
    members,
    exitReason: () => {
      for (const { member, exit } of children) {
        if (exit === null) continue;
        const how = exit.signal !== null ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
        return `etcd member ${member.name} ${how} (its log: ${member.logPath})`;
      }
      return null;
    },
    stop,
    killNow,
  };
  remember(cluster);
  return cluster;
}

interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}
