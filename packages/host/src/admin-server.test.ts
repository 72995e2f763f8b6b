// The admin server answers unknown paths 404 and wrong methods 405 with Allow as problem+json (not
// express's HTML), carries nosniff, and cuts a client sending its headers too slowly. Real HTTP
// against a server on 127.0.0.1:0.
import { connect } from "node:net";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import {
  type AdminServer,
  type AdminServerLimits,
  DEFAULT_ADMIN_SERVER_LIMITS,
  startAdminServer,
} from "./admin-server.ts";
import { createRegistry } from "./metrics.ts";

let admin: AdminServer | null = null;

afterEach(async () => {
  await admin?.close();
  admin = null;
});

async function start(limits: Partial<AdminServerLimits> = {}): Promise<string> {
  admin = await startAdminServer({
    port: 0,
    host: "127.0.0.1",
    registry: createRegistry(false),
    readiness: () => ({ ready: true, detail: {} }),
    logger: pino({ level: "silent" }),
    limits,
  });
  return `http://127.0.0.1:${admin.port}`;
}

async function expectProblem(response: Response, status: number): Promise<Record<string, unknown>> {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  expect(response.headers.get("cache-control")).toBe("no-store");
  expect(response.headers.get("x-content-type-options")).toBe("nosniff");
  const body = (await response.json()) as Record<string, unknown>;
  expect(body).toMatchObject({ status, type: expect.stringMatching(/^urn:paxos:problem:/) as unknown });
  return body;
}

describe("admin server routing", () => {
  it("serves the probes and metrics with nosniff", async () => {
    const url = await start();
    for (const path of ["/healthz", "/readyz", "/metrics"]) {
      const response = await fetch(`${url}${path}`);
      expect(response.status).toBe(200);
      expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    }
  });

  it("404 problem for an unknown path", async () => {
    const url = await start();
    const body = await expectProblem(await fetch(`${url}/nope`), 404);
    expect(body).toMatchObject({ type: "urn:paxos:problem:routeNotFound", detail: "No resource at /nope" });
  });

  it.each(["POST", "PUT", "DELETE", "PATCH"])("405 problem with Allow for %s on a probe", async (method) => {
    const url = await start();
    for (const path of ["/healthz", "/readyz", "/metrics"]) {
      const response = await fetch(`${url}${path}`, { method });
      expect(response.headers.get("allow")).toBe("GET");
      expect(await expectProblem(response, 405)).toMatchObject({ type: "urn:paxos:problem:methodNotAllowed" });
    }
  });
});

describe("admin server limits", () => {
  it("production defaults are explicit, and headersTimeout fits in requestTimeout", () => {
    expect(DEFAULT_ADMIN_SERVER_LIMITS.headersTimeoutMs).toBeLessThanOrEqual(
      DEFAULT_ADMIN_SERVER_LIMITS.requestTimeoutMs,
    );
    expect(DEFAULT_ADMIN_SERVER_LIMITS.headersTimeoutMs).toBeLessThan(60_000);
  });

  it("a client sending its headers slower than headersTimeout is answered 408 and closed", async () => {
    const headersTimeoutMs = 300;
    const url = await start({ headersTimeoutMs, requestTimeoutMs: 500, timeoutsCheckIntervalMs: 25 });
    const { port } = new URL(url);
    const result = await new Promise<{ closed: boolean; afterMs: number; answer: string }>((resolve) => {
      const startedAt = Date.now();
      let answer = "";
      const socket = connect(Number(port), "127.0.0.1", () => socket.write("GET /metrics HTTP/1.1\r\nHost: a\r\n"));
      // Bytes keep flowing, so only the total headers deadline can stop it.
      const dripping = setInterval(() => socket.writable && socket.write("X-Slow: 1\r\n"), 50);
      const finish = (closed: boolean): void => {
        clearInterval(dripping);
        clearTimeout(giveUp);
        socket.destroy();
        resolve({ closed, afterMs: Date.now() - startedAt, answer });
      };
      const giveUp = setTimeout(() => finish(false), 3_000);
      socket.on("data", (chunk: Buffer) => (answer += chunk.toString("latin1")));
      socket.on("error", () => undefined);
      socket.on("close", () => finish(true));
    });
    expect(result.closed).toBe(true);
    expect(result.answer).toMatch(/^HTTP\/1\.1 408/);
    expect(result.afterMs).toBeLessThan(headersTimeoutMs + 1_000);
  });
});
