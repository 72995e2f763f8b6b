// `npm start` with nats-server and redis-server installed, as a new user runs it: the launcher
// starts one nats-server, one durable redis-server per acceptor and every role service as its own
// process, prints the gateway URL once it is ready, chooses a value proposed over HTTP, and stops
// every process it started on SIGTERM. When a launcher is killed -9 instead, its services stop by
// themselves, the next start stops the servers it left on the data folder, and the log survives.
import { readFileSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { childPids, eventually, freePort, getJson, isRunning, killAll, startNode } from "./support/processes.ts";

const LAUNCHER = "services/cluster/src/main.ts";
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

async function proposeValue(url: string, value: unknown): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${url}/v1/proposals`, {
    method: "POST",
    headers: { "content-type": "application/json" },
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
    port = await freePort();
    url = `http://127.0.0.1:${port}`;
    env = { PAXOS_LOCAL_DATA: dataDir, PAXOS_HTTP_PORT: String(port), LOG_LEVEL: "warn" };
  });

  afterAll(async () => {
    await killAll();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("starts servers and services, chooses a value, and stops everything on SIGTERM", async () => {
    const launcher = startNode("npm start (1st)", LAUNCHER, env, true);
    await launcher.waitForLine(/Paxos cluster ready \(nats-server and redis-server/, 25_000);
    await launcher.waitForLine(CURL_LINE, 1_000);
    expect(launcher.lines.join("\n")).toContain(`curl -sS -X POST ${url}/v1/proposals`);
    expect(await proposeValue(url, { greeting: "hello" })).toMatchObject({
      status: 201,
      body: { index: 0, value: { greeting: "hello" } },
    });

    const children = childPids(launcher.pid);
    expect(children).toHaveLength(11); // nats, 3 redis, 3 acceptors, learner, 2 proposers, gateway
    expect(await launcher.stop("SIGTERM", 15_000)).toBe(0);
    expect(launcher.lines.at(-1)).toContain("[cluster] stopped");
    expect(launcher.lines.join("\n")).not.toContain("exited unexpectedly");
    expect(children.filter(isRunning)).toEqual([]);
    expect(await listening(port)).toBe(false);
    expect((await readdir(dataDir)).sort()).toEqual(["learner-l1", "redis-a1", "redis-a2", "redis-a3"]);
  }, 30_000);

  it("recovers from a launcher killed -9: services stop, leftover servers are stopped, the log survives", async () => {
    const first = startNode("npm start (killed)", LAUNCHER, env, true);
    await first.waitForLine(CURL_LINE, 25_000);
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
    await second.waitForLine(CURL_LINE, 25_000);
    expect(second.lines.join("\n")).toContain("left running by a launcher that was killed");
    expect(servers.filter(isRunning)).toEqual([]);
    expect(await getJson(`${url}/v1/log/0`)).toMatchObject({
      status: 200,
      body: { index: 0, value: { greeting: "hello" } },
    });
    expect(await proposeValue(url, "again")).toMatchObject({ status: 201, body: { index: 1, value: "again" } });
    expect(second.lines.join("\n")).not.toContain("amnesia");
    expect(await second.stop("SIGTERM", 15_000)).toBe(0);
  }, 30_000);
});
