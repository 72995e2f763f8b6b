import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** The servers a launcher started, kept in its data folder while it runs. */
const SERVERS_FILE = "npm-start.servers.json";
/** How long a leftover server gets to stop after SIGTERM before SIGKILL. */
const LEFTOVER_STOP_MS = 5_000;

/** A server the launcher started: its pid and what its command line shows. */
export interface ServerRecord {
  readonly pid: number;
  readonly command: string;
  readonly port: number;
  /**
   * Text its command line shows besides `command`, to tell it from a process that reused the pid.
   * Default: the port, which redis-server (in the title it sets) and prometheus show; nats-server
   * started with `-c FILE` shows the file instead.
   */
  readonly commandLineShows?: string;
}

/**
 * Remembers the servers of this run in `<dataRoot>/npm-start.servers.json`, so that the next
 * launcher can stop them if this one is killed with SIGKILL (which leaves them running on the
 * data folder). The file is removed when this process exits.
 */
export class ServerRegistry {
  readonly #path: string;
  readonly #records: ServerRecord[] = [];

  constructor(dataRoot: string) {
    this.#path = join(dataRoot, SERVERS_FILE);
    process.once("exit", () => rmSync(this.#path, { force: true }));
  }

  add(record: ServerRecord): void {
    this.#records.push(record);
    writeFileSync(this.#path, `${JSON.stringify(this.#records)}\n`);
  }
}

/**
 * Stops the servers a previous launcher left running on `dataRoot` (it was killed before it could
 * stop them): each recorded pid whose command line still shows that server gets SIGTERM,
 * then SIGKILL. Two redis-servers on one AOF folder would corrupt it. Call after claiming the
 * data folder's lock, before starting servers.
 */
export async function stopLeftoverServers(dataRoot: string, say: (line: string) => void): Promise<void> {
  const path = join(dataRoot, SERVERS_FILE);
  if (!existsSync(path)) return;
  let records: ServerRecord[];
  try {
    records = JSON.parse(readFileSync(path, "utf8")) as ServerRecord[];
  } catch {
    records = [];
  }
  for (const record of records) {
    if (!stillRuns(record)) continue;
    say(`stopping ${record.command} (pid ${record.pid}) left running by a launcher that was killed`);
    process.kill(record.pid, "SIGTERM");
    const deadline = Date.now() + LEFTOVER_STOP_MS;
    while (stillRuns(record) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    if (stillRuns(record)) process.kill(record.pid, "SIGKILL");
  }
  rmSync(path, { force: true });
}

/** True when `record.pid` runs and its command line names the same server (not a reused pid). */
function stillRuns(record: ServerRecord): boolean {
  if (!Number.isSafeInteger(record.pid) || record.pid <= 0) return false;
  try {
    const commandLine = execFileSync("ps", ["-p", String(record.pid), "-o", "command="], { encoding: "utf8" });
    return commandLine.includes(record.command) && commandLine.includes(record.commandLineShows ?? String(record.port));
  } catch {
    return false;
  }
}
