// What the test harnesses of nats-server and redis-server share: a server binary run as a child
// process of the test (output kept to explain a failed start, killed if the test process exits),
// and the wait until a server on a loopback port answers.
import { spawn, type ChildProcess } from "node:child_process";
import { connect } from "node:net";

/** How long a start or restart may take before it counts as failed. */
export const READY_TIMEOUT_MS = 10_000;
/** Lines of server output kept to explain a failed start. */
export const LOG_LINES_MAX = 40;

/** How to tell that a server is ready: the first line it answers with on a fresh connection. */
export interface ReadyCheck {
  /** What to send once connected (`"PING\r\n"`), or null for a server that speaks first. */
  readonly request: string | null;
  /** How the first line of the answer starts when the server is ready (`"+PONG"`, `"INFO "`). */
  readonly replyPrefix: string;
  /** The failure named when it never answers, such as "redis-server did not answer PING". */
  readonly silence: string;
}

/** How `LocalServerProcess` runs one server. */
export interface LocalServerOptions {
  /** The executable, looked up on PATH (`"nats-server"`). */
  readonly binary: string;
  /** Its arguments, the same at every start. */
  readonly args: readonly string[];
  /** The loopback port the arguments make it listen on. */
  readonly port: number;
  /** Said when the binary is not on PATH, such as "install it (apt-get install nats-server)". */
  readonly installHint: string;
  readonly ready: ReadyCheck;
}

/**
 * A server binary as a child process of the test. `restart` (also the first start) resolves once
 * the server answers on its port and rejects with the reason and the server's last output if it
 * does not. The caller must `stop()` it; a test process that exits without doing so kills it.
 */
export class LocalServerProcess {
  readonly port: number;
  readonly #options: LocalServerOptions;
  #child: ChildProcess | null = null;
  #exited: Promise<void> = Promise.resolve();
  #log: string[] = [];

  constructor(options: LocalServerOptions) {
    this.port = options.port;
    this.#options = options;
  }

  /** Stops the server if it runs, then starts it again with the same arguments. */
  async restart(): Promise<void> {
    await this.#terminate("SIGTERM");
    const { binary, args, installHint } = this.#options;
    const child = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] });
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
            ? `${binary} is not on PATH: ${installHint} or run a Docker engine`
            : `${binary} failed to start: ${error.message}`;
        resolve();
      });
      child.once("exit", (code, signal) => {
        exitReason ??= `${binary} exited (code ${code}, signal ${signal})`;
        resolve();
      });
    });
    liveChildren.add(child);
    void this.#exited.then(() => liveChildren.delete(child));
    await waitReady(
      this.port,
      this.#options.ready,
      () => exitReason,
      () => this.#log,
    );
  }

  /**
   * Sends `signal` (default SIGKILL) to the server. For SIGKILL, SIGTERM and SIGINT it resolves
   * once the server is gone; for others (SIGSTOP, SIGCONT) once the signal is delivered.
   */
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    if (signal === "SIGKILL" || signal === "SIGTERM" || signal === "SIGINT") {
      await this.#terminate(signal);
      return;
    }
    this.#child?.kill(signal);
  }

  /** Stops the server for good (SIGTERM) and resolves once it has exited. */
  async stop(): Promise<void> {
    await this.#terminate("SIGTERM");
  }

  /** Signals the child by its pid (waking it first if paused) and waits until it has exited. */
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

/**
 * Connects to the loopback `port` until the server answers as `check` says, the process is gone
 * (`exitReason` returns non-null) or READY_TIMEOUT_MS passes; then rejects with the reason and
 * the server's last output (`log`). A server in a container passes neither.
 */
export async function waitReady(
  port: number,
  check: ReadyCheck,
  exitReason: () => string | null = () => null,
  log: () => readonly string[] = () => [],
): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (await answersOnce(port, check)) return;
    const reason = exitReason() ?? (Date.now() > deadline ? `${check.silence} within ${READY_TIMEOUT_MS} ms` : null);
    if (reason !== null) {
      const tail = log();
      throw new Error(tail.length === 0 ? reason : `${reason}; its last output:\n${tail.join("\n")}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** One TCP connection: true when the first line the server sends starts with the ready prefix. */
async function answersOnce(port: number, check: ReadyCheck): Promise<boolean> {
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
    const request = check.request;
    if (request !== null) socket.once("connect", () => socket.write(request));
    socket.on("data", (chunk) => {
      reply += chunk.toString("utf8");
      if (reply.includes("\r\n")) done(reply.startsWith(check.replyPrefix));
    });
  });
}
