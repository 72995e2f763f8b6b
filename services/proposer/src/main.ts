// The proposer process: one proposer with a fresh id (<name>-<nonce>) at every start, serving
// ProposeRequests over NATS. Thin wiring only: config → NATS → ProposerHost → admin server → signals.
import {
  connectBusOrExit,
  createLogger,
  createRegistry,
  installFatalHandlers,
  loadConfigOrExit,
  newProposerId,
  proposerConfig,
  roleContext,
  startProposerRole,
  startProcessTracing,
  superviseRole,
} from "@paxos/host";
import { NatsBus } from "@paxos/transport-nats";

const config = loadConfigOrExit("proposer", proposerConfig);
const proposerId = newProposerId(config.proposerName);
const logger = createLogger("proposer", proposerId, config.logLevel);
installFatalHandlers(logger);
const registry = createRegistry();
const tracing = startProcessTracing({ role: "proposer", instanceId: proposerId, cluster: config.cluster, logger });

const bus = await connectBusOrExit(logger, registry, config.nats, (connection) =>
  NatsBus.connect({ ...connection, name: `proposer-${proposerId}`, echo: false }),
);

const role = startProposerRole(roleContext({ bus, config, logger, registry, tracing }), proposerId);
await superviseRole({ name: "proposer", role, bus, config, registry, logger, tracing });
