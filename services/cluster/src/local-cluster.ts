import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { ScrapeTarget } from "@paxos/dashboards";
import { listenPort, redactedUrl } from "@paxos/host";
import { ClusterCredentials } from "@paxos/transport-nats";
import { Subjects } from "@paxos/wire";
import { localApiToken } from "./api-token.ts";
import { printReady } from "./banner.ts";
import { ServerRegistry, stopLeftoverServers } from "./leftover-servers.ts";
import { localNatsPaths, startLocalNats } from "./local-nats.ts";
import { startLocalPrometheus } from "./local-prometheus.ts";
import { externalRedises, localRedisSecurityLine, markInitialised, startLocalRedises } from "./local-redis.ts";
import {
  anonymousNatsWarning,
  externalNatsLogin,
  type NatsLogin,
  natsSecurityLines,
  ownNatsLogin,
} from "./nats-login.ts";
import { httpOk, waitFor } from "./net-probes.ts";
import { type Child, type ChildExit, ProcessGroup } from "./process-group.ts";
import { waitForSignal } from "./signals.ts";
import { clusterIdentities, type LauncherConfig, TOPOLOGY } from "./topology.ts";

/** How long children get to stop after SIGTERM before SIGKILL. */
const STOP_TIMEOUT_MS = 10_000;

/**
 * Runs the cluster as separate processes on local servers: one nats-server, one redis-server per
 * acceptor (durable settings, data under `<dataRoot>/redis-<id>/`), then 3 acceptors, 2
 * proposers, 1 learner and the gateway, and with PAXOS_PROMETHEUS=1 a Prometheus that scrapes
 * them all. Prints the gateway's URL and a curl once it is ready.
 * Secure by default: the nats-server admits only the cluster's processes, each as its own user
 * with fresh random passwords and its role's permissions (local-nats.ts), and each redis-server
 * only its acceptor's ACL user (local-redis.ts). Every password reaches its process in its
 * environment, never on a command line.
 * Resolves with the exit code once a SIGINT or SIGTERM has stopped everything.
 */
export async function runLocalCluster(
  config: LauncherConfig,
  print: (line: string) => void,
  colour: boolean,
): Promise<number> {
  const say = (line: string): void => print(`[cluster] ${line}`);
  const group = new ProcessGroup(print, colour, (child: Child, exit: ChildExit) => {
    say(`${child.name} exited unexpectedly (${describeExit(exit)}); see its log above. The rest keeps running.`);
  });
  const stopped = waitForSignal(say);
  await mkdir(config.dataRoot, { recursive: true });
  say(
    `local mode: ${config.natsUrl === null ? "starting nats-server" : `NATS at ${redactedUrl(config.natsUrl)}`}, ` +
      `${config.redisUrls === null ? "one redis-server per acceptor" : "the given REDIS_URLS"}, then every role ` +
      `as its own process (data in ${config.dataRoot})`,
  );

  await stopLeftoverServers(config.dataRoot, say);
  const registry = new ServerRegistry(config.dataRoot);
  const servers: Child[] = [];
  const apps: Child[] = [];
  const stopAll = async (): Promise<void> => {
    await group.stop(apps, STOP_TIMEOUT_MS);
    await group.stop(null, STOP_TIMEOUT_MS);
  };

  try {
    let natsUrl: string;
    let natsLogin: NatsLogin;
    if (config.natsUrl !== null && config.externalNatsAuth !== null) {
      natsUrl = config.natsUrl;
      natsLogin = externalNatsLogin(config.externalNatsAuth);
      if (config.externalNatsAuth.kind === "anonymous") say(anonymousNatsWarning(natsUrl));
    } else {
      // Fresh passwords at every start: the server's configuration is rewritten with them.
      const credentials = new ClusterCredentials(new Subjects(config.cluster), clusterIdentities());
      natsUrl = await startLocalNats(group, servers, registry, config.dataRoot, credentials);
      natsLogin = ownNatsLogin(credentials);
    }
    const redis =
      config.redisUrls === null ? await startLocalRedises(group, servers, registry, config) : externalRedises(config);
    const common = {
      PATH: process.env["PATH"] ?? "",
      PAXOS_CLUSTER: config.cluster,
      NATS_URL: natsUrl,
      PAXOS_ACCEPTOR_IDS: TOPOLOGY.acceptorIds.join(","),
      PAXOS_ADMIN_HOST: "127.0.0.1",
      LOG_LEVEL: config.logLevel,
      // The services stop themselves if this launcher is killed without stopping them.
      PAXOS_PARENT_PID: String(process.pid),
      // PAXOS_LIMITS and the other limits variables, as given to npm start.
      ...config.limits.env,
      // OpenTelemetry settings (OTEL_EXPORTER_OTLP_ENDPOINT, sampler, ...) reach every service.
      ...Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith("OTEL_"))),
    };
    /** How to run `service`; `instance` (e.g. "acceptor-a1") names its CPU profile's folder. */
    const node = (service: string, instance: string): { command: string; args: string[]; cwd: string } => ({
      command: process.execPath,
      args: [
        ...(config.cpuProfileDir === null
          ? []
          : ["--cpu-prof", `--cpu-prof-dir=${join(config.cpuProfileDir, instance)}`]),
        join(config.repoRoot, "services", service, "src", "main.ts"),
      ],
      cwd: config.repoRoot,
    });

    const admin: { name: string; port: number }[] = [];
    const scrapeTargets: ScrapeTarget[] = [];
    const scrape = (role: ScrapeTarget["role"], instance: string, port: number): void => {
      scrapeTargets.push({ role, instance, address: `127.0.0.1:${port}` });
    };
    for (const [i, acceptorId] of TOPOLOGY.acceptorIds.entries()) {
      const store = redis[i];
      if (store === undefined) throw new Error(`no Redis for acceptor ${acceptorId}`);
      const adminPort = await listenPort();
      admin.push({ name: `acceptor ${acceptorId}`, port: adminPort });
      scrape("acceptor", acceptorId, adminPort);
      const child = group.start({
        name: `acceptor ${acceptorId}`,
        ...node("acceptor", `acceptor-${acceptorId}`),
        env: {
          ...common,
          ...natsLogin("acceptor", acceptorId),
          PAXOS_ACCEPTOR_ID: acceptorId,
          REDIS_URL: store.url,
          PAXOS_ACCEPTOR_INIT: store.init ? "1" : "0",
          PAXOS_ADMIN_PORT: String(adminPort),
        },
      });
      apps.push(child);
      if (store.init && store.marker !== null) {
        markInitialised(child, adminPort, store.marker).catch((error: unknown) => {
          say(`could not record that ${acceptorId} initialised its Redis: ${String(error)}`);
        });
      }
    }
    for (const learnerId of TOPOLOGY.learnerIds) {
      const adminPort = await listenPort();
      admin.push({ name: `learner ${learnerId}`, port: adminPort });
      scrape("learner", learnerId, adminPort);
      const dataDir = join(config.dataRoot, `learner-${learnerId}`);
      await mkdir(dataDir, { recursive: true });
      apps.push(
        group.start({
          name: `learner ${learnerId}`,
          ...node("learner", `learner-${learnerId}`),
          env: {
            ...common,
            ...natsLogin("learner", learnerId),
            PAXOS_LEARNER_ID: learnerId,
            PAXOS_DATA_DIR: dataDir,
            PAXOS_ADMIN_PORT: String(adminPort),
          },
        }),
      );
    }
    for (const name of TOPOLOGY.proposerNames) {
      const adminPort = await listenPort();
      admin.push({ name: `proposer ${name}`, port: adminPort });
      scrape("proposer", name, adminPort);
      apps.push(
        group.start({
          name: `proposer ${name}`,
          ...node("proposer", `proposer-${name}`),
          env: {
            ...common,
            ...natsLogin("proposer", name),
            PAXOS_PROPOSER_NAME: name,
            PAXOS_ADMIN_PORT: String(adminPort),
          },
        }),
      );
    }
    const apiToken = await localApiToken(config.dataRoot);
    const gateway = group.start({
      name: "gateway",
      ...node("gateway", "gateway"),
      env: {
        ...common,
        ...natsLogin("gateway", TOPOLOGY.gatewayName),
        PAXOS_GATEWAY_NAME: TOPOLOGY.gatewayName,
        PAXOS_HTTP_PORT: String(config.httpPort),
        PAXOS_HTTP_HOST: "127.0.0.1",
        PAXOS_AUTH: "tokens",
        PAXOS_AUTH_TOKENS_FILE: apiToken.tokensFile,
      },
    });
    apps.push(gateway);
    // The gateway serves /healthz, /readyz and /metrics on its REST port.
    admin.push({ name: "gateway", port: config.httpPort });
    scrape("gateway", "gateway", config.httpPort);
    const prometheus = await startLocalPrometheus(config, scrapeTargets, group, registry, say);

    const gatewayUrl = `http://127.0.0.1:${config.httpPort}`;
    const ready = await Promise.race([
      waitFor(
        () => httpOk(`${gatewayUrl}/readyz`),
        () => (gateway.done ? "the gateway exited" : group.stopping ? "stopping" : null),
        24 * 3_600_000,
        200,
      ),
      stopped.then(() => "stopping"),
    ]);
    if (ready === null) {
      const serverKinds = [
        config.natsUrl === null ? "nats-server" : "external NATS",
        config.redisUrls === null ? "redis-server" : "external Redis",
      ];
      const security = [
        ...natsSecurityLines(config.natsUrl, config.externalNatsAuth, localNatsPaths(config.dataRoot).credentialsDir),
        ...(config.redisUrls === null ? [localRedisSecurityLine(config.dataRoot)] : []),
      ];
      printReady(
        print,
        gatewayUrl,
        `${serverKinds.join(" and ")}, data in ${config.dataRoot}`,
        admin,
        prometheus,
        security,
        apiToken.tokenFile,
      );
    } else if (ready !== "stopping") {
      say(`the gateway did not become ready (${ready}); press Ctrl-C to stop`);
    }
    await stopped;
    say("stopping every process it started…");
    await stopAll();
    say("stopped");
    return 0;
  } catch (error) {
    say(`could not start: ${error instanceof Error ? error.message : String(error)}`);
    await stopAll();
    return 1;
  }
}

function describeExit(exit: ChildExit): string {
  if (exit.signal !== null) return `killed by ${exit.signal}`;
  if (exit.code === null) return "failed to start";
  return `exit code ${exit.code}`;
}
