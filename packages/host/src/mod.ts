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
export {
  type CommonConfig,
  type AcceptorServiceConfig,
  type ProposerServiceConfig,
  type LearnerServiceConfig,
  acceptorConfig,
  ROLE_VARIABLES,
  proposerConfig,
  learnerConfig,
  loadConfigOrExit,
  protocolLimits,
  LIMITS_SPEC,
} from "./config.ts";
export { ConfigError, type EnvVar, envVar, readEnv } from "./env.ts";
export { type NatsClientConfig, natsClientConfig, natsSpec, redactedUrl } from "./nats-config.ts";
export { type Logger, LOG_LEVELS, createLogger } from "./logger.ts";
export { createRegistry } from "./metrics.ts";
export { type ProcessTracing, startProcessTracing } from "./process-tracing.ts";
export { EXIT_CODES } from "./exit-codes.ts";
export { listenPort } from "./listen-port.ts";
export { type FatalHandler, installFatalHandlers } from "./fatal.ts";
export { installShutdown } from "./shutdown.ts";
export {
  type BusConnection,
  type SupervisedBus,
  type SupervisedRoleOptions,
  connectBusOrExit,
  roleContext,
  superviseRole,
} from "./role-process.ts";
