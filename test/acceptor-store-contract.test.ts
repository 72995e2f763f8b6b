// Runs the AcceptorStore contract (test/contract/acceptor-store-contract.ts) over the memory, file
// and Redis stores, the Redis one against a real redis-server; then the Redis store's own duties:
// refusing a non-durable Redis, failing fast while Redis is down or stuck, detecting a wipe under
// a running store, and the server refusing a truncated AOF (DESIGN.md, pitfalls).
import { mkdtemp, open, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileAcceptorStore, MemoryAcceptorStorage, MemoryAcceptorStore } from "@paxos/embedded";
import { RedisAcceptorStore, acceptorKeys } from "@paxos/store-redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  acceptorStoreContract,
  acceptWrite,
  ballot,
  expectStoreError,
  promiseWrite,
  value,
} from "./contract/acceptor-store-contract.ts";
import { startRedis, type RedisServer } from "./support/redis-server.ts";

const CLUSTER = "contract";
const COMMAND_TIMEOUT_MS = 300;

acceptorStoreContract("MemoryAcceptorStore", () => {
  const storage = new MemoryAcceptorStorage();
  return Promise.resolve({
    store: ({ allowInit }) => new MemoryAcceptorStore({ cluster: CLUSTER, acceptorId: "a1", allowInit, storage }),
    wipe: () => Promise.resolve(storage.wipe()),
    loseIdentity: () => Promise.resolve(void (storage.identity = null)),
    crash: () => Promise.resolve(),
    dispose: () => Promise.resolve(),
  });
});

acceptorStoreContract("FileAcceptorStore", async () => {
  const root = await mkdtemp(join(tmpdir(), "paxos-file-store-"));
  const dir = join(root, "acceptor");
  return {
    store: ({ allowInit }) => new FileAcceptorStore({ dir, cluster: CLUSTER, acceptorId: "a1", allowInit }),
    wipe: () => rm(dir, { recursive: true, force: true }),
    loseIdentity: () => rm(join(dir, "acceptor-identity.json")),
    crash: () => Promise.resolve(),
    dispose: () => rm(root, { recursive: true, force: true }),
  };
});

describe("RedisAcceptorStore", () => {
  let redis: RedisServer;
  let acceptorCount = 0;

  /** A store on `server` for a fresh acceptor id (or `acceptorId`). */
  function redisStore(
    server: RedisServer,
    options: { allowInit: boolean; acceptorId?: string; unsafe?: boolean; logs?: string[] },
  ): RedisAcceptorStore {
    return new RedisAcceptorStore({
      redisUrl: server.url,
      cluster: CLUSTER,
      acceptorId: options.acceptorId ?? `a${++acceptorCount}`,
      allowInit: options.allowInit,
      unsafeSkipDurabilityChecks: options.unsafe ?? false,
      commandTimeoutMs: COMMAND_TIMEOUT_MS,
      logger: (level, msg) => options.logs?.push(`${level} ${msg}`),
    });
  }

  beforeAll(async () => {
    redis = await startRedis();
  });

  afterAll(async () => {
    await redis?.stop();
  });

  acceptorStoreContract("RedisAcceptorStore on redis-server", () => {
    const acceptorId = `a${++acceptorCount}`;
    return Promise.resolve({
      store: ({ allowInit }) => redisStore(redis, { allowInit, acceptorId }),
      wipe: async () => void (await redis.cli("FLUSHALL")),
      loseIdentity: async () => void (await redis.cli("DEL", acceptorKeys(CLUSTER, acceptorId).identity)),
      crash: async () => {
        await redis.kill("SIGKILL");
        await redis.restart();
      },
      dispose: () => Promise.resolve(),
    });
  });

  it("stores nothing with a TTL", async () => {
    const store = redisStore(redis, { allowInit: true, acceptorId: "ttl" });
    await store.open();
    await store.write(acceptWrite(0, ballot(1, "p-a")));
    await store.close();
    const keys = acceptorKeys(CLUSTER, "ttl");
    for (const key of [keys.identity, keys.promised, keys.accepted]) expect(await redis.cli("TTL", key)).toBe("-1");
  });

  it("fails the next write with amnesia when Redis is wiped under an open store", async () => {
    const store = redisStore(redis, { allowInit: true });
    await store.open();
    await store.write(promiseWrite(ballot(1, "p-a")));
    await redis.cli("FLUSHALL");
    await expectStoreError(store.write(promiseWrite(ballot(2, "p-a"))), "amnesia");
    expect(await redis.cli("DBSIZE")).toBe("0");
    await store.close();
  });

  it("refuses an identity naming another acceptor, and malformed stored state, as corrupt", async () => {
    const keys = acceptorKeys(CLUSTER, "forged");
    await redis.cli("SET", keys.identity, JSON.stringify({ cluster: CLUSTER, acceptorId: "other", createdAtMs: 1 }));
    await expectStoreError(redisStore(redis, { allowInit: true, acceptorId: "forged" }).open(), "corrupt");

    const identity = JSON.stringify({ cluster: CLUSTER, acceptorId: "forged", createdAtMs: 1 });
    await redis.cli("SET", keys.identity, identity);
    await redis.cli("HSET", keys.promised, "round", "1.5", "proposerId", "p-a");
    await expectStoreError(redisStore(redis, { allowInit: false, acceptorId: "forged" }).open(), "corrupt");

    await redis.cli("HSET", keys.promised, "round", "2", "proposerId", "p-a");
    const entry = JSON.stringify({ round: "3", proposerId: "p-a", value: value("x") });
    await redis.cli("HSET", keys.accepted, "4", entry);
    const error = await expectStoreError(
      redisStore(redis, { allowInit: false, acceptorId: "forged" }).open(),
      "corrupt",
    );
    expect(error.message).toMatch(/above the promise/);
  });

  it("refuses a Redis without AOF as notDurable, naming the setting; unsafeSkipDurabilityChecks opens it loudly", async () => {
    const volatile = await startRedis({ aof: false });
    try {
      const error = await expectStoreError(redisStore(volatile, { allowInit: true }).open(), "notDurable");
      expect(error.message).toMatch(/appendonly is "no", required "yes"/);
      const logs: string[] = [];
      const store = redisStore(volatile, { allowInit: true, unsafe: true, logs });
      await store.open();
      await store.write(promiseWrite(ballot(1, "p-a")));
      await store.close();
      expect(logs.some((line) => line.startsWith("warn UNSAFE STORAGE"))).toBe(true);
    } finally {
      await volatile.stop();
    }
  });

  it("fails writes with unavailable at once while redis-server is down, and a new store works after restart", async () => {
    const store = redisStore(redis, { allowInit: true });
    await store.open();
    await redis.kill("SIGTERM");
    const startedMs = Date.now();
    await expectStoreError(store.write(promiseWrite(ballot(1, "p-a"))), "unavailable");
    expect(Date.now() - startedMs).toBeLessThan(COMMAND_TIMEOUT_MS + 500);
    await store.close();
    await expectStoreError(redisStore(redis, { allowInit: true }).open(), "unavailable");
    await redis.restart();
    const again = redisStore(redis, { allowInit: true });
    await again.open();
    await again.write(promiseWrite(ballot(1, "p-a")));
    await again.close();
  });

  it("fails a write with unavailable within commandTimeoutMs when redis-server hangs", async () => {
    const store = redisStore(redis, { allowInit: true });
    await store.open();
    await redis.kill("SIGSTOP");
    try {
      const startedMs = Date.now();
      await expectStoreError(store.write(promiseWrite(ballot(1, "p-a"))), "unavailable");
      expect(Date.now() - startedMs).toBeLessThan(COMMAND_TIMEOUT_MS + 500);
    } finally {
      await redis.kill("SIGCONT");
    }
    await store.close();
  });

  it("leaves a redis-server whose AOF lost its tail refusing to start (aof-load-truncated no)", async () => {
    const server = await startRedis();
    try {
      const store = redisStore(server, { allowInit: true });
      await store.open();
      for (let round = 1; round <= 5; round++) await store.write(acceptWrite(round, ballot(round, "p-a")));
      await store.close();
      await server.kill("SIGKILL");
      // What a power cut does to writes that were not yet fsync'ed: the file ends mid-command.
      const aofDir = join(server.dir, "appendonlydir");
      const incremental = (await readdir(aofDir)).find((name) => name.endsWith(".incr.aof"));
      expect(incremental).toBeDefined();
      const path = join(aofDir, incremental ?? "");
      const handle = await open(path, "r+");
      await handle.truncate((await stat(path)).size - 7);
      await handle.close();
      await expect(server.restart()).rejects.toThrow(/Unexpected end of file reading the append only file/);
    } finally {
      await server.stop();
    }
  });
});
