import type { Server } from "node:http";
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { MemoryBus } from "@paxos/embedded";
import { createGatewayApp, loadGatewayAuth } from "@paxos/gateway-app";
import {
  createLogger,
  createRegistry,
  type Logger,
  newProposerId,
  roleContext,
  type RoleContext,
  type RunningRole,
  startAcceptorRole,
  startLearnerRole,
  startProposerRole,
} from "@paxos/host";
import { FileAcceptorStore, FileLearnerStore, type StoreLogger } from "@paxos/store-file";
import { Subjects } from "@paxos/wire";
import type { LevelWithSilent } from "pino";
import { printReady } from "./banner.ts";
import { localApiToken } from "./api-token.ts";
import { LineFormatter } from "./log-lines.ts";
import { httpOk, waitFor } from "./net-probes.ts";
import { waitForSignal } from "./signals.ts";
import { type LauncherConfig, TOPOLOGY } from "./topology.ts";

/** Written into an acceptor's folder once it has claimed it and voted (see local-cluster.ts). */
const INIT_MARKER = "paxos-acceptor-initialised";

/**
 * Runs the whole cluster in this one process, for a machine without nats-server or redis-server:
 * an in-process MemoryBus instead of NATS, a fsync'ing FileAcceptorStore per acceptor and a
 * FileLearnerStore under `<dataRoot>/embedded/`, the same hosts as the services, and the gateway
 * app on PAXOS_HTTP_PORT. Resolves with the exit code once a SIGINT or SIGTERM has stopped it.
 */
export async function runEmbeddedCluster(
  config: LauncherConfig,
  print: (line: string) => void,
  colour: boolean,
  reason: string,
): Promise<number> {
  const say = (line: string): void => print(`[cluster] ${line}`);
  const dataRoot = join(config.dataRoot, "embedded");
  say(`EMBEDDED MODE (${reason}): every role runs in this one process over an in-memory bus,`);
  say(`with file stores under ${dataRoot}. Install nats-server and redis-server for the real thing.`);
  if (config.prometheus) {
    // The roles' metrics are not served here: there are no admin ports to scrape.
    say("PAXOS_PROMETHEUS=1 is ignored: Prometheus is offered only when every role runs as its own process.");
  }
  const stopped = waitForSignal(say);
  await mkdir(dataRoot, { recursive: true });

  let colourIndex = 0;
  const loggerFor = (service: string, id: string): Logger => {
    const formatter = new LineFormatter(`${service} ${id}`, colourIndex++, colour);
    return createLogger(service, id, config.logLevel as LevelWithSilent, {
      write: (line: string) => print(formatter.format(line.trimEnd())),
    });
  };
  const bus = new MemoryBus();
  const subjects = new Subjects(config.cluster);
  const topology = {
    cluster: config.cluster,
    acceptorIds: TOPOLOGY.acceptorIds,
    limits: config.limits.protocol,
    hostLimits: config.limits.host,
  };
  const context = (service: string, id: string): RoleContext =>
    roleContext({ bus, config: topology, logger: loggerFor(service, id), registry: createRegistry(false) });

  const roles: RunningRole<unknown>[] = [];
  let server: Server | null = null;
  let gateway: ReturnType<typeof createGatewayApp> | null = null;
  try {
    for (const acceptorId of TOPOLOGY.acceptorIds) {
      const dir = join(dataRoot, `acceptor-${acceptorId}`);
      const marker = join(dir, INIT_MARKER);
      const allowInit = !existsSync(marker);
      const ctx = context("acceptor", acceptorId);
      const role = await startAcceptorRole(ctx, acceptorId, ({ firstOpen }) => {
        return new FileAcceptorStore({
          dir,
          cluster: config.cluster,
          acceptorId,
          allowInit: allowInit && firstOpen,
          logger: storeLogger(ctx.logger),
        });
      });
      roles.push(role);
      if (allowInit && role.host.voting) await writeFile(marker, `initialised ${new Date().toISOString()}\n`);
    }
    for (const learnerId of TOPOLOGY.learnerIds) {
      const ctx = context("learner", learnerId);
      const dir = join(dataRoot, `learner-${learnerId}`);
      roles.push(
        await startLearnerRole(ctx, learnerId, () => new FileLearnerStore({ dir, logger: storeLogger(ctx.logger) })),
      );
    }
    for (const name of TOPOLOGY.proposerNames) {
      roles.push(startProposerRole(context("proposer", name), newProposerId(name)));
    }
    // The data folder's own token, the same as local mode's: one token whichever mode runs.
    const apiToken = await localApiToken(config.dataRoot);
    const gatewayLogger = loggerFor("gateway", "gw");
    gateway = createGatewayApp({
      bus,
      subjects,
      acceptorIds: TOPOLOGY.acceptorIds,
      protocolLimits: config.limits.protocol,
      limits: config.limits.gateway,
      logger: gatewayLogger,
      auth: await loadGatewayAuth(
        { mode: "tokens", tokens: { kind: "file", path: apiToken.tokensFile }, openPaths: ["/metrics"] },
        gatewayLogger,
      ),
    });
    server = await gateway.listen(config.httpPort, "127.0.0.1");

    const gatewayUrl = `http://127.0.0.1:${config.httpPort}`;
    const ready = await Promise.race([
      waitFor(
        () => httpOk(`${gatewayUrl}/readyz`),
        () => null,
        24 * 3_600_000,
        200,
      ),
      stopped.then(() => "stopping"),
    ]);
    if (ready === null)
      printReady(print, gatewayUrl, `EMBEDDED, data in ${dataRoot}`, [], null, [], apiToken.tokenFile);
    await stopped;
    return await stopEverything();
  } catch (error) {
    say(`could not start: ${error instanceof Error ? error.message : String(error)}`);
    await stopEverything();
    return 1;
  }

  async function stopEverything(): Promise<number> {
    say("stopping…");
    const closing = server;
    if (closing !== null) {
      await new Promise<void>((resolve) => {
        closing.close(() => resolve());
        closing.closeAllConnections();
      });
    }
    await gateway?.close();
    // Intake first (proposers), then the roles that persist, so their last writes finish.
    for (const role of [...roles].reverse()) await role.stop();
    await bus.close();
    say("stopped");
    return 0;
  }
}

/** Routes a store's log lines to the role's logger. */
function storeLogger(logger: Logger): StoreLogger {
  return (level, msg, fields) => logger[level](fields, msg);
}
