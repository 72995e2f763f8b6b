// A server for tests in a Docker container (testcontainers) on a fixed loopback port, so that a
// restart keeps its URL: what the nats-server and redis-server harnesses share where Docker runs.
import { getContainerRuntimeClient, type GenericContainer, type StartedTestContainer } from "testcontainers";
import { LOG_LINES_MAX, type ReadyCheck, waitReady } from "./local-server.ts";

/** How `ServerContainer` runs one server. */
export interface ServerContainerOptions {
  /** The image, its command and mounts, publishing the server on `port` of the host. */
  readonly container: GenericContainer;
  readonly port: number;
  readonly ready: ReadyCheck;
  /** Adds the container's last log lines to the error when the server does not answer. */
  readonly logsOnFailure: boolean;
}

/**
 * A server in a container, with the same lifecycle as `LocalServerProcess`: `restart` (also the
 * first start) resolves once the server answers, `kill` sends a signal (SIGSTOP and SIGCONT pause
 * and unpause the container), `stop` removes the container. The caller must `stop()` it.
 */
export class ServerContainer {
  readonly port: number;
  readonly #options: ServerContainerOptions;
  #container: StartedTestContainer | null = null;

  constructor(options: ServerContainerOptions) {
    this.port = options.port;
    this.#options = options;
  }

  /** Starts the container the first time; later stops it if it runs and starts it again. */
  async restart(): Promise<void> {
    if (this.#container === null) {
      this.#container = await this.#options.container.start();
    } else {
      await this.#terminate("SIGTERM");
      const client = await getContainerRuntimeClient();
      await client.container.start(client.container.getById(this.#container.getId()));
    }
    try {
      await waitReady(this.port, this.#options.ready);
    } catch (error) {
      if (!this.#options.logsOnFailure) throw error;
      throw new Error(`${String(error)}\n${await this.#logs()}`, { cause: error });
    }
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
    const container = this.#container;
    if (container === null) return;
    const client = await getContainerRuntimeClient();
    const handle = client.container.getById(container.getId());
    await (signal === "SIGSTOP" ? handle.pause() : signal === "SIGCONT" ? handle.unpause() : handle.kill({ signal }));
  }

  /** Stops and removes the container. */
  async stop(): Promise<void> {
    await this.#container?.stop({ remove: true });
    this.#container = null;
  }

  /** Signals the server (unpausing the container first) and waits until the container stops. */
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
