/**
 * @paxos/host: the thin layer that runs a core role over the ports. Each host decodes nothing
 * itself (the Transport does), steps its role, awaits persistence, and only then sends. Also the
 * process plumbing every role service shares: configuration from the environment, the JSON
 * logger, the admin HTTP server, metrics, fatal errors and graceful shutdown.
 */
export { AcceptorHost, type AcceptorHostOptions } from "./acceptor-host.ts";
export { ProposerHost, type ProposerHostOptions, newProposerId } from "./proposer-host.ts";
export { LearnerHost, type LearnerHostOptions } from "./learner-host.ts";
export { type RoleContext, type RunningRole, startAcceptorRole, startProposerRole, startLearnerRole } from "./roles.ts";
export { type BusWiring, type BusWiringOptions, wireBus } from "./bus-wiring.ts";
export {
  type CommonConfig,
  type AcceptorServiceConfig,
  type ProposerServiceConfig,
  type LearnerServiceConfig,
  acceptorConfig,
  proposerConfig,
  learnerConfig,
  loadConfigOrExit,
} from "./config.ts";
export { ConfigError, type EnvVar, envVar, readEnv } from "./env.ts";
export { type Logger, LOG_LEVELS, createLogger } from "./logger.ts";
export { type AdminServer, type AdminServerOptions, type Readiness, startAdminServer } from "./admin-server.ts";
export { createRegistry, droppedMessagesCounter } from "./metrics.ts";
export { EXIT_CODES } from "./exit-codes.ts";
export { logBusStatus } from "./bus-status.ts";
export { type FatalHandler, exitProcess, installFatalHandlers } from "./fatal.ts";
export { type ShutdownStep, installShutdown } from "./shutdown.ts";
export {
  type BusConnection,
  type SupervisedBus,
  type SupervisedRoleOptions,
  connectBusOrExit,
  roleContext,
  superviseRole,
} from "./role-process.ts";
export { SerialQueue } from "./serial-queue.ts";
export { sleep, withTimeout, TimeoutError } from "./timing.ts";
