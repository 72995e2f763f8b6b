import { execFileSync } from "node:child_process";
import { descendants, haveProc, processLabel, readStat } from "./process-tree.ts";

/** One process's CPU time at one moment. */
interface ProcessTicks {
  readonly label: string;
  readonly startTicks: number;
  /** utime + stime, in clock ticks. */
  readonly cpuTicks: number;
}

/** The CPU time of a process tree at one moment, by pid; null where /proc cannot be read. */
export type CpuSample = ReadonlyMap<number, ProcessTicks> | null;

/** CPU seconds one process spent between two samples. */
export interface ProcessCpu {
  readonly pid: number;
  readonly label: string;
  readonly cpuSeconds: number;
}

/** CPU spent by a process tree between two samples. */
export interface TreeCpu {
  readonly cpuSeconds: number;
  /** Per process, busiest first. */
  readonly processes: readonly ProcessCpu[];
}

const clockTicksPerSecond = readClockTicks();

/**
 * Samples utime + stime of `rootPid` and every live descendant. Take one sample before and one
 * after a window and pass both to `cpuBetween`. A process that starts or exits inside the window
 * is not counted, so sample while the tree is steady (after startup, before stopping).
 */
export function sampleCpu(rootPid: number): CpuSample {
  if (!haveProc()) return null;
  const sample = new Map<number, ProcessTicks>();
  for (const pid of [rootPid, ...descendants(rootPid).map((d) => d.pid)]) {
    const stat = readStat(pid);
    if (stat !== null)
      sample.set(pid, { label: processLabel(pid), startTicks: stat.startTicks, cpuTicks: stat.cpuTicks });
  }
  return sample;
}

/** CPU seconds spent between two samples by the processes present in both; null without /proc. */
export function cpuBetween(before: CpuSample, after: CpuSample): TreeCpu | null {
  if (before === null || after === null) return null;
  const processes: ProcessCpu[] = [];
  for (const [pid, end] of after) {
    const start = before.get(pid);
    if (start?.startTicks !== end.startTicks) continue;
    processes.push({ pid, label: end.label, cpuSeconds: (end.cpuTicks - start.cpuTicks) / clockTicksPerSecond });
  }
  processes.sort((a, b) => b.cpuSeconds - a.cpuSeconds);
  return { cpuSeconds: processes.reduce((sum, p) => sum + p.cpuSeconds, 0), processes };
}

function readClockTicks(): number {
  try {
    const ticks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
    return Number.isSafeInteger(ticks) && ticks > 0 ? ticks : 100;
  } catch {
    return 100;
  }
}
