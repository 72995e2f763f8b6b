import { resolve } from "node:path";
import { envVar, readEnv } from "@paxos/host";
import { type LauncherConfig, TOPOLOGY } from "./topology.ts";

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
    },
    env,
  );
  return {
    cluster: values.PAXOS_CLUSTER,
    httpPort: values.PAXOS_HTTP_PORT,
    logLevel: values.LOG_LEVEL,
    forceEmbedded: values.PAXOS_EMBEDDED,
    natsUrl: values.NATS_URL,
    redisUrls: values.REDIS_URLS,
    initExternalRedis: values.PAXOS_ACCEPTOR_INIT,
    dataRoot: resolve(values.PAXOS_LOCAL_DATA),
    repoRoot,
    prometheus: values.PAXOS_PROMETHEUS,
    prometheusPort: values.PAXOS_PROMETHEUS_PORT,
  };
}
