// A real nats-server for tests, on a free loopback port: a Docker container (testcontainers,
// nats:2.10-alpine) where a Docker engine runs, else a local `nats-server` process. Tests can
// kill it and restart it on the same port to exercise reconnects.
import { GenericContainer } from "testcontainers";
import { dockerAvailable } from "./docker.ts";
import { freePort } from "./free-port.ts";
import { LocalServerProcess, type ReadyCheck } from "./local-server.ts";
import { ServerContainer } from "./server-container.ts";

/** nats-server greets every new connection with its `INFO {…}` line. */
const NATS_READY: ReadyCheck = { request: null, replyPrefix: "INFO ", silence: "nats-server did not answer" };

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
  const server = (await dockerAvailable())
    ? new ServerContainer({
        container: new GenericContainer("nats:2.10-alpine").withExposedPorts({ container: 4222, host: port }),
        port,
        ready: NATS_READY,
        logsOnFailure: false,
      })
    : new LocalServerProcess({
        binary: "nats-server",
        args: ["-a", "127.0.0.1", "-p", String(port)],
        port,
        installHint: "install it (apt-get install nats-server)",
        ready: NATS_READY,
      });
  await server.restart();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    stop: () => server.stop(),
    kill: (signal) => server.kill(signal),
    restart: () => server.restart(),
  };
}
