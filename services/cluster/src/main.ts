// `npm start`: a local Paxos cluster for a new user. With nats-server and redis-server on PATH
// (or NATS_URL / REDIS_URLS given) it runs every role as its own process on real servers;
// without them it runs the embedded single-process cluster and says so. Data stays in `.data/`.
// With PAXOS_PROMETHEUS=1 the real-process cluster also runs a Prometheus scraping every process.
import { resolve } from "node:path";
import { EXIT_CODES, loadConfigOrExit } from "@paxos/host";
import { runEmbeddedCluster } from "./embedded-cluster.ts";
import { findExecutable } from "./find-executable.ts";
import { lockDataRoot } from "./data-lock.ts";
import { launcherConfig } from "./launcher-config.ts";
import { portIsFree } from "./net-probes.ts";
import { runLocalCluster } from "./local-cluster.ts";

const repoRoot = resolve(import.meta.dirname, "..", "..", "..");
const config = loadConfigOrExit("npm start", (env) => launcherConfig(env, repoRoot));
const colour = process.stdout.isTTY && process.env["NO_COLOR"] === undefined;
const print = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

const owner = lockDataRoot(config.dataRoot);
if (owner !== null) {
  print(`[cluster] another npm start (pid ${owner}) is using ${config.dataRoot}; stop it first.`);
  process.exit(1);
}

if (!(await portIsFree(config.httpPort))) {
  print(
    `[cluster] port ${config.httpPort} is already in use, so the gateway could not listen there. ` +
      `Stop what uses it, or pick another port: PAXOS_HTTP_PORT=${config.httpPort + 1} npm start`,
  );
  process.exit(1);
}

const missing = [
  ...(config.natsUrl === null && findExecutable("nats-server") === null ? ["nats-server"] : []),
  ...(config.redisUrls === null && findExecutable("redis-server") === null ? ["redis-server"] : []),
];
const embeddedReason = config.forceEmbedded
  ? "PAXOS_EMBEDDED=1"
  : missing.length > 0
    ? `${missing.join(" and ")} not found on PATH`
    : null;

const exitCode =
  embeddedReason === null
    ? await runLocalCluster(config, print, colour)
    : await runEmbeddedCluster(config, print, colour, embeddedReason);
process.exit(exitCode === 0 ? EXIT_CODES.ok : exitCode);
