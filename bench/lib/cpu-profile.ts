import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

/** One function's self time in a profile. */
export interface FunctionCost {
  /** `name (file:line)`, the file relative to the repository where it is one of ours. */
  readonly frame: string;
  readonly selfMs: number;
  /** Of the process's busy time (every sample but idle). */
  readonly share: number;
}

/** One process's CPU profile, summed up. */
export interface ProcessProfile {
  /** The folder the launcher named after it: `acceptor-a1`, `gateway`, … */
  readonly instance: string;
  readonly file: string;
  /** Sampled time that was not idle, start-up and shutdown included. */
  readonly busyMs: number;
  readonly top: readonly FunctionCost[];
}

interface CpuProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}

interface CpuProfile {
  readonly nodes: readonly CpuProfileNode[];
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/**
 * The part of a profile to count, as milliseconds before the profile's end (the process's exit):
 * the measured load, without start-up, warm-up and shutdown.
 */
export interface ProfileWindow {
  readonly fromMsBeforeEnd: number;
  readonly toMsBeforeEnd: number;
}

/**
 * Reads the `.cpuprofile` files Node's --cpu-prof wrote under `dir`, one folder per process
 * (`<dir>/<instance>/*.cpuprofile`), and sums each one's self time by function within `window`:
 * the `topN` costliest, and its busy time. Opens in Chrome DevTools (Performance) or speedscope
 * as flame graphs; this is the table of the same numbers.
 */
export async function readProfiles(
  dir: string,
  repoRoot: string,
  window: ProfileWindow,
  topN = 12,
): Promise<ProcessProfile[]> {
  const profiles: ProcessProfile[] = [];
  for (const instance of (await readdir(dir).catch(() => [])).sort()) {
    const files = (await readdir(join(dir, instance))).filter((f) => f.endsWith(".cpuprofile"));
    for (const file of files) {
      const path = join(dir, instance, file);
      profiles.push({
        instance,
        file: path,
        ...summarise(JSON.parse(await readFile(path, "utf8")) as CpuProfile, repoRoot, window, topN),
      });
    }
  }
  return profiles;
}

function summarise(
  profile: CpuProfile,
  repoRoot: string,
  window: ProfileWindow,
  topN: number,
): { busyMs: number; top: FunctionCost[] } {
  const frames = new Map<number, string>();
  for (const node of profile.nodes) frames.set(node.id, frameName(node, repoRoot));
  const selfUs = new Map<string, number>();
  let busyUs = 0;
  // Sample times, from the deltas; each sample stands for the time until the next one.
  const times: number[] = [];
  let at = profile.endTime - profile.timeDeltas.reduce((sum, d) => sum + d, 0);
  for (const delta of profile.timeDeltas) times.push((at += delta));
  const fromUs = profile.endTime - window.fromMsBeforeEnd * 1000;
  const toUs = profile.endTime - window.toMsBeforeEnd * 1000;
  for (let i = 0; i < profile.samples.length; i++) {
    const frame = frames.get(profile.samples[i] ?? -1) ?? "(unknown)";
    const us = profile.timeDeltas[i + 1] ?? 0;
    const t = times[i] ?? 0;
    if (frame === "(idle)" || t < fromUs || t > toUs) continue;
    busyUs += us;
    selfUs.set(frame, (selfUs.get(frame) ?? 0) + us);
  }
  const top = [...selfUs]
    .sort((a, b) => b[1] - a[1])
    .slice(0, topN)
    .map(([frame, us]) => ({ frame, selfMs: us / 1000, share: busyUs === 0 ? 0 : us / busyUs }));
  return { busyMs: busyUs / 1000, top };
}

function frameName(node: CpuProfileNode, repoRoot: string): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const name = functionName === "" ? "(anonymous)" : functionName;
  if (url === "") return name;
  const file = url.replace(/^file:\/\//, "").replace(`${repoRoot}/`, "");
  return `${name} (${file.replace(/^.*node_modules\//, "node_modules/")}:${lineNumber + 1})`;
}

/**
 * Markdown for one row's profiles: per process its busy time and share of the cluster's, what
 * that share is of the CPU the whole cluster spent per decision under load (`cpuMsPerDecision`,
 * measured from /proc during the load alone, nats-server and Redis included), and its costliest
 * functions. Only the measured load counts (see ProfileWindow).
 */
export function profileMarkdown(
  title: string,
  profiles: readonly ProcessProfile[],
  cpuMsPerDecision: number | null,
): string {
  const total = profiles.reduce((sum, p) => sum + p.busyMs, 0);
  const lines = [`## ${title}`, ""];
  lines.push("| process | busy ms | share | ≈ CPU-ms per decision |", "|---|---|---|---|");
  for (const p of profiles) {
    const share = total === 0 ? 0 : p.busyMs / total;
    const perDecision = cpuMsPerDecision === null ? "n/a" : (share * cpuMsPerDecision).toFixed(2);
    lines.push(`| ${p.instance} | ${p.busyMs.toFixed(0)} | ${(share * 100).toFixed(1)} % | ${perDecision} |`);
  }
  lines.push(
    "",
    "The per-decision column splits the Node processes' part of the measured cluster CPU by profile share (nats-server and Redis are not profiled, so it is an upper bound for each).",
    "",
  );
  for (const p of profiles) {
    lines.push(`### ${p.instance} (${p.file})`, "", "| self ms | share | function |", "|---|---|---|");
    for (const f of p.top) lines.push(`| ${f.selfMs.toFixed(0)} | ${(f.share * 100).toFixed(1)} % | \`${f.frame}\` |`);
    lines.push("");
  }
  return lines.join("\n");
}
