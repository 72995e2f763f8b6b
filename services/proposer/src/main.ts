// The proposer process: one proposer with a fresh id (<name>-<nonce>) at every start, serving
// ProposeRequests over NATS. Thin wiring only: config → NATS → ProposerHost → admin server → signals.
import {
  createLogger,
  createRegistry,
  EXIT_CODES,
  exitProcess,
  installFatalHandlers,
  installShutdown,
  logBusStatus,
  loadConfigOrExit,
  newProposerId,
  proposerConfig,
  startAdminServer,
  startProposerRole,
} from "@paxos/host";
import { NatsBus } from "@paxos/transport-nats";
import { Subjects } from "@paxos/wire";

const config = loadConfigOrExit("proposer", proposerConfig);
const proposerId = newProposerId(config.proposerName);
const logger = createLogger("proposer", proposerId, config.logLevel);
installFatalHandlers(logger);
const registry = createRegistry();

let bus: NatsBus;
try {
  bus = await NatsBus.connect({
    servers: config.natsUrl,
    name: `proposer-${proposerId}`,
    onStatus: logBusStatus(logger),
  });
} catch (error) {
  logger.fatal({ err: error, natsUrl: config.natsUrl }, "cannot connect to NATS");
  process.exit(EXIT_CODES.unavailable);
}

const role = startProposerRole(
  {
    bus,
    subjects: new Subjects(config.cluster),
    acceptorIds: config.acceptorIds,
    logger,
    registry,
    onFatal: exitProcess(logger),
  },
  proposerId,
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
  { name: "proposer", run: () => role.stop() },
  { name: "nats", run: () => bus.close() },
  { name: "admin", run: () => admin.close() },
]);
