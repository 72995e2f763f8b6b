// A real nats-server for tests, on a free loopback port: a Docker container (testcontainers,
// nats:2.10-alpine) where a Docker engine runs, else a local `nats-server` process. Tests can
// kill it and restart it on the same port to exercise reconnects. With credentials it runs with
// the cluster's permission file, as every deployment does.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ClusterCredentials, NatsExtraUser } from "@paxos/transport-nats";
import { GenericContainer } from "testcontainers";
import { dockerAvailable } from "./docker.ts";
import { listenPort } from "./free-port.ts";
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

/** How the server authenticates clients. */
export interface NatsAuthOptions {
  /** The cluster's users and permissions (ClusterCredentials.authorization). */
  readonly credentials: ClusterCredentials;
  /** Users beyond the cluster's roles, such as an observer that may subscribe to everything. */
  readonly extraUsers?: readonly NatsExtraUser[];
}

/**
 * Starts a nats-server for one test file. The caller must `stop()` it (in afterAll). With
 * `auth`, only the credentials' users may connect, each with its role's permissions; without,
 * anyone may (tests of the bus itself). Rejects with a clear message when neither Docker nor a
 * `nats-server` binary is available.
 */
export async function startNats(auth?: NatsAuthOptions): Promise<NatsServer> {
  const port = await listenPort();
  const config = auth === undefined ? null : auth.credentials.authorization(auth.extraUsers);
  const dir = config === null ? null : await mkdtemp(join(tmpdir(), "paxos-nats-"));
  const configFile = dir === null ? null : join(dir, "nats.conf");
  if (configFile !== null && config !== null) await writeFile(configFile, config, { mode: 0o600 });
  const server = (await dockerAvailable())
    ? new ServerContainer({
        container: withConfig(
          new GenericContainer("nats:2.10-alpine").withExposedPorts({ container: 4222, host: port }),
          config,
        ),
        port,
        ready: NATS_READY,
        logsOnFailure: false,
      })
    : new LocalServerProcess({
        binary: "nats-server",
        args: ["-a", "127.0.0.1", "-p", String(port), ...(configFile === null ? [] : ["-c", configFile])],
        port,
        installHint: "install it (apt-get install nats-server)",
        ready: NATS_READY,
      });
  await server.restart();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    stop: async () => {
      await server.stop();
      if (dir !== null) await rm(dir, { recursive: true, force: true });
    },
    kill: (signal) => server.kill(signal),
    restart: () => server.restart(),
  };
}

function withConfig(container: GenericContainer, config: string | null): GenericContainer {
  if (config === null) return container;
  return container
    .withCopyContentToContainer([{ content: config, target: "/etc/nats/paxos.conf" }])
    .withCommand(["-c", "/etc/nats/paxos.conf"]);
}
