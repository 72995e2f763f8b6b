import type { Tracing } from "@paxos/telemetry";
import { type Bus, Subjects } from "@paxos/wire";
import { Counter, Gauge, type Registry } from "prom-client";
import { type Readiness, startAdminServer } from "./admin-server.ts";
import { logBusStatus } from "./bus-status.ts";
import type { CommonConfig } from "./config.ts";
import { EXIT_CODES } from "./exit-codes.ts";
import { exitProcess } from "./fatal.ts";
import type { Logger } from "./logger.ts";
import type { RoleContext, RunningRole } from "./roles.ts";
import type { ProcessTracing } from "./process-tracing.ts";
import { installShutdown } from "./shutdown.ts";
import { type NatsClientConfig, redactedUrl } from "./nats-config.ts";

/**
 * What `connectBusOrExit` hands the bus's connect function: the server URL, the process's
 * credentials and TLS settings where configured, and a status logger.
 */
export interface BusConnection {
  readonly servers: string;
  readonly credentials?: { readonly user: string; readonly password: string };
  readonly tls?: { readonly caFile?: string; readonly certFile?: string; readonly keyFile?: string };
  readonly onStatus: (status: { readonly type: string }) => void;
}

/** The connection events counted by type; any other type counts as "other" (labels stay bounded). */
const BUS_EVENT_TYPES: ReadonlySet<string> = new Set([
  "disconnect",
  "reconnect",
  "reconnecting",
  "staleConnection",
  "slowConsumer",
  "error",
  "ldm",
]);

/**
 * Opens a service process's bus connection at start-up: calls `connect` with the NATS settings
 * (URL, credentials, TLS) and a status callback that logs connection events (see logBusStatus) and counts them in
 * `paxos_nats_events_total{type}`; `paxos_nats_connected` tells at each scrape whether the
 * connection is up. If `connect` rejects, logs "cannot connect to NATS" at fatal and exits with
 * EXIT_CODES.unavailable, so it resolves only with a connected bus; the log names the server
 * and user, never a password. Without credentials (PAXOS_DEV_NATS_ANONYMOUS=1) it warns first. The caller passes the connect
 * call itself (NatsBus.connect with its client name): the host needs no NATS types.
 */
export async function connectBusOrExit<B extends { readonly isConnected: boolean }>(
  logger: Logger,
  registry: Registry,
  nats: NatsClientConfig,
  connect: (connection: BusConnection) => Promise<B>,
): Promise<B> {
  const log = logBusStatus(logger);
  const events = new Counter({
    name: "paxos_nats_events_total",
    help: "NATS connection events (disconnect, reconnect, error, ...), by type.",
    labelNames: ["type"],
    registers: [registry],
  });
  let bus: B | null = null;
  new Gauge({
    name: "paxos_nats_connected",
    help: "1 while the NATS connection is up, 0 otherwise.",
    registers: [registry],
    collect() {
      this.set(bus?.isConnected === true ? 1 : 0);
    },
  });
  const onStatus = (status: { readonly type: string }): void => {
    log(status);
    events.inc({ type: BUS_EVENT_TYPES.has(status.type) ? status.type : "other" });
  };
  const where = { natsUrl: redactedUrl(nats.url), natsUser: nats.credentials?.user ?? null };
  if (nats.credentials === null) {
    logger.warn(
      where,
      "PAXOS_DEV_NATS_ANONYMOUS=1: connecting to NATS WITHOUT credentials. Development only: anyone who reaches " +
        "this NATS can forge any process's messages.",
    );
  }
  try {
    bus = await connect({
      servers: nats.url,
      ...(nats.credentials === null ? {} : { credentials: nats.credentials }),
      ...(nats.tls === null ? {} : { tls: nats.tls }),
      onStatus,
    });
    return bus;
  } catch (error) {
    logger.fatal({ err: error, ...where }, "cannot connect to NATS");
    process.exit(EXIT_CODES.unavailable);
  }
}

/**
 * The RoleContext of a role process: `bus` (traced when `tracing` is on), the subjects and
 * acceptor set of the configured cluster, and a fatal handler that logs at fatal and exits the
 * process (exitProcess).
 */
export function roleContext(options: {
  readonly bus: Bus;
  readonly config: Pick<CommonConfig, "cluster" | "acceptorIds"> & Partial<Pick<CommonConfig, "limits" | "hostLimits">>;
  readonly logger: Logger;
  readonly registry: Registry;
  readonly tracing?: ProcessTracing;
}): RoleContext {
  const { config, logger, registry } = options;
  const subjects = new Subjects(config.cluster);
  return {
    bus: options.tracing?.traceBus(options.bus, subjects) ?? options.bus,
    subjects,
    acceptorIds: config.acceptorIds,
    ...(config.limits === undefined ? {} : { limits: config.limits }),
    ...(config.hostLimits === undefined ? {} : { hostLimits: config.hostLimits }),
    logger,
    registry,
    onFatal: exitProcess(logger),
  };
}

/** The bus as `superviseRole` uses it: for /readyz and for the shutdown. */
export interface SupervisedBus {
  readonly isConnected: boolean;
  close(): Promise<void>;
}

/** What `superviseRole` needs. */
export interface SupervisedRoleOptions {
  /** The role's name ("acceptor"), also the name of the first shutdown step. */
  readonly name: string;
  readonly role: RunningRole<{ readiness(): Readiness }>;
  readonly bus: SupervisedBus;
  /** Where the admin server listens. */
  readonly config: Pick<CommonConfig, "adminPort" | "adminHost">;
  readonly registry: Registry;
  readonly logger: Logger;
  /** Flushed at shutdown, once the bus is closed: the last spans reach the collector. */
  readonly tracing?: Tracing;
}

/**
 * Finishes the start of a role process once its role runs: starts the admin server (/readyz
 * answers from the role's readiness and the bus connection), then installs the graceful shutdown,
 * which stops the role, closes the bus, exports the last spans and closes the admin server, in that order. Rejects when
 * the admin server cannot listen.
 */
export async function superviseRole(options: SupervisedRoleOptions): Promise<void> {
  const { role, bus, logger } = options;
  const admin = await startAdminServer({
    port: options.config.adminPort,
    host: options.config.adminHost,
    registry: options.registry,
    readiness: () => role.host.readiness(),
    connected: () => bus.isConnected,
    logger,
  });
  installShutdown(logger, [
    { name: options.name, run: () => role.stop() },
    { name: "nats", run: () => bus.close() },
    { name: "telemetry", run: () => options.tracing?.shutdown() ?? Promise.resolve() },
    { name: "admin", run: () => admin.close() },
  ]);
}
