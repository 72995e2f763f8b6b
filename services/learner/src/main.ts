// The learner process: learns chosen values, keeps the decided log in PAXOS_DATA_DIR, publishes
// deliveries and answers reads over NATS. Thin wiring only: config → NATS → file store →
// LearnerHost → admin server → signals.
import {
  connectBusOrExit,
  createLogger,
  createRegistry,
  EXIT_CODES,
  installFatalHandlers,
  learnerConfig,
  loadConfigOrExit,
  roleContext,
  startLearnerRole,
  startProcessTracing,
  superviseRole,
} from "@paxos/host";
import { FileLearnerStore } from "@paxos/store-file";
import { NatsBus } from "@paxos/transport-nats";

const config = loadConfigOrExit("learner", learnerConfig);
const logger = createLogger("learner", config.learnerId, config.logLevel);
installFatalHandlers(logger);
const registry = createRegistry();
const tracing = startProcessTracing({ role: "learner", instanceId: config.learnerId, cluster: config.cluster, logger });

const bus = await connectBusOrExit(logger, registry, config.nats, (connection) =>
  NatsBus.connect({ ...connection, name: `learner-${config.learnerId}`, echo: false }),
);

let role: Awaited<ReturnType<typeof startLearnerRole>>;
try {
  role = await startLearnerRole(
    roleContext({ bus, config, logger, registry, tracing }),
    config.learnerId,
    () => new FileLearnerStore({ dir: config.dataDir, logger: (level, msg, fields) => logger[level](fields, msg) }),
  );
} catch (error) {
  logger.fatal({ err: error, dataDir: config.dataDir }, "cannot load the learner's log: refusing to start");
  process.exit(EXIT_CODES.storageRefused);
}
await superviseRole({ name: "learner", role, bus, config, registry, logger, tracing });
