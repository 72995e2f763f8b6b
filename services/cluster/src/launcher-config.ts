import { resolve } from "node:path";
import { ConfigError, type EnvReader, envVar, readEnv } from "@paxos/host";
import { type LauncherConfig, TOPOLOGY } from "./topology.ts";

/** REDIS_URLS: one redis:// URL per acceptor, comma-separated, in acceptor order. */
function redisUrlList(): EnvReader<readonly string[] | null> {
  const one = envVar.url(["redis:", "rediss:"]);
  return (raw) => {
    if (raw === undefined) return { ok: true, value: null };
    const urls = raw.split(",").map((url) => url.trim());
    if (urls.length !== TOPOLOGY.acceptorIds.length) {
      return {
        ok: false,
        problem: `must list ${TOPOLOGY.acceptorIds.length} URLs, one per acceptor (${TOPOLOGY.acceptorIds.join(", ")})`,
      };
    }
    for (const url of urls) {
      const result = one(url);
      if (!result.ok) return result;
    }
    return { ok: true, value: urls };
  };
}

/** Reads the launcher's settings; throws ConfigError naming every bad variable. */
export function launcherConfig(env: NodeJS.ProcessEnv, repoRoot: string): LauncherConfig {
  const values = readEnv(
    {
      PAXOS_CLUSTER: envVar.id("local"),
      PAXOS_HTTP_PORT: envVar.port(8080),
      LOG_LEVEL: envVar.logLevel(),
      PAXOS_EMBEDDED: envVar.flag(),
      NATS_URL: (raw: string | undefined) =>
        raw === undefined ? { ok: true as const, value: null } : envVar.url(["nats:", "tls:"])(raw),
      REDIS_URLS: redisUrlList(),
      PAXOS_ACCEPTOR_INIT: envVar.flag(),
      PAXOS_LOCAL_DATA: envVar.text(resolve(repoRoot, ".data")),
    },
    env,
  );
  if (values.PAXOS_HTTP_PORT === 0) throw new ConfigError(["PAXOS_HTTP_PORT must be a fixed port, not 0"]);
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
  };
}
