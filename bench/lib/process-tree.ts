import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { basename } from "node:path";

/** The fields of /proc/<pid>/stat the bench uses. */
export interface ProcessStat {
  /** R, S, D, Z (exited, not yet reaped), ... */
  readonly state: string;
  readonly ppid: number;
  /** utime + stime, in clock ticks. */
  readonly cpuTicks: number;
  /** When the process started, in clock ticks since boot: with the pid, names one process. */
  readonly startTicks: number;
}

/** A process found at one moment: its pid and start time, so a reused pid is never mistaken for it. */
export interface ProcessIdentity {
  readonly pid: number;
  readonly startTicks: number;
}

/** The text of /proc/<pid>/<file>; null when the process is gone, or the file cannot be read. */
export function readProcFile(pid: number, file: string): string | null {
  try {
    return readFileSync(`/proc/${pid}/${file}`, "utf8");
  } catch {
    return null;
  }
}

/** Reads /proc/<pid>/stat; null when the process is gone or there is no /proc (not Linux). */
export function readStat(pid: number): ProcessStat | null {
  const text = readProcFile(pid, "stat");
  if (text === null) return null;
  // The command name (field 2) is in parentheses and may itself hold spaces and parentheses, so
  // fields are counted from the last ")": state is field 3, ppid 4, utime 14, stime 15, starttime 22.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const state = fields[0] ?? "?";
  const ppid = Number(fields[1]);
  const cpuTicks = Number(fields[11]) + Number(fields[12]);
  const startTicks = Number(fields[19]);
  return [ppid, cpuTicks, startTicks].every(Number.isFinite) ? { state, ppid, cpuTicks, startTicks } : null;
}

/** True where /proc can be read. */
export function haveProc(): boolean {
  return readStat(process.pid) !== null;
}

/**
 * Every live descendant of `rootPid` (children, grandchildren, ...), found by the parent pid in
 * /proc/<pid>/stat. A child started `detached` is in a process group of its own but keeps its
 * parent's pid, so this finds what a kill of the root's process group would miss. Empty without
 * /proc.
 */
export function descendants(rootPid: number): ProcessIdentity[] {
  const children = new Map<number, ProcessIdentity[]>();
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return [];
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const stat = readStat(pid);
    if (stat === null) continue;
    const siblings = children.get(stat.ppid) ?? [];
    siblings.push({ pid, startTicks: stat.startTicks });
    children.set(stat.ppid, siblings);
  }
  const result: ProcessIdentity[] = [];
  const queue = [rootPid];
  for (let parent = queue.shift(); parent !== undefined; parent = queue.shift()) {
    for (const child of children.get(parent) ?? []) {
      result.push(child);
      queue.push(child.pid);
    }
  }
  return result;
}

/**
 * True while the process named by `identity` (not merely some process with its pid) runs. A
 * zombie (exited, waiting for its parent, or for init once orphaned, to reap it) is not alive.
 */
export function isAlive(identity: ProcessIdentity): boolean {
  const stat = readStat(identity.pid);
  return stat !== null && stat.startTicks === identity.startTicks && stat.state !== "Z" && stat.state !== "X";
}

/** Sends `signal` to the process named by `identity` if it is still that process; true if sent. */
export function signalProcess(identity: ProcessIdentity, signal: NodeJS.Signals): boolean {
  if (!isAlive(identity)) return false;
  try {
    process.kill(identity.pid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * "acceptor" for `node services/acceptor/src/main.ts`, "cluster" for the launcher, else the
 * binary ("redis-server", whose title "redis-server 127.0.0.1:6379" is one argument).
 */
export function processLabel(pid: number): string {
  let argv: string[];
  try {
    argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  } catch {
    return "?";
  }
  for (const arg of argv) {
    const service = /services\/([^/]+)\/src\/main\.ts$/.exec(arg);
    if (service?.[1] !== undefined) return service[1];
  }
  return basename((argv[0] ?? "?").split(" ")[0] ?? "?");
}

/**
 * Whether a process in the tree of `rootPid` (it or a descendant) holds the socket that listens
 * on TCP `port`: matched by socket inode between /proc/net/tcp{,6} and /proc/<pid>/fd. Tells a
 * system's own server from another program that took its port. Null where /proc cannot tell.
 */
export function treeListensOn(rootPid: number, port: number): boolean | null {
  const inodes = new Set<string>();
  let readable = false;
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(table, "utf8");
    } catch {
      continue;
    }
    readable = true;
    for (const line of text.split("\n").slice(1)) {
      // sl local_address rem_address st ... inode: the port is the hex after the colon, 0A is LISTEN.
      const fields = line.trim().split(/\s+/);
      const localPort = Number.parseInt(fields[1]?.split(":")[1] ?? "", 16);
      if (localPort === port && fields[3] === "0A" && fields[9] !== undefined) inodes.add(fields[9]);
    }
  }
  if (!readable) return null;
  for (const pid of [rootPid, ...descendants(rootPid).map((d) => d.pid)]) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode !== undefined && inodes.has(inode)) return true;
    }
  }
  return false;
}
