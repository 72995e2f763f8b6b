import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { listenPort } from "@paxos/host";
import { acceptorKeys, requiredSettingsFlags } from "@paxos/store-redis";
import { clusterUser } from "@paxos/wire";
import type { ServerRegistry } from "./leftover-servers.ts";
import { httpOk, redisReady, waitFor } from "./net-probes.ts";
import { writePrivateFile } from "./private-files.ts";
import type { Child, ProcessGroup } from "./process-group.ts";
import { type LauncherConfig, TOPOLOGY } from "./topology.ts";

/** How long a redis-server may take to answer (it replays its AOF first). */
const REDIS_READY_TIMEOUT_MS = 15_000;
/** Written into an acceptor's Redis folder once that acceptor has initialised it and voted. */
const INIT_MARKER = "paxos-acceptor-initialised";
/** The configuration file in each acceptor's Redis folder, holding its ACL user and password. */
const REDIS_CONFIG_FILE = "redis.conf";

/** The Redis of one acceptor, as its acceptor process is told. */
export interface AcceptorRedis {
  /** REDIS_URL, with the acceptor's Redis user and password when the launcher runs the server. */
  readonly url: string;
  /** PAXOS_ACCEPTOR_INIT for its acceptor. */
  readonly init: boolean;
  /** The file to write once the acceptor has initialised it, or null. */
  readonly marker: string | null;
}

/**
 * The ACL part of an acceptor's redis.conf. Nobody may log in as the default user, so a client
 * that does not log in can run nothing; the one user, `acceptor-<id>`, reaches only that
 * acceptor's keys (acceptorKeys) with what its store runs: reads, writes and Lua scripts, CONFIG
 * GET (the durability check) and INFO (the client's ready check), and nothing of @dangerous
 * (CONFIG SET, FLUSHALL, DEBUG, SHUTDOWN, ACL, ...), so a leaked password cannot turn durability
 * off.
 *
 * The default user stays off but keeps every permission: Redis replays the AOF as the default
 * user and re-checks its ACL at each EXEC, and a script's writes are in the AOF as MULTI/EXEC. A
 * default user without permissions makes Redis drop every such transaction at start, silently:
 * an acceptor would lose its votes and accepted values at every restart (redis/redis#14541 and
 * its fix #14545; valkey-io/valkey#3983). `off` alone already refuses every login as it.
 */
export function acceptorRedisAcl(cluster: string, acceptorId: string, password: string): string {
  const keys = Object.values(acceptorKeys(cluster, acceptorId)).map((key) => `~${key}`);
  const rules = ["on", `>${password}`, "resetkeys", ...keys, "resetchannels", "-@all"];
  rules.push("+@read", "+@write", "+@scripting", "+@connection", "-@dangerous");
  rules.push("+config|get", "+info", "+client|setname");
  return [
    "# Written by npm start at every start, with a fresh password: edits here are lost.",
    "# It holds the acceptor's Redis password, so only its owner may read it.",
    "user default off ~* &* +@all",
    `user ${clusterUser("acceptor", acceptorId)} ${rules.join(" ")}`,
    "",
  ].join("\n");
}

/**
 * One redis-server per acceptor with the durability the acceptor requires, data kept under
 * `<dataRoot>/redis-<id>/` across runs, each admitting only its acceptor's own ACL user
 * (acceptorRedisAcl) with a password fresh at every start, written with the ACL to
 * `<dataRoot>/redis-<id>/redis.conf` (0600) and never put on a command line. An acceptor may
 * initialise its Redis (PAXOS_ACCEPTOR_INIT) only while the folder has no marker: the folder was
 * just created, or the first start was cut short before the acceptor came up. A folder with a
 * marker and an empty Redis is amnesia, and the acceptor rightly refuses to vote.
 */
export async function startLocalRedises(
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
    const login = { user: clusterUser("acceptor", acceptorId), password: randomBytes(24).toString("base64url") };
    const configFile = join(dir, REDIS_CONFIG_FILE);
    await writePrivateFile(configFile, acceptorRedisAcl(config.cluster, acceptorId, login.password));
    const port = await listenPort();
    const child = group.start({
      name: `redis ${acceptorId}`,
      command: "redis-server",
      args: [
        configFile,
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
      () => redisReady("127.0.0.1", port, login),
      () => (child.done ? "redis-server exited (see its output above)" : null),
      REDIS_READY_TIMEOUT_MS,
    );
    if (failure !== null) throw new Error(`redis-server for ${acceptorId} (${dir}): ${failure}`);
    const credentials = `${encodeURIComponent(login.user)}:${encodeURIComponent(login.password)}`;
    result.push({ url: `redis://${credentials}@127.0.0.1:${port}`, init: !existsSync(marker), marker });
  }
  return result;
}

/** The banner's line on how startLocalRedises guards each Redis, and where the passwords are. */
export function localRedisSecurityLine(dataRoot: string): string {
  const configFile = join(dataRoot, "redis-<id>", REDIS_CONFIG_FILE);
  return `  Redis: each acceptor's server admits only its ACL user acceptor-<id>, password in ${configFile}`;
}

/** The Redis servers REDIS_URLS names, one per acceptor in TOPOLOGY order. */
export function externalRedises(config: LauncherConfig): AcceptorRedis[] {
  return (config.redisUrls ?? []).map((url) => ({ url, init: config.initExternalRedis, marker: null }));
}

/** Once the acceptor is ready (it initialised its Redis), records that in its Redis folder. */
export async function markInitialised(child: Child, adminPort: number, marker: string): Promise<void> {
  const failure = await waitFor(
    () => httpOk(`http://127.0.0.1:${adminPort}/readyz`),
    () => (child.done ? "exited" : null),
    24 * 3_600_000,
    200,
  );
  if (failure === null) await writeFile(marker, `initialised ${new Date().toISOString()}\n`);
}
