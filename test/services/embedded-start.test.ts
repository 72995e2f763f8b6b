// `npm start` in embedded mode (PAXOS_EMBEDDED=1) as a new user runs it: the launcher, as a real
// child process, says it runs embedded, prints the gateway URL and a curl once ready, accepts a
// proposal over HTTP, refuses a second launcher on the same data folder, stops cleanly on SIGTERM,
// and a second start reuses the data folder so the log survives.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { listenPort, getJson, killAll, startNode } from "./support/processes.ts";

describe("npm start, embedded", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    await killAll();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it("accepts a proposal, stops on SIGTERM, and keeps the log for the next start", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "paxos-embedded-"));
    dirs.push(dataDir);
    const port = await listenPort();
    const env = { PAXOS_EMBEDDED: "1", PAXOS_LOCAL_DATA: dataDir, PAXOS_HTTP_PORT: String(port), LOG_LEVEL: "warn" };
    const url = `http://127.0.0.1:${port}`;

    const first = startNode("npm start (1st)", "services/cluster/src/main.ts", env, true);
    await first.waitForLine(/EMBEDDED MODE \(PAXOS_EMBEDDED=1\)/, 10_000);
    await first.waitForLine(/Paxos cluster ready/, 15_000);
    await first.waitForLine(/curl -sS -X POST http:\/\/127\.0\.0\.1:\d+\/v1\/proposals/, 1_000);
    const token = (await readFile(join(dataDir, "api-token"), "utf8")).trim();
    const authorization = `Bearer ${token}`;
    expect(first.lines.join("\n")).toContain(
      `curl -sS -X POST ${url}/v1/proposals -H "authorization: Bearer $(cat ${dataDir}/api-token)"`,
    );
    const anonymous = await fetch(`${url}/v1/proposals`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ value: "anonymous" }),
    });
    expect(anonymous.status).toBe(401);
    const created = await fetch(`${url}/v1/proposals`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization },
      body: JSON.stringify({ value: "hello" }),
    });
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({ index: 0, value: "hello" });

    // A second launcher on the same data folder must not run next to the first.
    const concurrent = startNode("npm start (concurrent)", "services/cluster/src/main.ts", env, true);
    expect(await concurrent.waitExit(10_000)).toBe(1);
    expect(concurrent.lines.join("\n")).toContain(`another npm start (pid ${first.pid}) is using ${dataDir}`);

    expect(await first.stop("SIGTERM", 10_000)).toBe(0);

    const second = startNode("npm start (2nd)", "services/cluster/src/main.ts", env, true);
    await second.waitForLine(/Paxos cluster ready/, 15_000);
    expect(await getJson(`${url}/v1/log/0`, 2_000, token)).toMatchObject({
      status: 200,
      body: { index: 0, value: "hello" },
    });
    const next = await fetch(`${url}/v1/proposals`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization },
      body: JSON.stringify({ value: "again" }),
    });
    expect(await next.json()).toMatchObject({ index: 1, value: "again" });
    expect(await second.stop("SIGTERM", 10_000)).toBe(0);
  }, 30_000);
});
