import { chmod, mkdir, rm, writeFile } from "node:fs/promises";

/** Creates `dir` (with its parents) and makes it 0700: only this user may list or enter it. */
export async function makePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
}

/**
 * Writes a file holding secrets, readable and writable by this user only (0600). Any file at
 * `path` is removed first, so the new secret never inherits an older file's looser mode.
 */
export async function writePrivateFile(path: string, text: string): Promise<void> {
  await rm(path, { force: true });
  await writeFile(path, text, { mode: 0o600, flag: "wx" });
}
