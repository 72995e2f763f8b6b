// The acceptor's one-off init step (services/acceptor/src/init.ts, docker compose's
// acceptor-<id>-init): it gives an empty Redis the acceptor's identity and exits 0, after which
// the acceptor votes without PAXOS_ACCEPTOR_INIT; with `--once` it never initialises again, so a
// Redis wiped later stays refused (amnesia) instead of being silently re-initialised; a Redis
// without AOF is refused (78) as the acceptor would refuse it.
// Real nats-server and redis-server; init and the acceptor as real child processes.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { acceptorKeys } from "@paxos/store-redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClusterCredentials } from "@paxos/transport-nats";
import { type NatsServer, startNats } from "../support/nats-server.ts";
import { type RedisServer, startRedis } from "../support/redis-server.ts";
import { testCredentials } from "../support/test-credentials.ts";
import { killAll, REPO_ROOT } from "./support/processes.ts";
import { ACCEPTOR_IDS, type ServiceEnv, startAcceptor, waitReady } from "./support/services.ts";

const EXIT_STORAGE_REFUSED = 78;
const CLUSTER = "init";
const credentials: ClusterCredentials = testCredentials(CLUSTER);

/**
 * Runs the init step for acceptor `id` on `redisUrl` with the acceptor's own environment (its
 * NATS credentials included, as compose gives it); resolves with its exit code and output.
 */
function runInit(id: string, redisUrl: string, args: readonly string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolveRun) => {
    execFile(
      process.execPath,
      [resolve(REPO_ROOT, "services/acceptor/src/init.ts"), ...args],
      {
        cwd: REPO_ROOT,
        timeout: 20_000,
        env: {
          PATH: process.env["PATH"] ?? "",
          PAXOS_CLUSTER: CLUSTER,
          PAXOS_ACCEPTOR_ID: id,
          PAXOS_ACCEPTOR_IDS: ACCEPTOR_IDS.join(","),
          REDIS_URL: redisUrl,
          ...credentials.env("acceptor", id),
        },
      },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
        resolveRun({ code, output: `${stdout}${stderr}` });
      },
    );
  });
}

describe("acceptor init step", () => {
  let nats: NatsServer;
  let where: ServiceEnv;
  let markerDir: string;
  const servers: RedisServer[] = [];

  beforeAll(async () => {
    nats = await startNats({ credentials });
    where = { cluster: CLUSTER, natsUrl: nats.url, credentials };
    markerDir = await mkdtemp(join(tmpdir(), "paxos-init-"));
  }, 30_000);

  afterAll(async () => {
    await killAll();
    for (const server of servers) await server.stop();
    await nats?.stop();
    if (markerDir !== undefined) await rm(markerDir, { recursive: true, force: true });
  });

  it("initialises an empty Redis once, then the acceptor votes without PAXOS_ACCEPTOR_INIT", async () => {
    const redis = await startRedis();
    servers.push(redis);
    const identity = acceptorKeys(CLUSTER, "a1").identity;
    const marker = join(markerDir, "a1");

    const first = await runInit("a1", redis.url, ["--once", marker]);
    expect(first.code, first.output).toBe(0);
    expect(await redis.cli("EXISTS", identity)).toBe("1");
    expect(existsSync(marker)).toBe(true);

    const acceptor = await startAcceptor(where, "a1", redis.url, false);
    await waitReady(acceptor, 15_000);
    expect(await acceptor.proc.stop("SIGTERM")).toBe(0);

    // Without the marker, init over an initialised Redis only checks it.
    const again = await runInit("a1", redis.url, []);
    expect(again.code, again.output).toBe(0);
  }, 60_000);

  it("with its marker present, leaves a wiped Redis empty, and the acceptor refuses it", async () => {
    const redis = await startRedis();
    servers.push(redis);
    const identity = acceptorKeys(CLUSTER, "a2").identity;
    const marker = join(markerDir, "a2");
    expect((await runInit("a2", redis.url, ["--once", marker])).code).toBe(0);

    await redis.cli("FLUSHALL");
    const second = await runInit("a2", redis.url, ["--once", marker]);
    expect(second.code, second.output).toBe(0);
    expect(second.output).toContain("not initialising again");
    expect(await redis.cli("EXISTS", identity)).toBe("0");

    const acceptor = await startAcceptor(where, "a2", redis.url, false);
    expect(await acceptor.proc.waitExit(15_000)).toBe(EXIT_STORAGE_REFUSED);
  }, 60_000);

  it("refuses a Redis without AOF (78) and writes no marker", async () => {
    const redis = await startRedis({ aof: false });
    servers.push(redis);
    const marker = join(markerDir, "a3");
    const result = await runInit("a3", redis.url, ["--once", marker]);
    expect(result.code, result.output).toBe(EXIT_STORAGE_REFUSED);
    expect(result.output).toContain("appendonly");
    expect(existsSync(marker)).toBe(false);
    expect(await redis.cli("EXISTS", acceptorKeys(CLUSTER, "a3").identity)).toBe("0");
  }, 60_000);
});
