import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ScrapeTarget } from "@paxos/dashboards";
import { requiredSettingsFlags } from "@paxos/store-redis";
import { printReady } from "./banner.ts";
import { ServerRegistry, stopLeftoverServers } from "./leftover-servers.ts";
import { startLocalPrometheus } from "./local-prometheus.ts";
import { freePort, httpOk, natsReady, redisReady, waitFor } from "./net-probes.ts";
import { type Child, type ChildExit, ProcessGroup } from "./process-group.ts";
import { waitForSignal } from "./signals.ts";
import { type LauncherConfig, TOPOLOGY } from "./topology.ts";

/** How long children get to stop after SIGTERM before SIGKILL. */
const STOP_TIMEOUT_MS = 10_000;
/** How long a server may take to answer after it is started. */
const SERVER_READY_TIMEOUT_MS = 15_000;
/** Written into an acceptor's Redis folder once that acceptor has initialised it and voted. */
const INIT_MARKER = "paxos-acceptor-initialised";

/**
 * Runs the cluster as separate processes on local servers: one nats-server, one redis-server per
 * acceptor (durable settings, data under `<dataRoot>/redis-<id>/`), then 3 acceptors, 2
 * proposers, 1 learner and the gateway, and with PAXOS_PROMETHEUS=1 a Prometheus that scrapes
 * them all. Prints the gateway's URL and a curl once it is ready.
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
    `local mode: ${config.natsUrl === null ? "starting nats-server" : `NATS at ${config.natsUrl}`}, ` +
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
    const natsUrl = config.natsUrl ?? (await startNats(group, servers, registry));
    const redis =
      config.redisUrls === null ? await startRedises(group, servers, registry, config) : externalRedis(config);
    const common = {
      PATH: process.env["PATH"] ?? "",
      PAXOS_CLUSTER: config.cluster,
      NATS_URL: natsUrl,
      PAXOS_ACCEPTOR_IDS: TOPOLOGY.acceptorIds.join(","),
      PAXOS_ADMIN_HOST: "127.0.0.1",
      LOG_LEVEL: config.logLevel,
      // The services stop themselves if this launcher is killed without stopping them.
      PAXOS_PARENT_PID: String(process.pid),
      // OpenTelemetry settings (OTEL_EXPORTER_OTLP_ENDPOINT, sampler, ...) reach every service.
      ...Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith("OTEL_"))),
    };
    const node = (service: string): { command: string; args: string[]; cwd: string } => ({
      command: process.execPath,
      args: [join(config.repoRoot, "services", service, "src", "main.ts")],
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
      const adminPort = await freePort();
      admin.push({ name: `acceptor ${acceptorId}`, port: adminPort });
      scrape("acceptor", acceptorId, adminPort);
      const child = group.start({
        name: `acceptor ${acceptorId}`,
        ...node("acceptor"),
        env: {
          ...common,
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
      const adminPort = await freePort();
      admin.push({ name: `learner ${learnerId}`, port: adminPort });
      scrape("learner", learnerId, adminPort);
      const dataDir = join(config.dataRoot, `learner-${learnerId}`);
      await mkdir(dataDir, { recursive: true });
      apps.push(
        group.start({
          name: `learner ${learnerId}`,
          ...node("learner"),
          env: { ...common, PAXOS_LEARNER_ID: learnerId, PAXOS_DATA_DIR: dataDir, PAXOS_ADMIN_PORT: String(adminPort) },
        }),
      );
    }
    for (const name of TOPOLOGY.proposerNames) {
      const adminPort = await freePort();
      admin.push({ name: `proposer ${name}`, port: adminPort });
      scrape("proposer", name, adminPort);
      apps.push(
        group.start({
          name: `proposer ${name}`,
          ...node("proposer"),
          env: { ...common, PAXOS_PROPOSER_NAME: name, PAXOS_ADMIN_PORT: String(adminPort) },
        }),
      );
    }
    const gateway = group.start({
      name: "gateway",
      ...node("gateway"),
      env: { ...common, PAXOS_HTTP_PORT: String(config.httpPort), PAXOS_HTTP_HOST: "127.0.0.1" },
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
      printReady(print, gatewayUrl, `${serverKinds.join(" and ")}, data in ${config.dataRoot}`, admin, prometheus);
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

async function startNats(group: ProcessGroup, servers: Child[], registry: ServerRegistry): Promise<string> {
  const port = await freePort();
  const child = group.start({
    name: "nats",
    command: "nats-server",
    args: ["-a", "127.0.0.1", "-p", String(port)],
    env: { PATH: process.env["PATH"] ?? "" },
    cwd: process.cwd(),
  });
  servers.push(child);
  if (child.pid !== undefined) registry.add({ pid: child.pid, command: "nats-server", port });
  const failure = await waitFor(
    () => natsReady("127.0.0.1", port),
    () => (child.done ? "nats-server exited" : null),
    SERVER_READY_TIMEOUT_MS,
  );
  if (failure !== null) throw new Error(`nats-server on port ${port}: ${failure}`);
  return `nats://127.0.0.1:${port}`;
}

interface AcceptorRedis {
  readonly url: string;
  /** PAXOS_ACCEPTOR_INIT for its acceptor. */
  readonly init: boolean;
  /** The file to write once the acceptor has initialised it, or null. */
  readonly marker: string | null;
}

/**
 * One redis-server per acceptor with the durability the acceptor requires, data kept under
 * `<dataRoot>/redis-<id>/` across runs. An acceptor may initialise its Redis (PAXOS_ACCEPTOR_INIT)
 * only while the folder has no marker: the folder was just created, or the first start was cut
 * short before the acceptor came up. A folder with a marker and an empty Redis is amnesia, and
 * the acceptor rightly refuses to vote.
 */
async function startRedises(
  group: ProcessGroup,
  servers: Child[],
  registry: ServerRegistry,
  config: LauncherConfig,
): Promise<AcceptorRedis[]> {
  const result: AcceptorRedis[] = [];
  for (const acceptorId of TOPOLOGY.acceptorIds) {
    const dir = join(config.dataRoot, `redis-${acceptorId}`);
    await mkdir(dir, { recursive: true });
    const marker = join(dir, INIT_MARKER);
    const port = await freePort();
    const child = group.start({
      name: `redis ${acceptorId}`,
      command: "redis-server",
      args: [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        dir,
        ...requiredSettingsFlags(),
        "--save",
        "",
        "--loglevel",
        "warning",
      ],
      env: { PATH: process.env["PATH"] ?? "" },
      cwd: dir,
      // Redis warns about the kernel's overcommit setting, which matters only for its RDB and
      // AOF-rewrite forks; nothing a user trying the cluster can or needs to act on.
      quiet: /Memory overcommit must be enabled/,
    });
    servers.push(child);
    if (child.pid !== undefined) registry.add({ pid: child.pid, command: "redis-server", port });
    const failure = await waitFor(
      () => redisReady("127.0.0.1", port),
      () => (child.done ? "redis-server exited (see its output above)" : null),
      SERVER_READY_TIMEOUT_MS,
    );
    if (failure !== null) throw new Error(`redis-server for ${acceptorId} (${dir}): ${failure}`);
    const init = !existsSync(marker);
    result.push({ url: `redis://127.0.0.1:${port}`, init, marker });
  }
  return result;
}

function externalRedis(config: LauncherConfig): AcceptorRedis[] {
  return (config.redisUrls ?? []).map((url) => ({ url, init: config.initExternalRedis, marker: null }));
}

/** Once the acceptor is ready (it initialised its Redis), records that in its Redis folder. */
async function markInitialised(child: Child, adminPort: number, marker: string): Promise<void> {
  const failure = await waitFor(
    () => httpOk(`http://127.0.0.1:${adminPort}/readyz`),
    () => (child.done ? "exited" : null),
    24 * 3_600_000,
    200,
  );
  if (failure === null) await writeFile(marker, `initialised ${new Date().toISOString()}\n`);
}

function describeExit(exit: ChildExit): string {
  if (exit.signal !== null) return `killed by ${exit.signal}`;
  if (exit.code === null) return "failed to start";
  return `exit code ${exit.code}`;
}
