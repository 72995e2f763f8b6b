import { join } from "node:path";
import type { Limits } from "@paxos/core";
import { BenchError } from "./bench-errors.ts";
import { LOG_CHECK_TIMEOUT_MS } from "./bench-limits.ts";
import { benchValue } from "./bench-write.ts";
import { type EtcdCluster, type EtcdMember, startEtcdCluster } from "./etcd-cluster.ts";
import { etcdPutApi, findEtcdLeader, readEtcdKeys, waitForEtcd } from "./etcd-api.ts";
import { type ExactlyOnceResult, KeyValueCheck, LogCheck, valueKey } from "./exactly-once.ts";
import { httpWriteTarget } from "./http-write-target.ts";
import { startServing, stopSystem, waitUntilServing } from "./measure-row.ts";
import { connectNatsWriteTarget, findNatsLogin, type NatsWriteTarget } from "./nats-write-target.ts";
import { type DecidedCount, paxosProposalApi, readDecided, readPaxosLog } from "./paxos-api.ts";
import { type PaxosCluster, startFreshPaxosCluster } from "./paxos-cluster.ts";
import { proposalRequest } from "./proposal-request.ts";
import type { StopOutcome, SystemUnderTest } from "./system-under-test.ts";
import type { SystemName } from "./versus-results.ts";
import type { WriteTarget } from "./write-target.ts";

/*
 * The four systems of the versus-etcd scenario, each behind one interface: start it (ready to
 * take writes), give the load a write target per cell, name its processes, check the writes it
 * acknowledged, and stop it.
 */

/** An acknowledged write as the load recorded it; its value is rebuilt for the check. */
export interface AcknowledgedBenchWrite {
  readonly writeId: string;
  readonly valueBytes: number;
  readonly requestId: string;
  readonly position: number;
}

/** A system of the comparison, started and ready to take writes. */
export interface RunningSystem {
  readonly name: SystemName;
  readonly system: SystemUnderTest;
  /** The write target for the next cell, and what it writes to (etcd: the member leading now). */
  targetForCell(signal: AbortSignal): Promise<{ readonly target: WriteTarget; readonly writesTo: string }>;
  /** The name a process gets in the CPU tables (`etcd leader`, `acceptor`, `redis-server` ...). */
  processLabel(pid: number, label: string): string;
  /** How far its log has come (ours; null for etcd, and when it cannot say): see `readDecided`. */
  decided(signal: AbortSignal): Promise<DecidedCount | null>;
  /** Reads back what the system stored and checks every acknowledged write in it exactly once. */
  check(acknowledged: readonly AcknowledgedBenchWrite[], signal: AbortSignal): Promise<ExactlyOnceResult>;
  /** Releases what the bench holds open on it (the NATS client), then stops it. */
  stop(say: (line: string) => void): Promise<StopOutcome>;
}

/** What starting a system needs. */
export interface SystemStartOptions {
  readonly repoRoot: string;
  readonly runDir: string;
  /** Names its files, e.g. "paxos-round1". */
  readonly slug: string;
  readonly keepData: boolean;
  /** With --profile: the folder its services write CPU profiles to (ours, in local mode); else null. */
  readonly profileDir: string | null;
  /** The limits variables our clusters run with (`--limits` and its kin). */
  readonly paxosEnv: Readonly<Record<string, string>>;
  readonly say: (line: string) => void;
  readonly signal: AbortSignal;
}

/** Starts `name` and waits until it takes writes; the caller must `stop` what it gets. */
export async function startSystem(name: SystemName, options: SystemStartOptions): Promise<RunningSystem> {
  switch (name) {
    case "etcd":
      return await startEtcd(options);
    case "paxos":
      return await startPaxos(name, options, {});
    case "paxos-embedded":
      return await startPaxos(name, options, { PAXOS_EMBEDDED: "1" });
    case "paxos-nats":
      return await startPaxosNats(options);
  }
}

/** The check with a bound on its time: a read that hangs reports a failed check, not a hung run. */
function checkSignal(signal: AbortSignal): AbortSignal {
  return AbortSignal.any([signal, AbortSignal.timeout(LOG_CHECK_TIMEOUT_MS)]);
}

function acknowledgedOf(writes: readonly AcknowledgedBenchWrite[]): {
  requestId: string;
  position: number;
  valueKey: string;
}[] {
  return writes.map((w) => ({
    requestId: w.requestId,
    position: w.position,
    valueKey: valueKey(benchValue(w.writeId, w.valueBytes)),
  }));
}

async function startEtcd(options: SystemStartOptions): Promise<RunningSystem> {
  const { system: cluster } = await startServing<EtcdCluster>({
    start: () => startEtcdCluster({ runDir: options.runDir, slug: options.slug, keepData: options.keepData }),
    waitReady: (c) => waitForEtcd(c, options.signal),
    say: options.say,
  });
  let leader: EtcdMember | null = null;
  return {
    name: "etcd",
    system: cluster,
    targetForCell: async (signal) => {
      leader = await findEtcdLeader(cluster, signal);
      return { target: httpWriteTarget(etcdPutApi(leader)), writesTo: `leader ${leader.name} (${leader.clientUrl})` };
    },
    processLabel: (pid) => {
      const member = cluster.members.find((m) => m.pid === pid);
      if (member === undefined) return "etcd";
      return member.pid === leader?.pid ? "etcd leader" : "etcd follower";
    },
    decided: () => Promise.resolve(null),
    check: async (acknowledged, signal) => {
      const check = new KeyValueCheck(acknowledgedOf(acknowledged));
      const from = leader ?? (await findEtcdLeader(cluster, signal));
      await readEtcdKeys(from, (key) => check.add(key), checkSignal(signal));
      return check.result();
    },
    stop: (say) => stopSystem(cluster, say),
  };
}

/** `npm start`'s cluster as paxos-cluster.ts starts it, with the launcher's default telemetry. */
async function startPaxosCluster(
  options: SystemStartOptions,
  env: Readonly<Record<string, string>>,
): Promise<PaxosCluster> {
  const { system } = await startServing<PaxosCluster>({
    start: () =>
      startFreshPaxosCluster({
        repoRoot: options.repoRoot,
        runDir: options.runDir,
        slug: options.slug,
        env: {
          ...options.paxosEnv,
          ...env,
          ...(options.profileDir === null ? {} : { PAXOS_CPU_PROFILE_DIR: options.profileDir }),
        },
        keepData: options.keepData,
      }),
    waitReady: (s) => waitUntilServing(s, "/readyz", proposalRequest(100), options.signal),
    say: options.say,
  });
  return system;
}

async function checkPaxosLog(
  cluster: PaxosCluster,
  acknowledged: readonly AcknowledgedBenchWrite[],
  signal: AbortSignal,
): Promise<ExactlyOnceResult> {
  const check = new LogCheck(acknowledgedOf(acknowledged));
  await readPaxosLog(cluster, check.highestAcknowledgedPosition, (entry) => check.add(entry), checkSignal(signal));
  return check.result();
}

async function startPaxos(
  name: "paxos" | "paxos-embedded",
  options: SystemStartOptions,
  env: Readonly<Record<string, string>>,
): Promise<RunningSystem> {
  const cluster = await startPaxosCluster(options, env);
  return {
    name,
    system: cluster,
    targetForCell: () => {
      const api = paxosProposalApi(cluster);
      return Promise.resolve({ target: httpWriteTarget(api), writesTo: `the gateway ${api.origin}` });
    },
    processLabel: (_pid, label) => label,
    decided: (signal) => readDecided(cluster, signal),
    check: (acknowledged, signal) => checkPaxosLog(cluster, acknowledged, signal),
    stop: (say) => stopSystem(cluster, say),
  };
}

async function startPaxosNats(options: SystemStartOptions): Promise<RunningSystem> {
  const cluster = await startPaxosCluster(options, {});
  let target: NatsWriteTarget;
  try {
    const login = await findNatsLogin(cluster.dataRoot, cluster.logPath);
    options.say(`native client: ${login.server}, cluster ${login.cluster}, user ${login.user}`);
    // The client must know the protocol limits the cluster runs with (--limits): its batches too.
    const limits = JSON.parse(options.paxosEnv["PAXOS_LIMITS"] ?? "{}") as Partial<Limits>;
    target = await connectNatsWriteTarget(login, options.signal, limits);
  } catch (error) {
    await stopSystem(cluster, options.say);
    throw error instanceof BenchError ? error : new BenchError(String(error));
  }
  return {
    name: "paxos-nats",
    system: cluster,
    targetForCell: () => Promise.resolve({ target, writesTo: target.description }),
    processLabel: (_pid, label) => label,
    decided: (signal) => readDecided(cluster, signal),
    check: (acknowledged, signal) => checkPaxosLog(cluster, acknowledged, signal),
    stop: async (say) => {
      await target.close().catch((error: unknown) => say(`closing the native client failed: ${String(error)}`));
      return await stopSystem(cluster, say);
    },
  };
}

/** Where a system's CPU profiles go with --profile (ours in local mode only); null without. */
export function profileDirOf(profileRoot: string | null, name: SystemName, round: number): string | null {
  if (profileRoot === null || name === "etcd" || name === "paxos-embedded") return null;
  return join(profileRoot, `${name}-round${round}`);
}
