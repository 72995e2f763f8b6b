import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** The lock file in the data folder: the pid of the `npm start` that uses it. */
const LOCK_FILE = "npm-start.pid";

/**
 * Claims `dataRoot` for this process, so that a second `npm start` on the same folder cannot
 * start a second redis-server on the same AOF (which would corrupt it). A lock left by a process
 * that is gone is taken over. Returns null when claimed (the lock is removed at exit), else the
 * pid of the live owner.
 */
export function lockDataRoot(dataRoot: string): number | null {
  mkdirSync(dataRoot, { recursive: true });
  const path = join(dataRoot, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: "wx" });
      process.once("exit", () => rmSync(path, { force: true }));
      return null;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const owner = Number.parseInt(readFileSync(path, "utf8"), 10);
    if (Number.isSafeInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) return owner;
    rmSync(path, { force: true });
  }
  throw new Error(`cannot claim ${path}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
