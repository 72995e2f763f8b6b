import { readFileSync } from "node:fs";
import { LOG_TAIL_LINES } from "./bench-limits.ts";

/** A run that cannot go on (a system did not start, did not stop); the message says why and where to look. */
export class BenchError extends Error {
  override readonly name = "BenchError";
}

/** The run was stopped by the user (Ctrl-C). */
export class BenchAborted extends Error {
  override readonly name = "BenchAborted";
  constructor() {
    super("stopped by the user");
  }
}

/** Throws BenchAborted once `signal` has fired. */
export function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw new BenchAborted();
}

/** The last lines of a log file, indented, to quote in an error message ("" if unreadable). */
export function logTail(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return "";
  }
  const lines = text.trimEnd().split("\n").slice(-LOG_TAIL_LINES);
  return lines.map((line) => `    ${line}`).join("\n");
}
