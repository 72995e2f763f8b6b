// A real redis-server for tests, on a free loopback port with its own data folder: a Docker
// container (testcontainers, redis:7-alpine) where a Docker engine runs, else a local process.
// Both run with the durability settings an acceptor requires (DESIGN.md, "Redis layout").
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { GenericContainer, getContainerRuntimeClient, type StartedTestContainer } from "testcontainers";
import { dockerAvailable } from "./docker.ts";
import { freePort } from "./free-port.ts";

/** How long a start or restart may take before it counts as failed. */
const READY_TIMEOUT_MS = 10_000;
/** Lines of server output kept to explain a failed start. */
const LOG_LINES_MAX = 40;

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
  const port = await freePort();
  const server = (await dockerAvailable())
    ? new ContainerRedis(port, dir, ownDir, aof)
    : new LocalRedis(port, dir, ownDir, aof);
  try {
    await server.restart();
  } catch (error) {
    if (ownDir) await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return server;
}

/** The server flags, without port and dir, that make Redis durable (or not, for `aof: false`). */
function durabilityFlags(aof: boolean): string[] {
  return [
    "--appendonly",
    aof ? "yes" : "no",
    "--appendfsync",
    "always",
    "--aof-load-truncated",
    "no",
    "--maxmemory-policy",
    "noeviction",
    "--save",
    "",
  ];
}

/** redis-server as a child process of the test. */
class LocalRedis implements RedisServer {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  readonly #ownDir: boolean;
  readonly #aof: boolean;
  #child: ChildProcess | null = null;
  #exited: Promise<void> = Promise.resolve();
  #log: string[] = [];

  constructor(port: number, dir: string, ownDir: boolean, aof: boolean) {
    this.port = port;
    this.url = `redis://127.0.0.1:${port}`;
    this.dir = dir;
    this.#ownDir = ownDir;
    this.#aof = aof;
  }

  async restart(): Promise<void> {
    await this.#terminate("SIGTERM");
    const args = ["--port", String(this.port), "--bind", "127.0.0.1", "--dir", this.dir, ...durabilityFlags(this.#aof)];
    const child = spawn("redis-server", args, { stdio: ["ignore", "pipe", "pipe"] });
    this.#child = child;
    this.#log = [];
    const onOutput = (chunk: Buffer): void => {
      this.#log.push(
        ...chunk
          .toString("utf8")
          .split("\n")
          .filter((line) => line !== ""),
      );
      this.#log.splice(0, Math.max(0, this.#log.length - LOG_LINES_MAX));
    };
    child.stdout?.on("data", onOutput);
    child.stderr?.on("data", onOutput);
    let exitReason: string | null = null;
    this.#exited = new Promise((resolve) => {
      child.once("error", (error: NodeJS.ErrnoException) => {
        exitReason =
          error.code === "ENOENT"
            ? "redis-server is not on PATH: install Redis 7 (apt-get install redis-server) or run a Docker engine"
            : `redis-server failed to start: ${error.message}`;
        resolve();
      });
      child.once("exit", (code, signal) => {
        exitReason ??= `redis-server exited (code ${code}, signal ${signal})`;
        resolve();
      });
    });
    liveChildren.add(child);
    void this.#exited.then(() => liveChildren.delete(child));
    await waitReady(
      this.port,
      () => exitReason,
      () => this.#log,
    );
  }

  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    if (signal === "SIGKILL" || signal === "SIGTERM" || signal === "SIGINT") {
      await this.#terminate(signal);
      return;
    }
    this.#child?.kill(signal);
  }

  async stop(): Promise<void> {
    await this.#terminate("SIGTERM");
    if (this.#ownDir) await rm(this.dir, { recursive: true, force: true });
  }

  async cli(...args: string[]): Promise<string> {
    return await runCommand(this.port, args);
  }

  /** Signals the child (waking it first if paused) and waits until it has exited. */
  async #terminate(signal: NodeJS.Signals): Promise<void> {
    const child = this.#child;
    if (child === null) return;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill(signal);
      if (signal !== "SIGKILL") child.kill("SIGCONT");
    }
    await this.#exited;
    this.#child = null;
  }
}

/** Children to kill if the test process exits without stopping them (a crashed test run). */
const liveChildren = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of liveChildren) child.kill("SIGKILL");
});

/** redis:7-alpine in Docker, with its data folder bind-mounted and a fixed host port. */
class ContainerRedis implements RedisServer {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  readonly #ownDir: boolean;
  readonly #aof: boolean;
  #container: StartedTestContainer | null = null;

  constructor(port: number, dir: string, ownDir: boolean, aof: boolean) {
    this.port = port;
    this.url = `redis://127.0.0.1:${port}`;
    this.dir = dir;
    this.#ownDir = ownDir;
    this.#aof = aof;
  }

  async restart(): Promise<void> {
    if (this.#container === null) {
      // Running as our own user keeps the AOF files readable and removable by the test.
      const user = `${process.getuid?.() ?? 0}:${process.getgid?.() ?? 0}`;
      this.#container = await new GenericContainer("redis:7-alpine")
        .withCommand(["redis-server", "--dir", "/data", ...durabilityFlags(this.#aof)])
        .withExposedPorts({ container: 6379, host: this.port })
        .withBindMounts([{ source: this.dir, target: "/data" }])
        .withUser(user)
        .start();
    } else {
      await this.#terminate("SIGTERM");
      const client = await getContainerRuntimeClient();
      await client.container.start(client.container.getById(this.#container.getId()));
    }
    await waitReady(
      this.port,
      () => null,
      () => [],
    ).catch(async (error: unknown) => {
      const logs = await this.#logs();
      throw new Error(`${String(error)}\n${logs}`, { cause: error });
    });
  }

  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    if (signal === "SIGKILL" || signal === "SIGTERM" || signal === "SIGINT") {
      await this.#terminate(signal);
      return;
    }
    const container = this.#container;
    if (container === null) return;
    const client = await getContainerRuntimeClient();
    const handle = client.container.getById(container.getId());
    await (signal === "SIGSTOP" ? handle.pause() : signal === "SIGCONT" ? handle.unpause() : handle.kill({ signal }));
  }

  async stop(): Promise<void> {
    await this.#container?.stop({ remove: true });
    this.#container = null;
    if (this.#ownDir) await rm(this.dir, { recursive: true, force: true });
  }

  async cli(...args: string[]): Promise<string> {
    return await runCommand(this.port, args);
  }

  async #terminate(signal: NodeJS.Signals): Promise<void> {
    const container = this.#container;
    if (container === null) return;
    const client = await getContainerRuntimeClient();
    const handle = client.container.getById(container.getId());
    const info = await client.container.inspect(handle);
    if (info.State.Paused) await handle.unpause();
    if (info.State.Running) {
      await handle.kill({ signal });
      await handle.wait();
    }
  }

  async #logs(): Promise<string> {
    const stream = await this.#container?.logs({ tail: LOG_LINES_MAX });
    if (stream === undefined) return "";
    const chunks: string[] = [];
    for await (const chunk of stream) chunks.push(String(chunk));
    return chunks.join("");
  }
}

/**
 * Polls PING on the port until the server answers PONG (not LOADING), the process is gone
 * (`exitReason` returns non-null) or READY_TIMEOUT_MS passes.
 */
async function waitReady(port: number, exitReason: () => string | null, log: () => string[]): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (await pingOnce(port)) return;
    const reason =
      exitReason() ?? (Date.now() > deadline ? `redis-server did not answer PING within ${READY_TIMEOUT_MS} ms` : null);
    if (reason !== null) {
      const tail = log();
      throw new Error(tail.length === 0 ? reason : `${reason}; its last output:\n${tail.join("\n")}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** One raw PING over a fresh connection: true on +PONG. */
async function pingOnce(port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const socket = connect({ port, host: "127.0.0.1" });
    let reply = "";
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once("error", () => done(false));
    socket.once("close", () => done(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk) => {
      reply += chunk.toString("utf8");
      if (reply.includes("\r\n")) done(reply.startsWith("+PONG"));
    });
  });
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
