// `npm start` with nats-server and redis-server installed, as a new user runs it: the launcher
// starts one nats-server, one durable redis-server per acceptor and every role service as its own
// process, prints the gateway URL once it is ready, chooses a value proposed over HTTP, and stops
// every process it started on SIGTERM. When a launcher is killed -9 instead, its services stop by
// themselves, the next start stops the servers it left on the data folder, and the log survives.
// Its servers are locked by default: NATS refuses anonymous clients and binds each user (password
// files in the data folder) to its role's subjects, and each Redis admits only its acceptor's user.
import { readFileSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BusMessage } from "@paxos/wire";
import { NatsBus, type NatsBusStatus } from "@paxos/transport-nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { childPids, eventually, listenPort, getJson, isRunning, killAll, startNode } from "./support/processes.ts";

const LAUNCHER = "services/cluster/src/main.ts";
/**
 * How long a launcher may take to print its banner: each of its seven Node services loads its
 * TypeScript sources at start, which takes seconds on a small, busy machine. A test gets this
 * once per launcher it starts, and once more for the rest of its work.
 */
const READY_TIMEOUT_MS = 45_000;
const CURL_LINE = /curl -sS -X POST http:\/\/127\.0\.0\.1:\d+\/v1\/proposals/;

/** True while something accepts TCP connections on the loopback port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: "127.0.0.1" });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** The servers the running launcher recorded in its data folder, by command. */
function recordedServers(dataDir: string): { command: string; pid: number; port: number }[] {
  return JSON.parse(readFileSync(join(dataDir, "npm-start.servers.json"), "utf8")) as {
    command: string;
    pid: number;
    port: number;
  }[];
}

/** The first port of the kernel's ephemeral range, from which outgoing connections take theirs. */
function ephemeralRangeStart(): number {
  return Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
}

/** The password of NATS user `user`, from the folder the launcher writes them to. */
function natsPassword(dataDir: string, user: string): string {
  return readFileSync(join(dataDir, "nats", "credentials", user), "utf8").trim();
}

/** Connects to `url` as `user` with its password from the data folder, keeping its status events. */
async function connectAs(
  url: string,
  dataDir: string,
  user: string,
): Promise<{ bus: NatsBus; statuses: NatsBusStatus[] }> {
  const statuses: NatsBusStatus[] = [];
  const bus = await NatsBus.connect({
    servers: url,
    name: `test-${user}`,
    credentials: { user, password: natsPassword(dataDir, user) },
    onStatus: (status) => statuses.push(status),
  });
  return { bus, statuses };
}

/** Acceptor `acceptorId`'s Redis user and password, from the redis.conf the launcher wrote. */
function redisLogin(dataDir: string, acceptorId: string): { user: string; password: string } {
  const conf = readFileSync(join(dataDir, `redis-${acceptorId}`, "redis.conf"), "utf8");
  const match = /^user (\S+) on >(\S+)/m.exec(conf);
  if (match?.[1] === undefined || match[2] === undefined) throw new Error(`no acceptor user in redis-${acceptorId}`);
  return { user: match[1], password: match[2] };
}

/**
 * Sends `commands` to the Redis on `port` over one fresh connection, as the protocol's arrays,
 * and resolves with the first line of each reply (`+PONG`, `-NOAUTH ...`, `:3`).
 */
function redisReplies(port: number, commands: readonly (readonly string[])[]): Promise<string[]> {
  const encoded = commands
    .map((args) => `*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join("")}`)
    .join("");
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: "127.0.0.1" });
    let text = "";
    socket.setTimeout(5_000, () => socket.destroy(new Error(`Redis on ${port} did not answer`)));
    socket.once("error", reject);
    socket.once("connect", () => socket.write(encoded));
    socket.on("data", (chunk) => {
      text += chunk.toString("utf8");
      const lines = text.split("\r\n").filter((line) => line !== "");
      if (lines.length >= commands.length) {
        socket.destroy();
        resolve(lines.slice(0, commands.length));
      }
    });
  });
}

/** The bearer token `npm start` made for client dev in `dataDir`. */
async function apiToken(dataDir: string): Promise<string> {
  return (await readFile(join(dataDir, "api-token"), "utf8")).trim();
}

/** POSTs `value`, with `token` as the bearer token (none when null). */
async function proposeValue(
  url: string,
  value: unknown,
  token: string | null,
): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${url}/v1/proposals`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token === null ? {} : { authorization: `Bearer ${token}` }) },
    body: JSON.stringify({ value }),
  });
  return { status: response.status, body: await response.json() };
}

describe("npm start, on local servers", () => {
  let dataDir: string;
  let env: Record<string, string>;
  let url: string;
  let port: number;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "paxos-local-"));
    port = await listenPort();
    url = `http://127.0.0.1:${port}`;
    env = { PAXOS_LOCAL_DATA: dataDir, PAXOS_HTTP_PORT: String(port), LOG_LEVEL: "warn" };
  });

  afterAll(async () => {
    await killAll();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("starts servers and services, chooses a value, and stops everything on SIGTERM", async () => {
    const launcher = startNode("npm start (1st)", LAUNCHER, env, true);
    await launcher.waitForLine(/Paxos cluster ready \(nats-server and redis-server/, READY_TIMEOUT_MS);
    await launcher.waitForLine(CURL_LINE, 1_000);
    expect(launcher.lines.join("\n")).toContain(
      `curl -sS -X POST ${url}/v1/proposals -H "authorization: Bearer $(cat ${dataDir}/api-token)"`,
    );
    // Without the token the API refuses; with it, the value is chosen.
    expect((await proposeValue(url, "anonymous", null)).status).toBe(401);
    expect(await proposeValue(url, { greeting: "hello" }, await apiToken(dataDir))).toMatchObject({
      status: 201,
      body: { index: 0, value: { greeting: "hello" } },
    });

    // Every port the launcher picked lies below the kernel's ephemeral range. One inside it was
    // taken by a role's own outgoing connection (to NATS or Redis) before the acceptor that was
    // to listen on it started, and that acceptor exited with EADDRINUSE.
    const adminPorts = launcher.lines.flatMap(
      (line) => /^ {4}\S+ +\S* *http:\/\/127\.0\.0\.1:(\d+)$/.exec(line)?.[1] ?? [],
    );
    const picked = [...recordedServers(dataDir).map((server) => server.port), ...adminPorts.map(Number)];
    expect(picked).toHaveLength(4 + 7); // nats, 3 redis; the admin ports of 6 roles and the gateway's
    for (const picks of picked) expect(picks).toBeLessThan(ephemeralRangeStart());

    const children = childPids(launcher.pid);
    expect(children).toHaveLength(11); // nats, 3 redis, 3 acceptors, learner, 2 proposers, gateway
    expect(await launcher.stop("SIGTERM", 15_000)).toBe(0);
    expect(launcher.lines.at(-1)).toContain("[cluster] stopped");
    expect(launcher.lines.join("\n")).not.toContain("exited unexpectedly");
    expect(children.filter(isRunning)).toEqual([]);
    expect(await listening(port)).toBe(false);
    expect((await readdir(dataDir)).sort()).toEqual([
      "api-token",
      "gateway-tokens",
      "learner-l1",
      "nats",
      "redis-a1",
      "redis-a2",
      "redis-a3",
    ]);
  }, 90_000);

  it("recovers from a launcher killed -9: services stop, leftover servers are stopped, the log survives", async () => {
    const first = startNode("npm start (killed)", LAUNCHER, env, true);
    await first.waitForLine(CURL_LINE, READY_TIMEOUT_MS);
    const servers = (
      JSON.parse(readFileSync(join(dataDir, "npm-start.servers.json"), "utf8")) as { pid: number }[]
    ).map((server) => server.pid);
    expect(servers).toHaveLength(4);
    const services = childPids(first.pid).filter((pid) => !servers.includes(pid));
    expect(services).toHaveLength(7);

    expect(await first.stop("SIGKILL")).toBe("SIGKILL");
    // The services notice their launcher is gone and stop; the servers cannot, and stay.
    await eventually(() => services.every((pid) => !isRunning(pid)), 8_000, "the orphaned services to stop");
    expect(servers.every(isRunning)).toBe(true);

    const second = startNode("npm start (after kill -9)", LAUNCHER, env, true);
    await second.waitForLine(CURL_LINE, READY_TIMEOUT_MS);
    expect(second.lines.join("\n")).toContain("left running by a launcher that was killed");
    expect(servers.filter(isRunning)).toEqual([]);
    // Regression: each Redis replayed its AOF in full, refusing no transaction (a script's
    // writes) under its ACL; with the default user stripped of permissions it drops them silently.
    expect(second.lines.join("\n")).not.toContain("AOF-loading-client");
    expect(await getJson(`${url}/v1/log/0`, 2_000, await apiToken(dataDir))).toMatchObject({
      status: 200,
      body: { index: 0, value: { greeting: "hello" } },
    });
    expect(await proposeValue(url, "again", await apiToken(dataDir))).toMatchObject({
      status: 201,
      body: { index: 1, value: "again" },
    });
    expect(second.lines.join("\n")).not.toContain("amnesia");
    expect(await second.stop("SIGTERM", 15_000)).toBe(0);
  }, 135_000);

  it("locks its servers: NATS users bound to their subjects, Redis to its acceptor's user", async () => {
    const launcher = startNode("npm start (security)", LAUNCHER, env, true);
    await launcher.waitForLine(CURL_LINE, READY_TIMEOUT_MS);
    const credentialsDir = join(dataDir, "nats", "credentials");
    // The banner's line on NATS follows its curl line.
    await launcher.waitForLine(/NATS: anonymous clients are refused/, 5_000);
    expect(launcher.lines.join("\n")).toContain(
      `NATS: anonymous clients are refused; every process logs in as its own user, passwords in ${credentialsDir}/`,
    );
    expect((await stat(credentialsDir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(credentialsDir, "acceptor-a1"))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dataDir, "nats", "nats.conf"))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dataDir, "redis-a1", "redis.conf"))).mode & 0o777).toBe(0o600);
    const servers = recordedServers(dataDir);
    const natsPort = servers.find((server) => server.command === "nats-server")?.port;
    const redisPorts = servers.filter((server) => server.command === "redis-server").map((server) => server.port);
    expect(natsPort).toBeDefined();
    expect(redisPorts).toHaveLength(3);
    const natsUrl = `nats://127.0.0.1:${natsPort ?? 0}`;
    // No password reaches a command line, which every local user may read.
    const secrets = [natsPassword(dataDir, "acceptor-a1"), redisLogin(dataDir, "a1").password];
    for (const pid of childPids(launcher.pid)) {
      const commandLine = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      for (const secret of secrets) expect(commandLine).not.toContain(secret);
    }

    // Anonymous, and with a wrong password: refused at connect.
    await expect(NatsBus.connect({ servers: natsUrl, name: "test-anonymous" })).rejects.toMatchObject({
      name: "AuthorizationError",
    });
    const wrong = { user: "acceptor-a1", password: "wrong" };
    await expect(NatsBus.connect({ servers: natsUrl, name: "test-wrong", credentials: wrong })).rejects.toMatchObject({
      name: "AuthorizationError",
    });

    // Acceptor a1 publishes as a proposer, as acceptor a2, and as itself. Observers that may
    // read those subjects watch them: acceptor a2 reads prepares, proposer p1 every acceptor's
    // promises. Proposer `x` does not exist, so no real process uses these subjects; the payload
    // marks the test's own messages all the same.
    const prefix = "paxos.v1.local";
    const asProposer = `${prefix}.proposer.x.prepare`;
    const asOtherAcceptor = `${prefix}.acceptor.a2.promise.x`;
    const asItself = `${prefix}.acceptor.a1.promise.x`;
    const marker = `forged-${Date.now()}`;
    const seen: string[] = [];
    const watch = (m: BusMessage): void => {
      if (new TextDecoder().decode(m.data) === marker) seen.push(m.subject);
    };
    const acceptorObserver = await connectAs(natsUrl, dataDir, "acceptor-a2");
    const proposerObserver = await connectAs(natsUrl, dataDir, "proposer-p1");
    const publisher = await connectAs(natsUrl, dataDir, "acceptor-a1");
    try {
      acceptorObserver.bus.subscribe(asProposer, watch);
      proposerObserver.bus.subscribe(asOtherAcceptor, watch);
      proposerObserver.bus.subscribe(asItself, watch);
      await acceptorObserver.bus.flush();
      await proposerObserver.bus.flush();
      const data = new TextEncoder().encode(marker);
      publisher.bus.publish(asProposer, data);
      publisher.bus.publish(asOtherAcceptor, data);
      publisher.bus.publish(asItself, data);
      await publisher.bus.flush();
      // The server handles one connection's messages in order: once the last one has arrived,
      // the two before it were either delivered already or refused.
      await eventually(() => seen.length > 0, 2_000, "the permitted publish to arrive");
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(seen).toEqual([asItself]);
      const errors = publisher.statuses.flatMap((status) => (status.type === "error" ? [status.error] : []));
      expect(errors).toEqual([
        expect.objectContaining({ name: "PermissionViolationError", operation: "publish", subject: asProposer }),
        expect.objectContaining({ name: "PermissionViolationError", operation: "publish", subject: asOtherAcceptor }),
      ]);
      expect(publisher.bus.isConnected).toBe(true);
      expect([...acceptorObserver.statuses, ...proposerObserver.statuses]).toEqual([]);
    } finally {
      await acceptorObserver.bus.close();
      await proposerObserver.bus.close();
      await publisher.bus.close();
    }

    // Each acceptor's Redis: nothing without logging in, not with a wrong password nor as the
    // default user, and with the right one no command that could turn durability off.
    const { user, password } = redisLogin(dataDir, "a1");
    expect(user).toBe("acceptor-a1");
    expect(
      await redisReplies(redisPorts[0] ?? 0, [
        ["PING"],
        ["AUTH", user, "wrong"],
        ["AUTH", "default", password],
        ["GET", "paxos:{local}:a1:identity"],
      ]),
    ).toEqual([
      expect.stringMatching(/^-NOAUTH/),
      expect.stringMatching(/^-WRONGPASS/),
      expect.stringMatching(/^-WRONGPASS/),
      expect.stringMatching(/^-NOAUTH/),
    ]);
    expect(
      await redisReplies(redisPorts[0] ?? 0, [
        ["AUTH", user, password],
        ["PING"],
        ["CONFIG", "SET", "appendfsync", "no"],
        ["FLUSHALL"],
        ["SET", "someone-else:key", "x"],
      ]),
    ).toEqual([
      "+OK",
      "+PONG",
      expect.stringMatching(/^-NOPERM/),
      expect.stringMatching(/^-NOPERM/),
      expect.stringMatching(/^-NOPERM/),
    ]);

    // Regression: the votes of the earlier runs survived their restarts under the ACL (with a
    // default user that has no permissions, Redis drops a script's writes when it replays its
    // AOF). Each value chosen before was accepted by a majority, and accepted entries stay.
    const accepting: string[] = [];
    for (const [i, acceptorId] of ["a1", "a2", "a3"].entries()) {
      const login = redisLogin(dataDir, acceptorId);
      const [, slots] = await redisReplies(redisPorts[i] ?? 0, [
        ["AUTH", login.user, login.password],
        ["HLEN", `paxos:{local}:${acceptorId}:accepted`],
      ]);
      if (slots !== undefined && slots !== ":0") accepting.push(acceptorId);
    }
    expect(accepting.length).toBeGreaterThanOrEqual(2);

    expect(await launcher.stop("SIGTERM", 15_000)).toBe(0);
    expect(launcher.lines.join("\n")).not.toContain("exited unexpectedly");
  }, 90_000);
});
