import { checkLimits, DEFAULT_LIMITS, type Limits } from "@paxos/core";
import { DEFAULT_HOST_LIMITS, type HostLimits } from "@paxos/drivers";
import type { ClusterRole } from "@paxos/wire";
import { ConfigError, envVar, readEnv } from "./env.ts";
import { EXIT_CODES } from "./exit-codes.ts";
import type { LOG_LEVELS } from "./logger.ts";
import { natsClientConfig, type NatsClientConfig, natsSpec, type NatsValues } from "./nats-config.ts";

/** Settings every role process shares (COMMON.md, "Environment variables"). */
export interface CommonConfig {
  /** PAXOS_CLUSTER: the cluster name in every subject. Default "local". */
  readonly cluster: string;
  /** NATS_URL, the process's NATS user and password, TLS (see natsSpec). */
  readonly nats: NatsClientConfig;
  /** PAXOS_ACCEPTOR_IDS: the fixed acceptor set quorums are counted over. Required. */
  readonly acceptorIds: readonly string[];
  /** PAXOS_ADMIN_PORT: /healthz /readyz /metrics. Default 9090; 0 picks a free port. */
  readonly adminPort: number;
  /** PAXOS_ADMIN_HOST: the interface the admin server binds. Default 127.0.0.1 (deployments widen it). */
  readonly adminHost: string;
  /** LOG_LEVEL. Default info. */
  readonly logLevel: (typeof LOG_LEVELS)[number];
  /**
   * PAXOS_LIMITS: the protocol's bounds (core's Limits), DEFAULT_LIMITS but for the JSON object's
   * keys, checked by checkLimits. Every process of a cluster must run with the same.
   */
  readonly limits: Limits;
  /** PAXOS_HOST_LIMITS: this process's driver bounds (HostLimits) that differ from DEFAULT_HOST_LIMITS. */
  readonly hostLimits: Partial<HostLimits>;
}

/** The variables of the limits every role reads (the launcher of `npm start` reads them too). */
export const LIMITS_SPEC = {
  PAXOS_LIMITS: envVar.overrides(DEFAULT_LIMITS).default({}),
  PAXOS_HOST_LIMITS: envVar.overrides(DEFAULT_HOST_LIMITS).default({}),
};

const commonSpec = {
  PAXOS_CLUSTER: envVar.id().default("local"),
  ...natsSpec,
  PAXOS_ACCEPTOR_IDS: envVar.idList(),
  PAXOS_ADMIN_PORT: envVar.port().default(9090),
  PAXOS_ADMIN_HOST: envVar.text().default("127.0.0.1"),
  LOG_LEVEL: envVar.logLevel().default("info"),
  ...LIMITS_SPEC,
};

/**
 * DEFAULT_LIMITS with PAXOS_LIMITS' overrides; throws ConfigError when they do not fit together
 * (checkLimits says how). The gateway reads the same variable.
 */
export function protocolLimits(overrides: Partial<Limits>): Limits {
  const limits: Limits = { ...DEFAULT_LIMITS, ...overrides };
  const problems = checkLimits(limits);
  if (problems.length > 0) throw new ConfigError(problems.map((problem) => `PAXOS_LIMITS: ${problem}`));
  return limits;
}

function common(
  values: NatsValues & {
    PAXOS_CLUSTER: string;
    PAXOS_ACCEPTOR_IDS: readonly string[];
    PAXOS_ADMIN_PORT: number;
    PAXOS_ADMIN_HOST: string;
    LOG_LEVEL: (typeof LOG_LEVELS)[number];
    PAXOS_LIMITS: Partial<Limits>;
    PAXOS_HOST_LIMITS: Partial<HostLimits>;
  },
  role: ClusterRole,
  id: string,
): CommonConfig {
  return {
    cluster: values.PAXOS_CLUSTER,
    nats: natsClientConfig(values, role, id),
    acceptorIds: values.PAXOS_ACCEPTOR_IDS,
    adminPort: values.PAXOS_ADMIN_PORT,
    adminHost: values.PAXOS_ADMIN_HOST,
    logLevel: values.LOG_LEVEL,
    limits: protocolLimits(values.PAXOS_LIMITS),
    hostLimits: values.PAXOS_HOST_LIMITS,
  };
}

/** The acceptor process's settings. */
export interface AcceptorServiceConfig extends CommonConfig {
  /** PAXOS_ACCEPTOR_ID: one of acceptorIds. Required. */
  readonly acceptorId: string;
  /** REDIS_URL: this acceptor's own Redis. Required: pointing at a shared default is a hazard. */
  readonly redisUrl: string;
  /** PAXOS_ACCEPTOR_INIT=1: an EMPTY Redis may be initialised with this acceptor's identity. */
  readonly allowInit: boolean;
  /** PAXOS_DEV_UNSAFE_STORAGE=1: skip the durability checks (development only; logged loudly). */
  readonly unsafeSkipDurabilityChecks: boolean;
}

const acceptorSpec = {
  ...commonSpec,
  PAXOS_ACCEPTOR_ID: envVar.id(),
  REDIS_URL: envVar.url(["redis", "rediss"]),
  PAXOS_ACCEPTOR_INIT: envVar.flag().default(false),
  PAXOS_DEV_UNSAFE_STORAGE: envVar.flag().default(false),
};
// The proposerId adds "-" and 8 hex digits and must still be a 64-char id.
const proposerSpec = { ...commonSpec, PAXOS_PROPOSER_NAME: envVar.id(55) };
const learnerSpec = { ...commonSpec, PAXOS_LEARNER_ID: envVar.id(), PAXOS_DATA_DIR: envVar.text() };

/**
 * The variables each role process reads (besides the OTEL_* of the OpenTelemetry SDK): what a
 * deployment may set. The deployment tests check compose and the manifests against them.
 */
export const ROLE_VARIABLES = {
  acceptor: Object.keys(acceptorSpec),
  proposer: Object.keys(proposerSpec),
  learner: Object.keys(learnerSpec),
} as const satisfies Record<string, readonly string[]>;

/** Reads the acceptor's settings from `env`; throws ConfigError naming every bad variable. */
export function acceptorConfig(env: NodeJS.ProcessEnv): AcceptorServiceConfig {
  const values = readEnv(acceptorSpec, env);
  if (!values.PAXOS_ACCEPTOR_IDS.includes(values.PAXOS_ACCEPTOR_ID)) {
    throw new ConfigError([
      `PAXOS_ACCEPTOR_ID ${JSON.stringify(values.PAXOS_ACCEPTOR_ID)} is not one of PAXOS_ACCEPTOR_IDS (${values.PAXOS_ACCEPTOR_IDS.join(",")})`,
    ]);
  }
  return {
    ...common(values, "acceptor", values.PAXOS_ACCEPTOR_ID),
    acceptorId: values.PAXOS_ACCEPTOR_ID,
    redisUrl: values.REDIS_URL,
    allowInit: values.PAXOS_ACCEPTOR_INIT,
    unsafeSkipDurabilityChecks: values.PAXOS_DEV_UNSAFE_STORAGE,
  };
}

/** The proposer process's settings. */
export interface ProposerServiceConfig extends CommonConfig {
  /** PAXOS_PROPOSER_NAME: the stable part of the proposerId (`<name>-<nonce>`). Required. */
  readonly proposerName: string;
}

/** Reads the proposer's settings from `env`; throws ConfigError naming every bad variable. */
export function proposerConfig(env: NodeJS.ProcessEnv): ProposerServiceConfig {
  const values = readEnv(proposerSpec, env);
  return { ...common(values, "proposer", values.PAXOS_PROPOSER_NAME), proposerName: values.PAXOS_PROPOSER_NAME };
}

/** The learner process's settings. */
export interface LearnerServiceConfig extends CommonConfig {
  /** PAXOS_LEARNER_ID. Required. */
  readonly learnerId: string;
  /** PAXOS_DATA_DIR: where the learner keeps its durable log. Required. */
  readonly dataDir: string;
}

/** Reads the learner's settings from `env`; throws ConfigError naming every bad variable. */
export function learnerConfig(env: NodeJS.ProcessEnv): LearnerServiceConfig {
  const values = readEnv(learnerSpec, env);
  return {
    ...common(values, "learner", values.PAXOS_LEARNER_ID),
    learnerId: values.PAXOS_LEARNER_ID,
    dataDir: values.PAXOS_DATA_DIR,
  };
}

/**
 * Runs a config reader; on ConfigError prints the problems to stderr and exits 2. Called first
 * thing in a service's main, before a logger exists (the log level is part of the config).
 */
export function loadConfigOrExit<C>(service: string, read: (env: NodeJS.ProcessEnv) => C): C {
  try {
    return read(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${service}: ${error.message}\n`);
    process.exit(EXIT_CODES.config);
  }
}
