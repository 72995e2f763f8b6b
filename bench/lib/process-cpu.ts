import { execFileSync } from "node:child_process";
import { descendants, haveProc, type ProcessIdentity, processLabel, readProcFile, readStat } from "./process-tree.ts";

/** One process's CPU time at one moment. */
interface ProcessTicks {
  readonly label: string;
  readonly startTicks: number;
  /** utime + stime, in clock ticks. */
  readonly cpuTicks: number;
  /** Read and write system calls so far (/proc/<pid>/io); null where that cannot be read. */
  readonly syscalls: number | null;
}

/** The CPU time of a process tree at one moment, by pid; null where /proc cannot be read. */
export type CpuSample = ReadonlyMap<number, ProcessTicks> | null;

/** CPU seconds one process spent between two samples. */
export interface ProcessCpu {
  readonly pid: number;
  readonly label: string;
  readonly cpuSeconds: number;
  /**
   * Read and write system calls (sockets, pipes, files) between the samples; null where /proc
   * did not say. Every message a process sends or receives is one of them at least, so this
   * counts its messages (and store calls): steady from run to run where CPU seconds are not.
   */
  readonly syscalls: number | null;
}

/** CPU spent by a process tree between two samples. */
export interface TreeCpu {
  readonly cpuSeconds: number;
  /** Per process, busiest first. */
  readonly processes: readonly ProcessCpu[];
}

const clockTicksPerSecond = readClockTicks();

/**
 * The processes of a system at one moment: every root in `rootPids` and every live descendant
 * of each. List them once before a window and sample only them (`sampleCpuOf`): walking all of
 * /proc takes long enough to stall a load generator that runs in the same process.
 */
export function treeProcesses(rootPids: readonly number[]): ProcessIdentity[] {
  const found: ProcessIdentity[] = [];
  for (const rootPid of rootPids) {
    const stat = readStat(rootPid);
    if (stat !== null) found.push({ pid: rootPid, startTicks: stat.startTicks });
    found.push(...descendants(rootPid));
  }
  return found;
}

/**
 * Samples utime + stime of the given processes (those still running). Take one sample before and
 * one after a window and pass both to `cpuBetween`; a process that started or exited in between
 * is not counted, so list and sample while the system is steady (after startup, before stopping).
 */
export function sampleCpuOf(processes: readonly ProcessIdentity[]): CpuSample {
  if (!haveProc()) return null;
  const sample = new Map<number, ProcessTicks>();
  for (const { pid, startTicks } of processes) {
    const stat = readStat(pid);
    if (stat?.startTicks === startTicks)
      sample.set(pid, { label: processLabel(pid), startTicks, cpuTicks: stat.cpuTicks, syscalls: readSyscalls(pid) });
  }
  return sample;
}

/** Samples `rootPids` and all their live descendants: `sampleCpuOf(treeProcesses(rootPids))`. */
export function sampleCpu(rootPids: readonly number[]): CpuSample {
  return sampleCpuOf(treeProcesses(rootPids));
}

/** CPU seconds spent between two samples by the processes present in both; null without /proc. */
export function cpuBetween(before: CpuSample, after: CpuSample): TreeCpu | null {
  if (before === null || after === null) return null;
  const processes: ProcessCpu[] = [];
  for (const [pid, end] of after) {
    const start = before.get(pid);
    if (start?.startTicks !== end.startTicks) continue;
    processes.push({
      pid,
      label: end.label,
      cpuSeconds: (end.cpuTicks - start.cpuTicks) / clockTicksPerSecond,
      syscalls: end.syscalls === null || start.syscalls === null ? null : end.syscalls - start.syscalls,
    });
  }
  processes.sort((a, b) => b.cpuSeconds - a.cpuSeconds);
  return { cpuSeconds: processes.reduce((sum, p) => sum + p.cpuSeconds, 0), processes };
}

/** `syscr + syscw` of /proc/<pid>/io: the process's read and write system calls so far. */
export function readSyscalls(pid: number): number | null {
  const text = readProcFile(pid, "io");
  if (text === null) return null;
  const count = (name: string): number => Number(new RegExp(`^${name}: (\\d+)$`, "m").exec(text)?.[1] ?? NaN);
  const total = count("syscr") + count("syscw");
  return Number.isFinite(total) ? total : null;
}

function readClockTicks(): number {
  try {
    const ticks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
    return Number.isSafeInteger(ticks) && ticks > 0 ? ticks : 100;
  } catch {
    return 100;
  }
}
