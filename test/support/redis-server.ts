// A real redis-server for tests, on a free loopback port with its own data folder: a Docker
// container (testcontainers, redis:7-alpine) where a Docker engine runs, else a local process.
// Both run with the durability settings an acceptor requires (DESIGN.md, "Redis layout").
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requiredSettingsFlags } from "@paxos/store-redis";
import { Redis } from "ioredis";
import { GenericContainer } from "testcontainers";
import { dockerAvailable } from "./docker.ts";
import { listenPort } from "./free-port.ts";
import { LocalServerProcess, type ReadyCheck } from "./local-server.ts";
import { ServerContainer } from "./server-container.ts";

/** Redis answers PING with PONG once it has loaded its data (LOADING before that). */
const REDIS_READY: ReadyCheck = {
  request: "PING\r\n",
  replyPrefix: "+PONG",
  silence: "redis-server did not answer PING",
};

/** Options of `startRedis`. */
export interface RedisServerOptions {
  /** AOF with `appendfsync always` (default true); false runs with `--appendonly no`. */
  readonly aof?: boolean;
  /** Data folder to use (kept on stop); default: a fresh temp folder, removed on stop. */
  readonly dir?: string;
}

/** A running redis-server that a test controls. */
export interface RedisServer {
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /** The data folder on this machine (the AOF is in `<dir>/appendonlydir/`). */
  readonly dir: string;
  /** Stops the server for good and removes the data folder if startRedis created it. */
  stop(): Promise<void>;
  /**
   * Sends `signal` (default SIGKILL) to redis-server. For SIGKILL, SIGTERM and SIGINT it resolves
   * once the server is gone; for others (SIGSTOP, SIGCONT) once the signal is delivered.
   */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /**
   * Stops the server if it runs, then starts it again on the same port and data folder. Rejects
   * with the server's own last log lines if it does not come up (for example, a bad AOF).
   */
  restart(): Promise<void>;
  /** Runs one command (`cli("CONFIG", "GET", "appendonly")`) and returns the reply as text. */
  cli(...args: string[]): Promise<string>;
}

/**
 * Starts a redis-server for one test file. The caller must `stop()` it (in afterAll). Rejects
 * with a clear message when neither Docker nor a `redis-server` binary is available.
 */
export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  const aof = options.aof ?? true;
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), "paxos-redis-")));
  const port = await listenPort();
  const server = (await dockerAvailable())
    ? new ServerContainer({
        // Running as our own user keeps the AOF files readable and removable by the test.
        container: new GenericContainer("redis:7-alpine")
          .withCommand(["redis-server", "--dir", "/data", ...durabilityFlags(aof)])
          .withExposedPorts({ container: 6379, host: port })
          .withBindMounts([{ source: dir, target: "/data" }])
          .withUser(`${process.getuid?.() ?? 0}:${process.getgid?.() ?? 0}`),
        port,
        ready: REDIS_READY,
        // A bad AOF shows only in the server's log.
        logsOnFailure: true,
      })
    : new LocalServerProcess({
        binary: "redis-server",
        args: ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, ...durabilityFlags(aof)],
        port,
        installHint: "install Redis 7 (apt-get install redis-server)",
        ready: REDIS_READY,
      });
  const removeOwnDir = async (): Promise<void> => {
    if (ownDir) await rm(dir, { recursive: true, force: true });
  };
  try {
    await server.restart();
  } catch (error) {
    await removeOwnDir();
    throw error;
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    stop: async () => {
      await server.stop();
      await removeOwnDir();
    },
    kill: (signal) => server.kill(signal),
    restart: () => server.restart(),
    cli: (...args) => runCommand(port, args),
  };
}

/** The server flags, without port and dir, that make Redis durable (or not, for `aof: false`). */
function durabilityFlags(aof: boolean): string[] {
  // Without AOF: everything else as an acceptor requires, so only appendonly is wrong.
  return [...requiredSettingsFlags(), ...(aof ? [] : ["--appendonly", "no"]), "--save", ""];
}

/** Runs one command on a short-lived client and renders the reply as redis-cli would, roughly. */
async function runCommand(port: number, args: readonly string[]): Promise<string> {
  const [command, ...rest] = args;
  if (command === undefined) throw new Error("cli needs a command");
  const client = new Redis({
    host: "127.0.0.1",
    port,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    commandTimeout: 5_000,
  });
  client.on("error", () => undefined);
  try {
    await client.connect();
    return render(await client.call(command, ...rest));
  } finally {
    client.disconnect();
  }
}

function render(reply: unknown): string {
  if (reply === null || reply === undefined) return "";
  if (Array.isArray(reply)) return reply.map(render).join("\n");
  if (Buffer.isBuffer(reply)) return reply.toString("utf8");
  if (
    typeof reply === "string" ||
    typeof reply === "number" ||
    typeof reply === "bigint" ||
    typeof reply === "boolean"
  ) {
    return String(reply);
  }
  return JSON.stringify(reply);
}
