import type { Limits } from "@paxos/core";
import type { HostLimits } from "@paxos/drivers";
import type { GatewayLimits } from "@paxos/gateway-app";
import type { ClusterIdentity } from "@paxos/transport-nats";

/** The processes of the local cluster `npm start` runs: the smallest one that survives a crash. */
export const TOPOLOGY = Object.freeze({
  acceptorIds: ["a1", "a2", "a3"] as const,
  proposerNames: ["p1", "p2"] as const,
  learnerIds: ["l1"] as const,
  /** PAXOS_GATEWAY_NAME of the one gateway: its NATS identity. */
  gatewayName: "g1",
});

/**
 * The NATS identity of every process `npm start` runs (a proposer by its name, the stable part of
 * its id): whom its nats-server lets in, and whose password files an external NATS needs.
 */
export function clusterIdentities(): ClusterIdentity[] {
  return [
    ...TOPOLOGY.acceptorIds.map((id) => ({ role: "acceptor" as const, id })),
    ...TOPOLOGY.proposerNames.map((id) => ({ role: "proposer" as const, id })),
    ...TOPOLOGY.learnerIds.map((id) => ({ role: "learner" as const, id })),
    { role: "gateway", id: TOPOLOGY.gatewayName },
  ];
}

/** How the services authenticate to a NATS the launcher does not start (NATS_URL). */
export type ExternalNatsAuth =
  /** PAXOS_NATS_CREDENTIALS_DIR: a folder holding one password file per NATS user (`<role>-<id>`). */
  | { readonly kind: "passwordFiles"; readonly dir: string }
  /** PAXOS_DEV_NATS_ANONYMOUS=1: no authentication at all, for development only. */
  | { readonly kind: "anonymous" };

/** Settings of `npm start`, read from the environment by `launcherConfig`. */
export interface LauncherConfig {
  /** PAXOS_CLUSTER, default "local". */
  readonly cluster: string;
  /** PAXOS_HTTP_PORT: the gateway's REST port, default 8080. */
  readonly httpPort: number;
  /** LOG_LEVEL for every process, default info. */
  readonly logLevel: string;
  /** PAXOS_EMBEDDED=1: run the single-process embedded cluster even when servers are installed. */
  readonly forceEmbedded: boolean;
  /** NATS_URL: use this NATS instead of starting nats-server. */
  readonly natsUrl: string | null;
  /** With NATS_URL: how the services log in to it (required then, null otherwise). */
  readonly externalNatsAuth: ExternalNatsAuth | null;
  /** REDIS_URLS: one Redis per acceptor (a1, a2, a3, in order) instead of starting redis-server. */
  readonly redisUrls: readonly string[] | null;
  /** PAXOS_ACCEPTOR_INIT=1 with REDIS_URLS: the given Redis servers are new and may be initialised. */
  readonly initExternalRedis: boolean;
  /** PAXOS_LOCAL_DATA: where servers and stores keep data; default `<repo>/.data`. */
  readonly dataRoot: string;
  /** The repository root (services are started from their source there). */
  readonly repoRoot: string;
  /** PAXOS_PROMETHEUS=1: also run `prometheus` from PATH, scraping every process (local mode only). */
  readonly prometheus: boolean;
  /** PAXOS_PROMETHEUS_PORT: where that Prometheus listens, default 9090; 0 or a busy port: any free one. */
  readonly prometheusPort: number;
  /**
   * PAXOS_CPU_PROFILE_DIR: every service runs with Node's --cpu-prof and writes its profile into
   * `<dir>/<service>-<id>/` when it stops (local mode only; `npm run bench -- --profile` sets it).
   */
  readonly cpuProfileDir: string | null;
  /**
   * PAXOS_LIMITS, PAXOS_HOST_LIMITS and PAXOS_GATEWAY_LIMITS: `env` as given (handed to every
   * service process), and as read (for the embedded cluster).
   */
  readonly limits: {
    readonly env: Readonly<Record<string, string>>;
    readonly protocol: Limits;
    readonly host: Partial<HostLimits>;
    readonly gateway: Partial<GatewayLimits>;
  };
}
