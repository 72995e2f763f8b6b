import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

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
