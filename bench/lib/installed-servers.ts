import { execFile } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { promisify } from "node:util";
import { VERSION_PROBE_TIMEOUT_MS } from "./bench-limits.ts";

/** The full path of `name` on PATH, or null when it is not there (or not executable). */
export function findExecutable(name: string, path = process.env["PATH"] ?? ""): string | null {
  for (const dir of path.split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * What is missing of the servers a real-process `npm start` cluster needs, as a message with the
 * install command, or null. Without them the launcher would quietly run its embedded cluster,
 * and the bench would measure something else than it says.
 */
export function missingClusterServers(): string | null {
  const missing = ["nats-server", "redis-server"].filter((name) => findExecutable(name) === null);
  if (missing.length === 0) return null;
  return `${missing.join(" and ")} not found on PATH: apt-get install ${missing.join(" ")} (Debian package names)`;
}

const run = promisify(execFile);

/** The first line `<command> --version` prints, or why there is none. */
export async function versionOf(command: string): Promise<string> {
  try {
    const { stdout, stderr } = await run(command, ["--version"], { timeout: VERSION_PROBE_TIMEOUT_MS });
    return (
      `${stdout}\n${stderr}`
        .split("\n")
        .map((line) => line.trim())
        .find((line) => line !== "") ?? "(printed nothing)"
    );
  } catch (error) {
    return `unknown (${error instanceof Error ? error.message : String(error)})`;
  }
}
