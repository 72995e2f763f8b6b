// A real nats-server for tests, on a free loopback port: a Docker container (testcontainers,
// nats:2.10-alpine) where a Docker engine runs, else a local `nats-server` process. Tests can
// kill it and restart it on the same port to exercise reconnects.
import { spawn, type ChildProcess } from "node:child_process";
import { connect } from "node:net";
import { GenericContainer, getContainerRuntimeClient, type StartedTestContainer } from "testcontainers";
import { dockerAvailable } from "./docker.ts";
import { freePort } from "./free-port.ts";

/** How long a start or restart may take before it counts as failed. */
const READY_TIMEOUT_MS = 10_000;
/** Lines of server output kept to explain a failed start. */
const LOG_LINES_MAX = 40;

/** A running nats-server that a test controls. */
export interface NatsServer {
  /** `nats://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /** Stops the server for good. */
  stop(): Promise<void>;
  /**
   * Sends `signal` (default SIGKILL) to nats-server. For SIGKILL, SIGTERM and SIGINT it resolves
   * once the server is gone; for others (SIGSTOP, SIGCONT) once the signal is delivered.
   */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Stops the server if it runs, then starts it again on the same port. */
  restart(): Promise<void>;
}

/**
 * Starts a nats-server for one test file. The caller must `stop()` it (in afterAll). Rejects with
 * a clear message when neither Docker nor a `nats-server` binary is available.
 */
export async function startNats(): Promise<NatsServer> {
  const port = await freePort();
  const server = (await dockerAvailable()) ? new ContainerNats(port) : new LocalNats(port);
  await server.restart();
  return server;
}

/** nats-server as a child process of the test. */
class LocalNats implements NatsServer {
  readonly url: string;
  readonly port: number;
  #child: ChildProcess | null = null;
  #exited: Promise<void> = Promise.resolve();
  #log: string[] = [];

  constructor(port: number) {
    this.port = port;
    this.url = `nats://127.0.0.1:${port}`;
  }

  async restart(): Promise<void> {
    await this.#terminate("SIGTERM");
    const child = spawn("nats-server", ["-a", "127.0.0.1", "-p", String(this.port)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
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
            ? "nats-server is not on PATH: install it (apt-get install nats-server) or run a Docker engine"
            : `nats-server failed to start: ${error.message}`;
        resolve();
      });
      child.once("exit", (code, signal) => {
        exitReason ??= `nats-server exited (code ${code}, signal ${signal})`;
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

/** nats:2.10-alpine in Docker, bound to a fixed host port so that a restart keeps the URL. */
class ContainerNats implements NatsServer {
  readonly url: string;
  readonly port: number;
  #container: StartedTestContainer | null = null;

  constructor(port: number) {
    this.port = port;
    this.url = `nats://127.0.0.1:${port}`;
  }

  async restart(): Promise<void> {
    if (this.#container === null) {
      this.#container = await new GenericContainer("nats:2.10-alpine")
        .withExposedPorts({ container: 4222, host: this.port })
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
    );
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
}

/**
 * Connects to the port until the server greets with its INFO line, the process is gone
 * (`exitReason` returns non-null) or READY_TIMEOUT_MS passes.
 */
async function waitReady(port: number, exitReason: () => string | null, log: () => string[]): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (await greetsOnce(port)) return;
    const reason =
      exitReason() ?? (Date.now() > deadline ? `nats-server did not answer within ${READY_TIMEOUT_MS} ms` : null);
    if (reason !== null) {
      const tail = log();
      throw new Error(tail.length === 0 ? reason : `${reason}; its last output:\n${tail.join("\n")}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** One TCP connection: true when the server sends its `INFO {…}` greeting. */
async function greetsOnce(port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const socket = connect({ port, host: "127.0.0.1" });
    let greeting = "";
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once("error", () => done(false));
    socket.once("close", () => done(false));
    socket.on("data", (chunk) => {
      greeting += chunk.toString("utf8");
      if (greeting.includes("\r\n")) done(greeting.startsWith("INFO "));
    });
  });
}
