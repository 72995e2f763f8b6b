import { DEFAULT_GATEWAY_LIMITS } from "@paxos/gateway-app";
import { envVar, type LOG_LEVELS, readEnv } from "@paxos/host";

/** The gateway process's settings (COMMON.md, "Environment variables"). */
export interface GatewayServiceConfig {
  /** PAXOS_CLUSTER: the cluster name in every subject. Default "local". */
  readonly cluster: string;
  /** NATS_URL. Default nats://127.0.0.1:4222. */
  readonly natsUrl: string;
  /** PAXOS_ACCEPTOR_IDS: the configured acceptors, for `GET /v1/cluster`. Required. */
  readonly acceptorIds: readonly string[];
  /** PAXOS_HTTP_PORT: the REST API, with /healthz /readyz /metrics. Default 8080; 0 picks one. */
  readonly httpPort: number;
  /** PAXOS_HTTP_HOST: the interface to bind. Default 0.0.0.0. */
  readonly httpHost: string;
  /** LOG_LEVEL. Default info. */
  readonly logLevel: (typeof LOG_LEVELS)[number];
  /** PAXOS_PROPOSAL_TIMEOUT_MS: how long a POST may take, riding through elections, before 503 (no proposer took it) or 504 (outcome unknown). */
  readonly proposalTimeoutMs: number;
}

const gatewaySpec = {
  PAXOS_CLUSTER: envVar.id().default("local"),
  NATS_URL: envVar.url(["nats", "tls", "ws", "wss"]).default("nats://127.0.0.1:4222"),
  PAXOS_ACCEPTOR_IDS: envVar.idList(),
  PAXOS_HTTP_PORT: envVar.port().default(8080),
  PAXOS_HTTP_HOST: envVar.text().default("0.0.0.0"),
  LOG_LEVEL: envVar.logLevel().default("info"),
  PAXOS_PROPOSAL_TIMEOUT_MS: envVar.milliseconds(100, 600_000).default(DEFAULT_GATEWAY_LIMITS.proposalTimeoutMs),
};

/** The variables the gateway reads (besides OTEL_*): what a deployment may set. */
export const GATEWAY_VARIABLES: readonly string[] = Object.keys(gatewaySpec);

/** Reads the gateway's settings from `env`; throws ConfigError naming every bad variable. */
export function gatewayConfig(env: NodeJS.ProcessEnv): GatewayServiceConfig {
  const values = readEnv(gatewaySpec, env);
  return {
    cluster: values.PAXOS_CLUSTER,
    natsUrl: values.NATS_URL,
    acceptorIds: values.PAXOS_ACCEPTOR_IDS,
    httpPort: values.PAXOS_HTTP_PORT,
    httpHost: values.PAXOS_HTTP_HOST,
    logLevel: values.LOG_LEVEL,
    proposalTimeoutMs: values.PAXOS_PROPOSAL_TIMEOUT_MS,
  };
}
