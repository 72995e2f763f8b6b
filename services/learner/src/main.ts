// The learner process: learns chosen values, keeps the decided log in PAXOS_DATA_DIR, publishes
// deliveries and answers reads over NATS. Thin wiring only: config → NATS → file store →
// LearnerHost → admin server → signals.
import { FileLearnerStore } from "@paxos/embedded";
import {
  createLogger,
  createRegistry,
  EXIT_CODES,
  exitProcess,
  installFatalHandlers,
  installShutdown,
  logBusStatus,
  learnerConfig,
  loadConfigOrExit,
  startAdminServer,
  startLearnerRole,
} from "@paxos/host";
import { NatsBus } from "@paxos/transport-nats";
import { Subjects } from "@paxos/wire";

const config = loadConfigOrExit("learner", learnerConfig);
const logger = createLogger("learner", config.learnerId, config.logLevel);
installFatalHandlers(logger);
const registry = createRegistry();

let bus: NatsBus;
try {
  bus = await NatsBus.connect({
    servers: config.natsUrl,
    name: `learner-${config.learnerId}`,
    onStatus: logBusStatus(logger),
  });
} catch (error) {
  logger.fatal({ err: error, natsUrl: config.natsUrl }, "cannot connect to NATS");
  process.exit(EXIT_CODES.unavailable);
}

let role: Awaited<ReturnType<typeof startLearnerRole>>;
try {
  role = await startLearnerRole(
    {
      bus,
      subjects: new Subjects(config.cluster),
      acceptorIds: config.acceptorIds,
      logger,
      registry,
      onFatal: exitProcess(logger),
    },
    config.learnerId,
    () => new FileLearnerStore({ dir: config.dataDir, logger: (level, msg, fields) => logger[level](fields, msg) }),
  );
} catch (error) {
  logger.fatal({ err: error, dataDir: config.dataDir }, "cannot load the learner's log: refusing to start");
  process.exit(EXIT_CODES.storageRefused);
}
const admin = await startAdminServer({
  port: config.adminPort,
  host: config.adminHost,
  registry,
  readiness: () => role.host.readiness(),
  connected: () => bus.isConnected,
  logger,
});
installShutdown(logger, [
  { name: "learner", run: () => role.stop() },
  { name: "nats", run: () => bus.close() },
  { name: "admin", run: () => admin.close() },
]);
