import {
  type AcceptedEntry,
  type AcceptorState,
  type AcceptorStore,
  AcceptorStoreError,
  type AcceptorWrite,
  type Ballot,
  ballotKey,
  compareBallots,
  ZERO_BALLOT,
} from "@paxos/core";
import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { Redis } from "ioredis";
import { acceptorKeys, type AcceptorKeys, keyList } from "./acceptor-keys.ts";
import { describeWrongSettings, REQUIRED_SETTINGS, wrongSettings } from "./durability-check.ts";
import { INIT_SCRIPT, RAISE_EPOCH_SCRIPT, type Script, SCRIPT_ERRORS, WRITE_SCRIPT } from "./scripts.ts";
import {
  checkAcceptorWrite,
  decodeAcceptedEntry,
  decodeIdentity,
  encodeAcceptedEntry,
  encodeIdentity,
  parseBallot,
  parseSafeInteger,
  RecordError,
} from "@paxos/store-records";
import { isValidId } from "@paxos/wire";

/** Severity of a store log line; the host maps it onto its own logger (pino). */
export type StoreLogLevel = "debug" | "info" | "warn" | "error";

/** Where a store reports what an operator should see: start-up decisions, connection changes. */
export type StoreLogger = (level: StoreLogLevel, msg: string, fields: Readonly<Record<string, unknown>>) => void;

/** How a RedisAcceptorStore finds and treats its Redis. */
export interface RedisAcceptorStoreOptions {
  /** `redis://[user:password@]host:port[/db]`. One Redis (or one database) per acceptor. */
  readonly redisUrl: string;
  readonly cluster: string;
  readonly acceptorId: string;
  /**
   * May `open` write the identity of this acceptor into a Redis that holds none of its keys?
   * Set only when the acceptor joins for the first time (PAXOS_ACCEPTOR_INIT=1): otherwise an
   * empty Redis is a wiped Redis, and voting from it could break a promise.
   */
  readonly allowInit: boolean;
  /** Skip the durability settings check, with a loud warning (dev only: PAXOS_DEV_UNSAFE_STORAGE). */
  readonly unsafeSkipDurabilityChecks: boolean;
  /** Bound on each Redis command and on connecting; a write slower than this is "unavailable". */
  readonly commandTimeoutMs: number;
  readonly logger?: StoreLogger;
}

/** Rows fetched per HSCAN call while loading the accepted entries. */
const LOAD_BATCH_ROWS = 1_000;
/** Longest pause between reconnect attempts after the connection drops. */
const RECONNECT_DELAY_MAX_MS = 1_000;

const tracer = trace.getTracer("@paxos/store-redis");

/**
 * The AcceptorStore of the services: one acceptor's state in its own Redis, with AOF and
 * `appendfsync always`, written by one Lua script per write (compare and write in one atomic
 * step; Redis fsyncs before it replies). A store is opened once; after a failed write the host
 * must reopen a new store before it steps the acceptor again (the core's AcceptorStep contract).
 * Commands never wait for a reconnect: while Redis is away, writes fail at once with
 * "unavailable", and the connection comes back in the background.
 *
 * A write that timed out may still be in flight (in a socket buffer, or in Redis's input queue)
 * and land later. So each store is fenced: `open` raises a fencing epoch stored next to the
 * state, and every write carries the epoch its store raised and applies only while that is still
 * the stored one. Once a newer store over the same acceptor has opened, nothing sent through an
 * older one can apply, and the state the newer store loaded stays the whole state on disk.
 */
export class RedisAcceptorStore implements AcceptorStore {
  readonly #options: RedisAcceptorStoreOptions;
  readonly #keys: AcceptorKeys;
  readonly #log: StoreLogger;
  readonly #where: string;
  #redis: Redis | null = null;
  #state: "new" | "opening" | "open" | "closed" = "new";
  /** The fencing epoch this store raised at open (a decimal string, as Redis stores it). */
  #epoch: string | null = null;
  /** Whether a write of this store has sent the write script itself (see `write`). */
  #writeScriptSent = false;

  /** Checks the options (a bad one throws at once: it is a configuration error, not an outage). */
  constructor(options: RedisAcceptorStoreOptions) {
    if (!isValidId(options.cluster)) throw new TypeError(`invalid cluster name ${JSON.stringify(options.cluster)}`);
    if (!isValidId(options.acceptorId))
      throw new TypeError(`invalid acceptor id ${JSON.stringify(options.acceptorId)}`);
    if (!Number.isSafeInteger(options.commandTimeoutMs) || options.commandTimeoutMs < 1) {
      throw new RangeError(`invalid commandTimeoutMs ${options.commandTimeoutMs}`);
    }
    this.#options = options;
    this.#keys = acceptorKeys(options.cluster, options.acceptorId);
    this.#log = options.logger ?? (() => undefined);
    this.#where = redactUrl(options.redisUrl);
  }

  /**
   * Connects, checks durability settings and identity, raises the fencing epoch (which supersedes
   * every store opened before over this acceptor: their writes are refused from then on), and
   * loads the state. Rejects with "unavailable" (Redis unreachable), "notDurable", "amnesia" or
   * "corrupt"; the host must not vote then. Call once per store.
   */
  async open(): Promise<AcceptorState> {
    if (this.#state !== "new") throw new Error("RedisAcceptorStore.open() may be called once");
    this.#state = "opening";
    const redis = this.#createClient();
    this.#redis = redis;
    try {
      await this.#command("connect", () => redis.connect());
      await this.#checkDurability(redis);
      await this.#checkIdentity(redis);
      // Before the load: a write of an older store either landed before this step, so the load
      // sees it, or arrives after it and is refused.
      const epoch = await this.#raiseEpoch(redis);
      this.#epoch = epoch;
      const state = await this.#load(redis);
      if (this.#state !== "opening") throw new AcceptorStoreError("unavailable", "store closed while opening");
      this.#state = "open";
      this.#log("info", "acceptor store open", {
        redis: this.#where,
        acceptorId: this.#options.acceptorId,
        epoch,
        promised: ballotKey(state.promised),
        acceptedSlots: state.accepted.size,
      });
      return state;
    } catch (error) {
      redis.disconnect();
      this.#redis = null;
      this.#state = "closed";
      throw error;
    }
  }

  /**
   * Applies one write in one script call: refuses it if the identity key is gone ("amnesia"), if
   * a newer store has opened over this acceptor since this one did ("unavailable": this store is
   * fenced off and must be replaced; nothing was stored), or if it would lower the stored promise
   * ("corrupt": someone else wrote here, or the caller's state is behind); otherwise raises the
   * promise and stores the accept, if any, in the same step. Resolves once Redis has replied,
   * which with `appendfsync always` is after the fsync. Any other failure (error reply,
   * connection loss, timeout) rejects with "unavailable": the write may or may not be stored
   * (until a newer store opens, which fences it), and the caller must send nothing.
   */
  async write(write: AcceptorWrite): Promise<void> {
    const redis = this.#redis;
    const epoch = this.#epoch;
    if (this.#state !== "open" || redis === null || epoch === null) {
      throw new AcceptorStoreError("unavailable", `acceptor store is ${this.#state}, not open`);
    }
    checkAcceptorWrite(write);
    const args = [epoch, String(write.promised.round), write.promised.proposerId, String(write.chosenBelow)];
    if (write.accept !== null) args.push(String(write.accept.slot), encodeAcceptedEntry(write.accept));
    // Writes may be pipelined, and Redis runs them in the order sent. EVALSHA's fallback to EVAL
    // on NOSCRIPT would send a write again behind later ones, so writes never fall back: the first
    // one of this store sends the script itself (caching it for every later one, which Redis runs
    // after it), and a NOSCRIPT later (the cache was flushed) fails the write like any outage.
    const how = this.#writeScriptSent ? "evalsha" : "eval";
    this.#writeScriptSent = true;
    try {
      await this.#evalScript(redis, WRITE_SCRIPT, args, how);
    } catch (error) {
      const message = errorMessage(error);
      if (message.startsWith(SCRIPT_ERRORS.amnesia)) {
        this.#log("error", "acceptor identity vanished from Redis: it was wiped while we ran", { redis: this.#where });
        throw new AcceptorStoreError(
          "amnesia",
          `${this.#where} lost this acceptor's identity key ${this.#keys.identity} while it ran: Redis was wiped ` +
            `or replaced. Stop voting; restore its AOF or replace the acceptor.`,
          { cause: error },
        );
      }
      if (message.startsWith(SCRIPT_ERRORS.fenced)) {
        this.#log("warn", "write refused: this store was superseded by a newer open (fenced)", {
          redis: this.#where,
          epoch,
        });
        throw new AcceptorStoreError(
          "unavailable",
          `refused write of ${ballotKey(write.promised)}: this store was superseded by a newer open of acceptor ` +
            `${this.#options.acceptorId} (fenced: ${message}). Nothing was stored; open a new store.`,
          { cause: error },
        );
      }
      if (message.startsWith(SCRIPT_ERRORS.stale) || message.startsWith(SCRIPT_ERRORS.corrupt)) {
        throw new AcceptorStoreError("corrupt", `refused write of ${ballotKey(write.promised)}: ${message}`, {
          cause: error,
        });
      }
      throw error instanceof AcceptorStoreError ? error : unavailable("write", error);
    }
  }

  /** Closes the connection. Writes after this reject with "unavailable". */
  async close(): Promise<void> {
    const redis = this.#redis;
    this.#state = "closed";
    this.#redis = null;
    if (redis === null) return;
    try {
      await withTimeout(redis.quit(), this.#options.commandTimeoutMs, "quit");
    } catch {
      // The connection is going away either way.
    } finally {
      redis.disconnect();
    }
  }

  #createClient(): Redis {
    const redis = new Redis(this.#options.redisUrl, {
      lazyConnect: true,
      // A write must fail, never wait for a reconnect or be resent behind the caller's back.
      enableOfflineQueue: false,
      // The writes the driver pipelines within one turn go out in one socket write, so Redis
      // reads them together and covers them with one AOF fsync (replies still one per write,
      // each after its fsync).
      enableAutoPipelining: true,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      commandTimeout: this.#options.commandTimeoutMs,
      connectTimeout: this.#options.commandTimeoutMs,
      retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 10), RECONNECT_DELAY_MAX_MS),
      connectionName: `paxos-acceptor-${this.#options.acceptorId}`,
    });
    let connected = false;
    redis.on("ready", () => {
      if (!connected && this.#state === "open") this.#log("info", "Redis connection restored", { redis: this.#where });
      connected = true;
    });
    redis.on("close", () => {
      if (connected && this.#state === "open") this.#log("warn", "Redis connection lost", { redis: this.#where });
      connected = false;
    });
    // Without a listener, ioredis reports every failed reconnect as an unhandled error.
    redis.on("error", (error: unknown) => {
      this.#log("debug", "Redis connection error", { redis: this.#where, error: errorMessage(error) });
    });
    return redis;
  }

  async #checkDurability(redis: Redis): Promise<void> {
    let actual: Map<string, string>;
    try {
      const replies = await Promise.all(Object.keys(REQUIRED_SETTINGS).map((name) => redis.config("GET", name)));
      actual = new Map(replies.flatMap((reply) => pairs(reply)));
    } catch (error) {
      if (!isReplyError(error)) throw unavailable("CONFIG GET", error);
      if (this.#options.unsafeSkipDurabilityChecks) {
        this.#warnUnsafe(`CONFIG GET failed (${errorMessage(error)})`);
        return;
      }
      throw new AcceptorStoreError(
        "notDurable",
        `cannot verify that ${this.#where} is durable: CONFIG GET failed (${errorMessage(error)}). ` +
          `The acceptor needs to read ${describeRequired()}.`,
        { cause: error },
      );
    }
    const wrong = wrongSettings(actual);
    if (wrong.length === 0) return;
    if (this.#options.unsafeSkipDurabilityChecks) {
      this.#warnUnsafe(describeWrongSettings(wrong));
      return;
    }
    throw new AcceptorStoreError(
      "notDurable",
      `${this.#where} is not durable: ${describeWrongSettings(wrong)}. An acknowledged vote could be lost ` +
        `in a crash; configure Redis with ${describeRequired()}.`,
    );
  }

  #warnUnsafe(problem: string): void {
    this.#log(
      "warn",
      "UNSAFE STORAGE: durability checks skipped (dev mode). A crash of Redis or its machine can make this " +
        "acceptor forget votes and break consensus. Never run this way in production.",
      { redis: this.#where, acceptorId: this.#options.acceptorId, problem },
    );
  }

  async #checkIdentity(redis: Redis): Promise<void> {
    const { cluster, acceptorId, allowInit } = this.#options;
    const stored = await this.#command("GET identity", () => redis.get(this.#keys.identity));
    if (stored !== null) {
      const identity = parseRecord(() => decodeIdentity(stored));
      if (identity.cluster !== cluster || identity.acceptorId !== acceptorId) {
        throw new AcceptorStoreError(
          "corrupt",
          `${this.#keys.identity} on ${this.#where} names acceptor ${identity.acceptorId} of cluster ` +
            `${identity.cluster}, not ${acceptorId} of ${cluster}: two acceptors share one Redis.`,
        );
      }
      return;
    }
    const missing = `${this.#where} has no identity key ${this.#keys.identity} for acceptor ${acceptorId} of cluster ${cluster}`;
    if (!allowInit) {
      throw new AcceptorStoreError(
        "amnesia",
        `${missing}: its data was wiped, or this acceptor never joined. If this is a brand-new acceptor ` +
          `with an empty Redis, start it once with allowInit (PAXOS_ACCEPTOR_INIT=1). If it voted before, ` +
          `do NOT initialise: restore Redis from its AOF backup, or retire this acceptor id and add a new one.`,
      );
    }
    const identity = encodeIdentity({ cluster, acceptorId, createdAtMs: Date.now() });
    try {
      await this.#evalScript(redis, INIT_SCRIPT, [identity]);
    } catch (error) {
      if (!errorMessage(error).startsWith(SCRIPT_ERRORS.notEmpty)) throw unavailable("init", error);
      throw new AcceptorStoreError(
        "amnesia",
        `${missing}, but other keys of this acceptor exist (its votes or its fencing epoch): it was opened ` +
          `before and lost its identity. ` +
          `Refusing to initialise over that state: restore Redis from its AOF backup, or retire this acceptor id.`,
        { cause: error },
      );
    }
    this.#log("info", "initialised an empty Redis with this acceptor's identity", {
      redis: this.#where,
      key: this.#keys.identity,
    });
  }

  /** Raises the fencing epoch in one script call and returns the new one. */
  async #raiseEpoch(redis: Redis): Promise<string> {
    let reply: unknown;
    try {
      reply = await this.#evalScript(redis, RAISE_EPOCH_SCRIPT, []);
    } catch (error) {
      const message = errorMessage(error);
      if (message.startsWith(SCRIPT_ERRORS.amnesia)) {
        throw new AcceptorStoreError(
          "amnesia",
          `${this.#where} lost this acceptor's identity key ${this.#keys.identity} while it opened: Redis was ` +
            `wiped or replaced. Restore its AOF or replace the acceptor.`,
          { cause: error },
        );
      }
      if (message.startsWith(SCRIPT_ERRORS.corrupt)) {
        throw new AcceptorStoreError("corrupt", `${this.#keys.epoch} on ${this.#where}: ${message}`, { cause: error });
      }
      throw unavailable("raise epoch", error);
    }
    if (typeof reply !== "string") {
      throw new AcceptorStoreError("corrupt", `raising ${this.#keys.epoch} returned ${JSON.stringify(reply)}`);
    }
    return reply;
  }

  async #load(redis: Redis): Promise<AcceptorState> {
    const [round, proposerId, chosenBelowText] = await this.#command("HMGET promised", () =>
      redis.hmget(this.#keys.promised, "round", "proposerId", "chosenBelow"),
    );
    const chosenBelow =
      chosenBelowText === null ? 0 : parseRecord(() => parseSafeInteger(chosenBelowText, "chosenBelow"));
    const promised: Ballot =
      round === null && proposerId === null
        ? ZERO_BALLOT
        : parseRecord(() => parseBallot(round, proposerId, "promised ballot"));
    const accepted = new Map<number, AcceptedEntry>();
    let cursor = "0";
    do {
      const [next, rows] = await this.#command("HSCAN accepted", () =>
        redis.hscan(this.#keys.accepted, cursor, "COUNT", LOAD_BATCH_ROWS),
      );
      for (let i = 0; i + 1 < rows.length; i += 2) {
        const entry = parseRecord(() => decodeAcceptedEntry(rows[i] ?? "", rows[i + 1] ?? ""));
        if (compareBallots(entry.ballot, promised) > 0) {
          throw new AcceptorStoreError(
            "corrupt",
            `slot ${entry.slot} accepted ballot ${ballotKey(entry.ballot)} above the promise ${ballotKey(promised)}`,
          );
        }
        accepted.set(entry.slot, entry);
      }
      cursor = next;
    } while (cursor !== "0");
    return { promised, accepted, chosenBelow };
  }

  /**
   * Runs `script` with EVALSHA, falling back to EVAL when Redis does not have it cached (after a
   * restart); or with EVALSHA alone, or EVAL alone, as `how` says. Returns the script's reply. Recorded as a CLIENT span (database semantic conventions), a
   * child of whatever span is active: the acceptor's handling of the message that needed it.
   */
  async #evalScript(
    redis: Redis,
    script: Script,
    args: readonly string[],
    how: "evalshaOrEval" | "evalsha" | "eval" = "evalshaOrEval",
  ): Promise<unknown> {
    const keys = keyList(this.#keys);
    // Only within a recorded span: a write no traced message asked for starts no trace of its own.
    const span =
      trace.getActiveSpan()?.isRecording() !== true
        ? null
        : tracer.startSpan(how === "eval" ? "EVAL" : "EVALSHA", {
            kind: SpanKind.CLIENT,
            attributes: {
              "db.system.name": "redis",
              "db.operation.name": how === "eval" ? "EVAL" : "EVALSHA",
              "db.query.summary": `${how === "eval" ? "EVAL" : "EVALSHA"} ${script.name}`,
              "server.address": redis.options.host ?? "",
              "server.port": redis.options.port ?? 6379,
            },
          });
    try {
      if (how === "eval") return await redis.eval(script.lua, keys.length, ...keys, ...args);
      return await redis.evalsha(script.sha1, keys.length, ...keys, ...args);
    } catch (error) {
      if (how !== "evalshaOrEval" || !errorMessage(error).startsWith("NOSCRIPT")) {
        span?.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(error) });
        throw error;
      }
      span?.addEvent("NOSCRIPT: loading with EVAL");
      return await redis.eval(script.lua, keys.length, ...keys, ...args);
    } finally {
      span?.end();
    }
  }

  /** Runs one Redis call; a failure becomes "unavailable". */
  async #command<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await withTimeout(run(), this.#options.commandTimeoutMs + 100, what);
    } catch (error) {
      throw unavailable(what, error);
    }
  }
}

function parseRecord<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof RecordError) throw new AcceptorStoreError("corrupt", error.message, { cause: error });
    throw error;
  }
}

function unavailable(what: string, error: unknown): AcceptorStoreError {
  if (error instanceof AcceptorStoreError) return error;
  return new AcceptorStoreError("unavailable", `Redis ${what} failed: ${errorMessage(error)}`, { cause: error });
}

/** CONFIG GET replies [name, value, ...]; anything else yields nothing (so the check fails). */
function pairs(reply: unknown): [string, string][] {
  if (!Array.isArray(reply)) return [];
  const result: [string, string][] = [];
  for (let i = 0; i + 1 < reply.length; i += 2) {
    const name: unknown = reply[i];
    const value: unknown = reply[i + 1];
    if (typeof name === "string" && typeof value === "string") result.push([name, value]);
  }
  return result;
}

function describeRequired(): string {
  return Object.entries(REQUIRED_SETTINGS)
    .map(([name, value]) => `${name} ${value}`)
    .join(", ");
}

/** A Redis error reply (the server answered "-ERR …"), as opposed to a connection failure. */
function isReplyError(error: unknown): boolean {
  return error instanceof Error && error.name === "ReplyError";
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The URL without its password, for logs and error messages. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== "") parsed.password = "***";
    return parsed.toString();
  } catch {
    return "<unparsable Redis URL>";
  }
}

async function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} timed out after ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
