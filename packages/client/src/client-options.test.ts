// The options of PaxosClient.connect are checked once, at the boundary: defaults filled in, every
// bad option named in one error, unknown options refused, and no password or URL ever echoed.
import { DEFAULT_LIMITS } from "@paxos/core";
import { pino } from "pino";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { PaxosClientError } from "./client-error.ts";
import { clientSettings } from "./client-options.ts";

const GOOD = {
  servers: "nats://127.0.0.1:4222",
  user: "gateway-g1",
  password: "s3cret-password",
  cluster: "local",
  acceptorIds: ["a1", "a2", "a3"],
};

/** The PaxosClientError that `clientSettings(options)` throws. */
function refusal(options: unknown): PaxosClientError {
  try {
    clientSettings(options);
  } catch (error) {
    expect(error).toBeInstanceOf(PaxosClientError);
    expect((error as PaxosClientError).code).toBe("invalidOptions");
    return error as PaxosClientError;
  }
  throw new Error("expected the options to be refused");
}

describe("clientSettings", () => {
  it("takes the cluster's protocol limits as overrides of the defaults, as PAXOS_LIMITS", () => {
    expect(clientSettings({ ...GOOD, limits: { requestBytesMax: 2_000 } }).protocolLimits).toEqual({
      ...DEFAULT_LIMITS,
      requestBytesMax: 2_000,
    });
    expect(refusal({ ...GOOD, limits: { requestBytesMaxx: 2_000 } }).message).toMatch(/limits.*requestBytesMaxx/);
    expect(refusal({ ...GOOD, limits: { requestBytesMax: 0 } }).message).toMatch(
      /limits\.requestBytesMax must be positive/,
    );
    expect(refusal({ ...GOOD, limits: { requestBytesMax: 1.5 } }).message).toMatch(
      /limits\.requestBytesMax must be a whole number/,
    );
    expect(refusal({ ...GOOD, limits: { payloadDepthMax: 100 } }).message).toMatch(
      /limits: payloadDepthMax \+ 8 exceeds jsonDepthMax/,
    );
  });

  it("fills in the defaults: the gateway's timeout, the user as client name", () => {
    expect(clientSettings(GOOD)).toEqual({
      ...GOOD,
      servers: ["nats://127.0.0.1:4222"],
      tls: null,
      proposalTimeoutMs: 10_000,
      protocolLimits: DEFAULT_LIMITS,
      clientName: "gateway-g1",
      connectTimeoutMs: 5_000,
      logger: null,
      registry: null,
    });
  });

  it("keeps what is given", () => {
    const logger = pino({ level: "silent" });
    const registry = new Registry();
    const settings = clientSettings({
      ...GOOD,
      servers: ["nats://a:4222", "nats://b:4222"],
      tls: { caFile: "/ca.pem" },
      proposalTimeoutMs: 2_500,
      clientName: "alice",
      logger,
      registry,
    });
    expect(settings).toMatchObject({
      servers: ["nats://a:4222", "nats://b:4222"],
      tls: { caFile: "/ca.pem" },
      proposalTimeoutMs: 2_500,
      clientName: "alice",
    });
    expect(settings.logger).toBe(logger);
    expect(settings.registry).toBe(registry);
  });

  it("names every bad option in one error", () => {
    const error = refusal({
      servers: [],
      user: "gateway.g1",
      password: "",
      cluster: "no spaces",
      acceptorIds: ["a1", "a1"],
      tls: { certFile: "/cert.pem" },
      proposalTimeoutMs: 1.5,
      clientName: "x".repeat(257),
      logger: console,
      registry: {},
    });
    for (const name of [
      "servers",
      "user",
      "password",
      "cluster",
      "acceptorIds",
      "tls",
      "proposalTimeoutMs",
      "clientName",
      "logger",
      "registry",
    ]) {
      expect(error.message).toContain(`- ${name}`);
    }
    expect(error.message).toMatch(/certFile and keyFile go together/);
    expect(error.message).toMatch(/twice/);
  });

  it("refuses unknown options, a missing one, and what is not an object", () => {
    expect(refusal({ ...GOOD, proposalTimeoutMS: 5_000 }).message).toMatch(/proposalTimeoutMS/);
    expect(refusal({ ...GOOD, acceptorIds: undefined }).message).toMatch(/acceptorIds/);
    refusal(null);
    refusal("nats://127.0.0.1:4222");
  });

  it("never shows a password or a server URL, which may hold one", () => {
    const error = refusal({ ...GOOD, servers: "nats://me:hunter2@host:4222 extra", password: 42 });
    expect(error.message).not.toContain("hunter2");
    expect(error.message).not.toContain("42");
  });
});
