// Runs the AcceptorStore contract (test/contract/acceptor-store-contract.ts) over the memory, file
// and Redis stores, the Redis one against a real redis-server; then the Redis store's own duties:
// refusing a non-durable Redis, failing fast while Redis is down or stuck, detecting a wipe under
// a running store, fencing a write that reaches Redis late (held back in a TCP link the test
// controls) once a newer store has opened, and the server refusing a truncated AOF (DESIGN.md,
// pitfalls).
import { mkdtemp, open, readdir, rm, stat } from "node:fs/promises";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryAcceptorStorage, MemoryAcceptorStore } from "@paxos/embedded";
import { FileAcceptorStore } from "@paxos/store-file";
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

/**
 * A TCP link to redis-server whose client-to-server direction the test can hold, as a congested
 * network or a stalled socket would: a write sent while it is held times out at the client, yet
 * reaches Redis later, when `release` delivers it. One link carries the connections of one store.
 */
class HeldLink {
  readonly url: string;
  readonly #server: Server;
  readonly #links: { readonly upstream: Socket; readonly backlog: Buffer[] }[] = [];
  #held = false;
  #answers: Buffer[] = [];

  private constructor(server: Server, port: number) {
    this.#server = server;
    this.url = `redis://127.0.0.1:${port}`;
  }

  /** Listens on a free loopback port and forwards every connection to `redisPort`. */
  static async open(redisPort: number): Promise<HeldLink> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("no TCP address");
    const link = new HeldLink(server, address.port);
    server.on("connection", (client) => link.#forward(client, redisPort));
    return link;
  }

  /** From now on, bytes from the clients are kept back until `release`. */
  hold(): void {
    this.#held = true;
  }

  /**
   * Delivers every held byte to Redis, then cuts the link, and resolves with what Redis answered
   * to them once it has processed them all (it closes the connection after the end of input).
   */
  async release(): Promise<string> {
    this.#answers = [];
    this.#held = false;
    await Promise.all(
      this.#links.map(async ({ upstream, backlog }) => {
        if (upstream.destroyed) return;
        const closed = new Promise((resolve) => upstream.once("close", resolve));
        for (const chunk of backlog.splice(0)) upstream.write(chunk);
        upstream.end();
        await closed;
      }),
    );
    return Buffer.concat(this.#answers).toString("utf8");
  }

  /** Stops listening and drops every connection. */
  async close(): Promise<void> {
    for (const { upstream } of this.#links) upstream.destroy();
    await new Promise((resolve) => this.#server.close(resolve));
  }

  #forward(client: Socket, redisPort: number): void {
    const upstream = connect(redisPort, "127.0.0.1");
    const backlog: Buffer[] = [];
    this.#links.push({ upstream, backlog });
    client.on("data", (chunk: Buffer) => {
      if (this.#held) backlog.push(chunk);
      else upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      this.#answers.push(chunk);
      if (!client.destroyed) client.write(chunk);
    });
    // A client that goes away while the link is held leaves its held bytes to `release`.
    client.on("close", () => {
      if (!this.#held && backlog.length === 0) upstream.end();
    });
    upstream.on("close", () => client.destroy());
    client.on("error", () => undefined);
    upstream.on("error", () => undefined);
  }
}

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

  /** A store on `server` (a redis-server, or a link to one) for a fresh acceptor id (or `acceptorId`). */
  function redisStore(
    server: { readonly url: string },
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
    for (const key of [keys.identity, keys.promised, keys.accepted, keys.epoch]) {
      expect(await redis.cli("TTL", key)).toBe("-1");
    }
  });

  it("refuses a write that timed out and reaches Redis only after a newer open (fenced)", async () => {
    // Issue 7, hole 4: the host gave up on a write and reopened; the write then landed after the
    // new store had loaded, and the acceptor's next promise omitted a vote that was on disk.
    const link = await HeldLink.open(redis.port);
    try {
      const older = redisStore(link, { allowInit: true, acceptorId: "late" });
      await older.open();
      // Also loads WRITE_SCRIPT into Redis, so the late EVALSHA runs the script (no NOSCRIPT).
      await older.write(acceptWrite(0, ballot(1, "p-a"), value("before")));
      link.hold();
      await expectStoreError(older.write(acceptWrite(1, ballot(2, "p-a"), value("late"))), "unavailable");
      await older.close();
      const newer = redisStore(redis, { allowInit: false, acceptorId: "late" });
      const loaded = await newer.open();
      expect(loaded.promised).toEqual(ballot(1, "p-a"));
      expect([...loaded.accepted.keys()]).toEqual([0]);
      // The late write reaches Redis now, after the newer store loaded its state.
      expect(await link.release()).toMatch(/PAXOS_FENCED/);
      // Between the two ballots: refused as corrupt had the late write of 2.p-a landed.
      await newer.write(promiseWrite(ballot(1, "p-b")));
      await newer.close();
      const third = redisStore(redis, { allowInit: false, acceptorId: "late" });
      const state = await third.open();
      await third.close();
      expect(state.promised).toEqual(ballot(1, "p-b"));
      expect(state.accepted).toEqual(new Map([[0, { slot: 0, ballot: ballot(1, "p-a"), value: value("before") }]]));
    } finally {
      await link.close();
    }
  });

  it("refuses a malformed epoch key as corrupt", async () => {
    const store = redisStore(redis, { allowInit: true, acceptorId: "bad-epoch" });
    await store.open();
    await store.close();
    const keys = acceptorKeys(CLUSTER, "bad-epoch");
    await redis.cli("SET", keys.epoch, "1.5");
    await expectStoreError(redisStore(redis, { allowInit: false, acceptorId: "bad-epoch" }).open(), "corrupt");
    await redis.cli("DEL", keys.epoch);
    await redis.cli("HSET", keys.epoch, "epoch", "3");
    await expectStoreError(redisStore(redis, { allowInit: false, acceptorId: "bad-epoch" }).open(), "corrupt");
  });

  it("refuses to initialise over an epoch key left without identity, even with allowInit", async () => {
    // An epoch exists only once a store opened over an identity: without the identity it was
    // lost, and this is not a new, empty Redis.
    const store = redisStore(redis, { allowInit: true, acceptorId: "epoch-only" });
    await store.open();
    await store.close();
    const keys = acceptorKeys(CLUSTER, "epoch-only");
    await redis.cli("DEL", keys.identity);
    expect(await redis.cli("EXISTS", keys.promised, keys.accepted, keys.epoch)).toBe("1");
    const error = await expectStoreError(
      redisStore(redis, { allowInit: true, acceptorId: "epoch-only" }).open(),
      "amnesia",
    );
    expect(error.message).toMatch(/other keys of this acceptor exist/);
    expect(await redis.cli("EXISTS", keys.identity)).toBe("0");
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
