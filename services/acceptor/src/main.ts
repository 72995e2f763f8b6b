// The acceptor process: votes for one acceptor id, durable in its own Redis (AOF, fsync always).
// Thin wiring only: config → NATS → Redis store → AcceptorHost → admin server → signals.
import {
  acceptorConfig,
  connectBusOrExit,
  createLogger,
  createRegistry,
  installFatalHandlers,
  loadConfigOrExit,
  roleContext,
  startAcceptorRole,
  startProcessTracing,
  superviseRole,
} from "@paxos/host";
import { RedisAcceptorStore } from "@paxos/store-redis";
import { NatsBus } from "@paxos/transport-nats";

/** Bound on each Redis command; a write slower than this counts as failed and nothing is sent. */
const REDIS_COMMAND_TIMEOUT_MS = 2_000;

const config = loadConfigOrExit("acceptor", acceptorConfig);
const logger = createLogger("acceptor", config.acceptorId, config.logLevel);
installFatalHandlers(logger);
if (config.unsafeSkipDurabilityChecks) {
  logger.warn("PAXOS_DEV_UNSAFE_STORAGE=1: Redis durability checks are OFF. Development only: a crash can lose votes.");
}
const registry = createRegistry();
const tracing = startProcessTracing({
  role: "acceptor",
  instanceId: config.acceptorId,
  cluster: config.cluster,
  logger,
});

const bus = await connectBusOrExit(logger, registry, config.nats, (connection) =>
  NatsBus.connect({ ...connection, name: `acceptor-${config.acceptorId}`, echo: false }),
);

const role = await startAcceptorRole(
  roleContext({ bus, config, logger, registry, tracing }),
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
await superviseRole({ name: "acceptor", role, bus, config, registry, logger, tracing });
