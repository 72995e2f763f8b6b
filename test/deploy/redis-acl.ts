// An acceptor's Redis lets in only that acceptor: the default user is off, and one ACL user may
// touch only the acceptor's keys with only the commands its store runs. What compose.test.ts and
// k8s.test.ts check about it: statically, that the redis-server words say so; for real, that a
// redis-server started with exactly those words lets the acceptor's own store (RedisAcceptorStore,
// through the acceptor's REDIS_URL) initialise, open, write and reopen, and refuses everyone else
// and everything else.
import { mkdtemp, rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { acceptorKeys, RedisAcceptorStore } from "@paxos/store-redis";
import { Redis } from "ioredis";
import { listenPort } from "../support/free-port.ts";
import { LocalServerProcess } from "../support/local-server.ts";

/** One `--user NAME RULE…` directive of a redis-server command line. */
export interface RedisAclUser {
  readonly name: string;
  readonly rules: readonly string[];
}

/** The `--user` directives of redis-server's words (each runs to the next `--option`). */
export function redisAclUsers(words: readonly string[]): RedisAclUser[] {
  const users: RedisAclUser[] = [];
  words.forEach((word, at) => {
    if (word !== "--user") return;
    const end = words.findIndex((next, i) => i > at && next.startsWith("--"));
    const [name = "", ...rules] = words.slice(at + 1, end < 0 ? words.length : end);
    users.push({ name, rules });
  });
  return users;
}

/** The one password (`>password`) of an ACL user, or null. */
export function aclPassword(user: RedisAclUser): string | null {
  const passwords = user.rules.filter((rule) => rule.startsWith(">"));
  return passwords.length === 1 ? (passwords[0] ?? "").slice(1) : null;
}

/**
 * The words keep everyone but one password-holding ACL user out: no requirepass (a default user
 * with a password), the default user `off`, and every other user `on` with one password.
 */
export function redisAuthProblems(where: string, words: readonly string[]): string[] {
  const problems: string[] = [];
  if (words.includes("--requirepass"))
    problems.push(`${where}: --requirepass gives the default user a password; turn it off`);
  const users = redisAclUsers(words);
  const byName = new Map(users.map((user) => [user.name, user]));
  if (byName.get("default")?.rules.includes("off") !== true) problems.push(`${where}: the default user is not off`);
  const others = users.filter((user) => user.name !== "default");
  if (others.length !== 1) problems.push(`${where}: want one ACL user, the acceptor's, found ${others.length}`);
  for (const user of others) {
    if (!user.rules.includes("on") || aclPassword(user) === null)
      problems.push(`${where}: ACL user ${user.name} is not on with one password`);
  }
  return problems;
}

/** What an acceptor's Redis is started with and how the acceptor reaches it. */
export interface AcceptorRedis {
  readonly where: string;
  /** redis-server's words, variables expanded (`redis-server` first or not). */
  readonly words: readonly string[];
  /** The acceptor's REDIS_URL (its host and port are replaced by the test server's). */
  readonly redisUrl: string;
  readonly cluster: string;
  readonly acceptorId: string;
}

/** Words that place the server; the test puts its own. */
const PLACEMENT = new Set(["--bind", "--port", "--dir"]);

function serverWords(words: readonly string[], port: number, dir: string): string[] {
  const out: string[] = [];
  for (let i = words[0] === "redis-server" ? 1 : 0; i < words.length; i++) {
    const word = words[i] ?? "";
    if (PLACEMENT.has(word)) i++;
    else out.push(word);
  }
  return [...out, "--bind", "127.0.0.1", "--port", String(port), "--dir", dir];
}

/** The first reply line to an inline command on a fresh, unauthenticated connection. */
async function anonymousReply(port: number, command: string): Promise<string> {
  return await new Promise((resolve) => {
    const socket = connect({ port, host: "127.0.0.1" });
    let reply = "";
    const done = (line: string): void => {
      socket.destroy();
      resolve(line);
    };
    socket.setTimeout(2_000, () => done("(no answer)"));
    socket.once("error", (error) => done(`(${error.message})`));
    socket.once("connect", () => socket.write(`${command}\r\n`));
    socket.on("data", (chunk) => {
      reply += chunk.toString("utf8");
      const end = reply.indexOf("\r\n");
      if (end >= 0) done(reply.slice(0, end));
    });
  });
}

/** The reply text of one command, or the error message it was refused with. */
async function reply(redis: Redis, ...args: [string, ...string[]]): Promise<string> {
  try {
    return String(await redis.call(...args));
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/**
 * Starts redis-server with `redis.words` (on a free loopback port and a fresh folder) and runs the
 * acceptor against it as deployed: the init step's store (allowInit) initialises and writes,
 * Redis restarts, and the acceptor's own store reopens and finds the write. Then nobody may use Redis unauthenticated,
 * and the acceptor's user may neither change the durability settings, nor flush, nor touch
 * another acceptor's keys. Returns the problems ([] when all of that holds).
 */
export async function acceptorRedisProblems(redis: AcceptorRedis): Promise<string[]> {
  const port = await listenPort();
  const dir = await mkdtemp(join(tmpdir(), "paxos-redis-acl-"));
  const server = new LocalServerProcess({
    binary: "redis-server",
    args: serverWords(redis.words, port, dir),
    port,
    installHint: "install it (apt-get install redis-server)",
    // Any answer means it is up: PONG, or NOAUTH once the default user is off.
    ready: { request: "PING\r\n", replyPrefix: "", silence: "redis-server did not answer PING" },
  });
  const url = new URL(redis.redisUrl);
  url.hostname = "127.0.0.1";
  url.port = String(port);
  const problems: string[] = [];
  const clients: Redis[] = [];
  try {
    await server.restart();
    const store = (allowInit: boolean): RedisAcceptorStore =>
      new RedisAcceptorStore({
        redisUrl: url.toString(),
        cluster: redis.cluster,
        acceptorId: redis.acceptorId,
        allowInit,
        unsafeSkipDurabilityChecks: false,
        commandTimeoutMs: 2_000,
      });
    const ballot = { round: 1, proposerId: "p1-00000000" };
    try {
      const init = store(true);
      await init.open();
      await init.write({ promised: ballot, accept: { slot: 0, ballot, value: { kind: "noop" } }, chosenBelow: 0 });
      await init.close();
      // Restarted, Redis replays its AOF as the default user: with that user off and without
      // rights, Redis 7.0 drops every scripted write (redis/redis#14541) and the vote is lost.
      await server.restart();
      const acceptor = store(false);
      const state = await acceptor.open();
      await acceptor.close();
      if (state.promised.round !== 1 || state.accepted.size !== 1)
        problems.push(`${redis.where}: the write was not kept`);
    } catch (error) {
      problems.push(
        `${redis.where}: the acceptor's store fails: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    const anonymous = await anonymousReply(port, "PING");
    if (!anonymous.startsWith("-NOAUTH")) problems.push(`${redis.where}: answers without a login (${anonymous})`);
    const acceptor = new Redis(url.toString(), { lazyConnect: true, enableReadyCheck: false, maxRetriesPerRequest: 0 });
    acceptor.on("error", () => undefined);
    clients.push(acceptor);
    const otherKey = acceptorKeys(redis.cluster, `${redis.acceptorId}-other`).identity;
    for (const command of [["CONFIG", "SET", "appendfsync", "no"], ["FLUSHALL"], ["SET", otherKey, "x"]] as [
      string,
      ...string[],
    ][]) {
      const answer = await reply(acceptor, ...command);
      if (!answer.startsWith("NOPERM"))
        problems.push(`${redis.where}: the acceptor's user may ${command.join(" ")} (${answer})`);
    }
  } finally {
    for (const client of clients) client.disconnect();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
  return problems;
}
