import { resolve } from "node:path";
import { ENV_TUNABLE_GATEWAY_LIMITS } from "@paxos/gateway-app";
import { ConfigError, envVar, LIMITS_SPEC, protocolLimits, readEnv } from "@paxos/host";
import { clusterUser } from "@paxos/wire";
import { clusterIdentities, type ExternalNatsAuth, type LauncherConfig, TOPOLOGY } from "./topology.ts";

/** The limits variables the launcher hands on to the services it starts. */
const LIMIT_VARIABLES = ["PAXOS_LIMITS", "PAXOS_HOST_LIMITS", "PAXOS_GATEWAY_LIMITS"] as const;

/** Reads the launcher's settings; throws ConfigError naming every bad variable. */
export function launcherConfig(env: NodeJS.ProcessEnv, repoRoot: string): LauncherConfig {
  const acceptorCount = TOPOLOGY.acceptorIds.length;
  const values = readEnv(
    {
      PAXOS_CLUSTER: envVar.id().default("local"),
      PAXOS_HTTP_PORT: envVar
        .port()
        .default(8080)
        .refine((port) => port !== 0, { error: "must be a fixed port, not 0" }),
      LOG_LEVEL: envVar.logLevel().default("info"),
      PAXOS_EMBEDDED: envVar.flag().default(false),
      // Unset: start a nats-server.
      NATS_URL: envVar.url(["nats", "tls"]).nullable().default(null),
      // With NATS_URL, one of these two says how the services log in to it.
      PAXOS_NATS_CREDENTIALS_DIR: envVar.text().nullable().default(null),
      PAXOS_DEV_NATS_ANONYMOUS: envVar.flag().default(false),
      // Unset: start one redis-server per acceptor. Set: one URL per acceptor, in acceptor order.
      REDIS_URLS: envVar
        .urlList(["redis", "rediss"])
        .refine((urls) => urls.length === acceptorCount, {
          error: `must list ${acceptorCount} URLs, one per acceptor (${TOPOLOGY.acceptorIds.join(", ")})`,
        })
        .nullable()
        .default(null),
      PAXOS_ACCEPTOR_INIT: envVar.flag().default(false),
      PAXOS_LOCAL_DATA: envVar.text().default(resolve(repoRoot, ".data")),
      // Also run a Prometheus (from PATH) that scrapes every process; 0 for the port: any free one.
      PAXOS_PROMETHEUS: envVar.flag().default(false),
      PAXOS_PROMETHEUS_PORT: envVar.port().default(9090),
      PAXOS_CPU_PROFILE_DIR: envVar.text().nullable().default(null),
      // Read here too, so that a mistake stops `npm start` at once rather than each service.
      ...LIMITS_SPEC,
      PAXOS_GATEWAY_LIMITS: envVar.overrides(ENV_TUNABLE_GATEWAY_LIMITS).default({}),
    },
    env,
  );
  return {
    cluster: values.PAXOS_CLUSTER,
    httpPort: values.PAXOS_HTTP_PORT,
    logLevel: values.LOG_LEVEL,
    forceEmbedded: values.PAXOS_EMBEDDED,
    natsUrl: values.NATS_URL,
    externalNatsAuth: externalNatsAuth(
      values.NATS_URL !== null && !values.PAXOS_EMBEDDED,
      values.PAXOS_NATS_CREDENTIALS_DIR,
      values.PAXOS_DEV_NATS_ANONYMOUS,
    ),
    redisUrls: values.REDIS_URLS,
    initExternalRedis: values.PAXOS_ACCEPTOR_INIT,
    dataRoot: resolve(values.PAXOS_LOCAL_DATA),
    repoRoot,
    prometheus: values.PAXOS_PROMETHEUS,
    prometheusPort: values.PAXOS_PROMETHEUS_PORT,
    cpuProfileDir: values.PAXOS_CPU_PROFILE_DIR === null ? null : resolve(values.PAXOS_CPU_PROFILE_DIR),
    limits: {
      env: Object.fromEntries(
        LIMIT_VARIABLES.flatMap((name) => {
          const value = env[name]?.trim();
          return value === undefined || value === "" ? [] : [[name, value]];
        }),
      ),
      protocol: protocolLimits(values.PAXOS_LIMITS),
      host: values.PAXOS_HOST_LIMITS,
      gateway: values.PAXOS_GATEWAY_LIMITS,
    },
  };
}

/**
 * How the services log in to a NATS given by NATS_URL. The launcher cannot give that server its
 * users, so the operator says which: password files for every process's user, or (development
 * only) none at all. Never a silent fallback to anonymous: a NATS anyone may reach lets anyone
 * vote as an acceptor.
 */
function externalNatsAuth(
  external: boolean,
  credentialsDir: string | null,
  anonymous: boolean,
): ExternalNatsAuth | null {
  if (!external) {
    const given = [
      ...(credentialsDir === null ? [] : ["PAXOS_NATS_CREDENTIALS_DIR"]),
      ...(anonymous ? ["PAXOS_DEV_NATS_ANONYMOUS"] : []),
    ];
    if (given.length === 0) return null;
    throw new ConfigError([
      `${given.join(" and ")} applies only with NATS_URL: the nats-server npm start runs has its own users ` +
        "and passwords. Unset it, or give NATS_URL.",
    ]);
  }
  if (credentialsDir !== null && anonymous) {
    throw new ConfigError(["PAXOS_NATS_CREDENTIALS_DIR and PAXOS_DEV_NATS_ANONYMOUS=1 are both set; set one"]);
  }
  if (credentialsDir !== null) return { kind: "passwordFiles", dir: resolve(credentialsDir) };
  if (anonymous) return { kind: "anonymous" };
  const users = clusterIdentities().map(({ role, id }) => clusterUser(role, id));
  throw new ConfigError([
    "NATS_URL needs PAXOS_NATS_CREDENTIALS_DIR: a folder with one password file per NATS user " +
      `(${users.join(", ")}), as that server's authorization block knows them. For a development ` +
      "NATS without authentication, set PAXOS_DEV_NATS_ANONYMOUS=1 instead.",
  ]);
}
