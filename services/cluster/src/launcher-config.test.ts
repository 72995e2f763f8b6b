// The `npm start` launcher's settings: defaults, the optional NATS_URL (with how the services log
// in to it) and REDIS_URLS (one URL per acceptor), a fixed HTTP port, and the optional Prometheus,
// read from a plain object standing in for the environment.
import { resolve } from "node:path";
import { DEFAULT_LIMITS } from "@paxos/core";
import { ConfigError } from "@paxos/host";
import { describe, expect, it } from "vitest";
import { launcherConfig } from "./launcher-config.ts";

function problemsOf(env: NodeJS.ProcessEnv): readonly string[] {
  try {
    launcherConfig(env, "/repo");
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error("launcherConfig accepted the environment");
}

describe("launcherConfig", () => {
  it("starts its own servers by default", () => {
    expect(launcherConfig({}, "/repo")).toEqual({
      cluster: "local",
      httpPort: 8080,
      logLevel: "info",
      forceEmbedded: false,
      natsUrl: null,
      externalNatsAuth: null,
      redisUrls: null,
      initExternalRedis: false,
      dataRoot: "/repo/.data",
      repoRoot: "/repo",
      prometheus: false,
      prometheusPort: 9090,
      cpuProfileDir: null,
      limits: { env: {}, protocol: DEFAULT_LIMITS, host: {}, gateway: {} },
    });
  });

  it("reads the limits variables, and hands them on as given", () => {
    const env = {
      PAXOS_LIMITS: '{"inflightSlotsMax":4}',
      PAXOS_HOST_LIMITS: '{"acceptorWritesInFlightMax":8}',
      PAXOS_GATEWAY_LIMITS: '{"inflightProposalsMax":100}',
    };
    expect(launcherConfig(env, "/repo").limits).toEqual({
      env,
      protocol: { ...DEFAULT_LIMITS, inflightSlotsMax: 4 },
      host: { acceptorWritesInFlightMax: 8 },
      gateway: { inflightProposalsMax: 100 },
    });
    expect(problemsOf({ PAXOS_LIMITS: '{"inflightSlotsMax":2000}' })).toEqual([
      "PAXOS_LIMITS: inflightSlotsMax exceeds slotsAheadMax",
    ]);
    expect(problemsOf({ PAXOS_GATEWAY_LIMITS: '{"proposalTimeoutMs":1}' })).toEqual([
      expect.stringMatching(/^PAXOS_GATEWAY_LIMITS has an unknown key "proposalTimeoutMs"/),
    ]);
  });

  it("runs a Prometheus when asked, on the port given (0: any free one)", () => {
    const config = launcherConfig({ PAXOS_PROMETHEUS: "1", PAXOS_PROMETHEUS_PORT: "9191" }, "/repo");
    expect(config.prometheus).toBe(true);
    expect(config.prometheusPort).toBe(9191);
    expect(launcherConfig({ PAXOS_PROMETHEUS: "true", PAXOS_PROMETHEUS_PORT: "0" }, "/repo").prometheusPort).toBe(0);
  });

  it("uses given servers, one Redis per acceptor", () => {
    const config = launcherConfig(
      {
        NATS_URL: "nats://127.0.0.1:4333",
        PAXOS_NATS_CREDENTIALS_DIR: "secrets/nats",
        REDIS_URLS: "redis://h:1, redis://h:2 ,rediss://h:3",
        PAXOS_ACCEPTOR_INIT: "1",
        PAXOS_LOCAL_DATA: "data",
      },
      "/repo",
    );
    expect(config.natsUrl).toBe("nats://127.0.0.1:4333");
    // Resolved against the working directory, as PAXOS_LOCAL_DATA is.
    expect(config.externalNatsAuth).toEqual({ kind: "passwordFiles", dir: resolve("secrets/nats") });
    expect(config.redisUrls).toEqual(["redis://h:1", "redis://h:2", "rediss://h:3"]);
    expect(config.initExternalRedis).toBe(true);
    expect(config.dataRoot).toMatch(/\/data$/);
  });

  it("names every bad variable at once", () => {
    expect(
      problemsOf({
        PAXOS_HTTP_PORT: "0",
        NATS_URL: "ws://h:1",
        REDIS_URLS: "redis://h:1,redis://h:2",
        LOG_LEVEL: "x",
        PAXOS_PROMETHEUS: "yes",
        PAXOS_PROMETHEUS_PORT: "90900",
      }),
    ).toEqual([
      "PAXOS_HTTP_PORT must be a fixed port, not 0",
      "LOG_LEVEL must be one of trace, debug, info, warn, error, fatal, silent",
      "NATS_URL must use nats: or tls: (a URL such as nats://127.0.0.1:port)",
      "REDIS_URLS must list 3 URLs, one per acceptor (a1, a2, a3)",
      'PAXOS_PROMETHEUS must be 1 or 0 (got "yes")',
      'PAXOS_PROMETHEUS_PORT must be a port number 0..65535 (got "90900")',
    ]);
  });

  it("wants to be told how the services log in to a given NATS, and never assumes anonymous", () => {
    const nats = { NATS_URL: "nats://127.0.0.1:4333" };
    expect(problemsOf(nats)).toEqual([
      expect.stringMatching(/^NATS_URL needs PAXOS_NATS_CREDENTIALS_DIR: .*gateway-g1/),
    ]);
    expect(launcherConfig({ ...nats, PAXOS_DEV_NATS_ANONYMOUS: "1" }, "/repo").externalNatsAuth).toEqual({
      kind: "anonymous",
    });
    expect(problemsOf({ ...nats, PAXOS_DEV_NATS_ANONYMOUS: "1", PAXOS_NATS_CREDENTIALS_DIR: "/s" })).toEqual([
      "PAXOS_NATS_CREDENTIALS_DIR and PAXOS_DEV_NATS_ANONYMOUS=1 are both set; set one",
    ]);
    // The embedded cluster has no NATS at all.
    expect(launcherConfig({ ...nats, PAXOS_EMBEDDED: "1" }, "/repo").externalNatsAuth).toBeNull();
  });

  it("refuses NATS login settings without NATS_URL: its own nats-server has its own users", () => {
    expect(problemsOf({ PAXOS_DEV_NATS_ANONYMOUS: "1" })).toEqual([
      expect.stringMatching(/^PAXOS_DEV_NATS_ANONYMOUS applies only with NATS_URL/),
    ]);
  });
});
