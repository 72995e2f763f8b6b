// The acceptor process: votes for one acceptor id, durable in its own Redis (AOF, fsync always).
// Thin wiring only: config → NATS → Redis store → AcceptorHost → admin server → signals.
import {
  acceptorConfig,
  createLogger,
  createRegistry,
  EXIT_CODES,
  exitProcess,
  installFatalHandlers,
  installShutdown,
  logBusStatus,
  loadConfigOrExit,
  startAcceptorRole,
  startAdminServer,
} from "@paxos/host";
import { RedisAcceptorStore } from "@paxos/store-redis";
import { NatsBus } from "@paxos/transport-nats";
import { Subjects } from "@paxos/wire";

/** Bound on each Redis command; a write slower than this counts as failed and nothing is sent. */
const REDIS_COMMAND_TIMEOUT_MS = 2_000;

const config = loadConfigOrExit("acceptor", acceptorConfig);
const logger = createLogger("acceptor", config.acceptorId, config.logLevel);
installFatalHandlers(logger);
const onFatal = exitProcess(logger);
if (config.unsafeSkipDurabilityChecks) {
  logger.warn("PAXOS_DEV_UNSAFE_STORAGE=1: Redis durability checks are OFF. Development only: a crash can lose votes.");
}
const registry = createRegistry();

let bus: NatsBus;
try {
  bus = await NatsBus.connect({
    servers: config.natsUrl,
    name: `acceptor-${config.acceptorId}`,
    onStatus: logBusStatus(logger),
  });
} catch (error) {
  logger.fatal({ err: error, natsUrl: config.natsUrl }, "cannot connect to NATS");
  process.exit(EXIT_CODES.unavailable);
}

const role = await startAcceptorRole(
  { bus, subjects: new Subjects(config.cluster), acceptorIds: config.acceptorIds, logger, registry, onFatal },
  config.acceptorId,
  ({ firstOpen }) =>
    new RedisAcceptorStore({
      redisUrl: config.redisUrl,
      cluster: config.cluster,
      acceptorId: config.acceptorId,
      // Only the first open may claim an empty Redis: one found empty after that was wiped.
      allowInit: config.allowInit && firstOpen,
      unsafeSkipDurabilityChecks: config.unsafeSkipDurabilityChecks,
      commandTimeoutMs: REDIS_COMMAND_TIMEOUT_MS,
      logger: (level, msg, fields) => logger[level](fields, msg),
    }),
);
const admin = await startAdminServer({
  port: config.adminPort,
  host: config.adminHost,
  registry,
  readiness: () => role.host.readiness(),
  connected: () => bus.isConnected,
  logger,
});
installShutdown(logger, [
  { name: "acceptor", run: () => role.stop() },
  { name: "nats", run: () => bus.close() },
  { name: "admin", run: () => admin.close() },
]);
