// The gateway service's authentication, rate-limit and bind settings (issue 10, item 5): it
// refuses to start until PAXOS_AUTH says how clients authenticate, each mode requires its own
// variables and refuses another mode's, JWT algorithms are public-key signatures only, and the
// REST port binds loopback unless told otherwise. Pure: each case passes a plain environment.
import { DEFAULT_LIMITS } from "@paxos/core";
import { ConfigError } from "@paxos/host";
import { describe, expect, it } from "vitest";
import { GATEWAY_VARIABLES, gatewayConfig } from "../../services/gateway/src/config.ts";

/** What every case needs besides authentication. */
const BASE = { PAXOS_ACCEPTOR_IDS: "a1,a2,a3", NATS_PASSWORD: "test-password" };

const JWT = {
  PAXOS_AUTH: "jwt",
  PAXOS_JWT_JWKS_URL: "https://id.example.test/.well-known/jwks.json",
  PAXOS_JWT_ISSUER: "https://id.example.test/",
  PAXOS_JWT_AUDIENCE: "paxos",
};

/** The problems of the ConfigError gatewayConfig throws for `env`; fails when it throws none. */
function problemsOf(env: NodeJS.ProcessEnv): readonly string[] {
  try {
    gatewayConfig({ ...BASE, ...env });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error("gatewayConfig accepted the environment");
}

describe("PAXOS_AUTH", () => {
  it("is required: without it the gateway does not start", () => {
    expect(problemsOf({})).toEqual(["PAXOS_AUTH is required (a non-empty value)"]);
  });

  it("is one of jwt, tokens, none", () => {
    expect(problemsOf({ PAXOS_AUTH: "basic" })).toEqual(["PAXOS_AUTH must be jwt, tokens or none"]);
  });

  it("none needs nothing else, and refuses another mode's variables", () => {
    expect(gatewayConfig({ ...BASE, PAXOS_AUTH: "none" }).auth).toEqual({ mode: "none" });
    expect(problemsOf({ PAXOS_AUTH: "none", PAXOS_AUTH_TOKENS_FILE: "/t" })).toEqual([
      "PAXOS_AUTH_TOKENS_FILE is set but PAXOS_AUTH is none",
    ]);
  });

  it("tokens needs PAXOS_AUTH_TOKENS_FILE; /metrics is open by default", () => {
    expect(problemsOf({ PAXOS_AUTH: "tokens" })).toEqual([
      "PAXOS_AUTH_TOKENS_FILE or PAXOS_AUTH_TOKENS is required with PAXOS_AUTH=tokens (lines of <client-id> <token> [scopes])",
    ]);
    expect(gatewayConfig({ ...BASE, PAXOS_AUTH: "tokens", PAXOS_AUTH_TOKENS_FILE: "/run/tokens" }).auth).toEqual({
      mode: "tokens",
      tokens: { kind: "file", path: "/run/tokens" },
      openPaths: ["/metrics"],
    });
    expect(problemsOf({ PAXOS_AUTH: "tokens", PAXOS_AUTH_TOKENS_FILE: "/t", PAXOS_JWT_ISSUER: "x" })).toEqual([
      "PAXOS_JWT_ISSUER set but PAXOS_AUTH is tokens",
    ]);
  });

  it("tokens may come from PAXOS_AUTH_TOKENS instead, entries split at newlines or ';', never both", () => {
    expect(gatewayConfig({ ...BASE, PAXOS_AUTH: "tokens", PAXOS_AUTH_TOKENS: "a t1;b t2" }).auth).toEqual({
      mode: "tokens",
      tokens: { kind: "env", text: "a t1\nb t2" },
      openPaths: ["/metrics"],
    });
    expect(problemsOf({ PAXOS_AUTH: "tokens", PAXOS_AUTH_TOKENS: "a t", PAXOS_AUTH_TOKENS_FILE: "/t" })).toEqual([
      "PAXOS_AUTH_TOKENS_FILE and PAXOS_AUTH_TOKENS are both set; set one",
    ]);
    expect(problemsOf({ PAXOS_AUTH: "none", PAXOS_AUTH_TOKENS: "a t" })).toEqual([
      "PAXOS_AUTH_TOKENS is set but PAXOS_AUTH is none",
    ]);
  });

  it("jwt with a JWKS URL, the default algorithms and open paths", () => {
    expect(gatewayConfig({ ...BASE, ...JWT }).auth).toEqual({
      mode: "jwt",
      keys: { kind: "jwksUrl", url: JWT.PAXOS_JWT_JWKS_URL },
      issuer: JWT.PAXOS_JWT_ISSUER,
      audience: "paxos",
      algorithms: ["ES256", "RS256", "EdDSA"],
      openPaths: ["/metrics"],
    });
  });

  it("jwt with a key file, other algorithms, /v1/cluster open and /metrics closed", () => {
    const env = {
      ...JWT,
      PAXOS_JWT_JWKS_URL: "",
      PAXOS_JWT_PUBLIC_KEY_FILE: "/run/jwt.pem",
      PAXOS_JWT_ALGORITHMS: "PS256, ES384",
      PAXOS_AUTH_OPEN_METRICS: "0",
      PAXOS_AUTH_OPEN_CLUSTER: "1",
    };
    expect(gatewayConfig({ ...BASE, ...env }).auth).toMatchObject({
      keys: { kind: "keyFile", path: "/run/jwt.pem" },
      algorithms: ["PS256", "ES384"],
      openPaths: ["/v1/cluster"],
    });
  });

  it("jwt needs an issuer, an audience and exactly one key source", () => {
    expect(problemsOf({ PAXOS_AUTH: "jwt" })).toEqual([
      "set one of PAXOS_JWT_JWKS_URL and PAXOS_JWT_PUBLIC_KEY_FILE with PAXOS_AUTH=jwt",
      "PAXOS_JWT_ISSUER is required with PAXOS_AUTH=jwt (the tokens' iss)",
      "PAXOS_JWT_AUDIENCE is required with PAXOS_AUTH=jwt (the tokens' aud)",
    ]);
    expect(problemsOf({ ...JWT, PAXOS_JWT_PUBLIC_KEY_FILE: "/k.pem" })).toEqual([
      "set one of PAXOS_JWT_JWKS_URL and PAXOS_JWT_PUBLIC_KEY_FILE with PAXOS_AUTH=jwt",
    ]);
  });

  it("a JWKS over plain http only from loopback", () => {
    expect(problemsOf({ ...JWT, PAXOS_JWT_JWKS_URL: "http://id.example.test/jwks" })).toEqual([
      "PAXOS_JWT_JWKS_URL must use https: (plain http only to a loopback host)",
    ]);
    for (const url of ["http://127.0.0.1:8081/jwks", "http://localhost/jwks", "http://[::1]:9/jwks"]) {
      expect(gatewayConfig({ ...BASE, ...JWT, PAXOS_JWT_JWKS_URL: url }).auth).toMatchObject({ keys: { url } });
    }
  });

  it.each(["HS256", "none", "ES256,HS512", "RS256,"])("refuses PAXOS_JWT_ALGORITHMS=%s", (algorithms) => {
    expect(problemsOf({ ...JWT, PAXOS_JWT_ALGORITHMS: algorithms })).toEqual([
      "PAXOS_JWT_ALGORITHMS must be a comma list of ES256, ES384, ES512, RS256, RS384, RS512, PS256, PS384, PS512, EdDSA, Ed25519 (never none or HS*: public-key signatures only)",
    ]);
  });
});

describe("the rate limit and the bind address", () => {
  it("defaults: 10000 requests a second, loopback", () => {
    const config = gatewayConfig({ ...BASE, PAXOS_AUTH: "none" });
    expect(config.rateLimitRequestsMax).toBe(10_000);
    expect(config.rateLimitWindowMs).toBe(1_000);
    expect(config.httpHost).toBe("127.0.0.1");
  });

  it("0 turns the limit off; a window in milliseconds", () => {
    const config = gatewayConfig({
      ...BASE,
      PAXOS_AUTH: "none",
      PAXOS_RATE_LIMIT: "0",
      PAXOS_RATE_LIMIT_WINDOW_MS: "60000",
    });
    expect(config.rateLimitRequestsMax).toBe(0);
    expect(config.rateLimitWindowMs).toBe(60_000);
  });

  it.each(["-1", "1.5", "ten", "1000000001"])("refuses PAXOS_RATE_LIMIT=%s", (limit) => {
    expect(problemsOf({ PAXOS_AUTH: "none", PAXOS_RATE_LIMIT: limit })).toEqual([
      "PAXOS_RATE_LIMIT must be a whole number from 0 to 1000000000",
    ]);
  });

  it("every variable is one a deployment may set", () => {
    expect(GATEWAY_VARIABLES).toEqual(
      expect.arrayContaining([
        "PAXOS_AUTH",
        "PAXOS_AUTH_TOKENS_FILE",
        "PAXOS_AUTH_TOKENS",
        "PAXOS_JWT_JWKS_URL",
        "PAXOS_JWT_PUBLIC_KEY_FILE",
        "PAXOS_JWT_ISSUER",
        "PAXOS_JWT_AUDIENCE",
        "PAXOS_JWT_ALGORITHMS",
        "PAXOS_AUTH_OPEN_METRICS",
        "PAXOS_AUTH_OPEN_CLUSTER",
        "PAXOS_RATE_LIMIT",
        "PAXOS_RATE_LIMIT_WINDOW_MS",
        "PAXOS_HTTP_HOST",
      ]),
    );
  });
});

describe("PAXOS_LIMITS and PAXOS_GATEWAY_LIMITS", () => {
  const NONE = { PAXOS_AUTH: "none" };

  it("default to the built-in limits", () => {
    const config = gatewayConfig({ ...BASE, ...NONE });
    expect(config.protocolLimits).toEqual(DEFAULT_LIMITS);
    expect(config.gatewayLimits).toEqual({});
  });

  it("override some limits, and refuse protocol limits that do not fit together", () => {
    const config = gatewayConfig({
      ...BASE,
      ...NONE,
      PAXOS_LIMITS: '{"inflightSlotsMax":16}',
      PAXOS_GATEWAY_LIMITS: '{"inflightProposalsMax":500,"inflightProposalBytesMax":1000000}',
    });
    expect(config.protocolLimits).toEqual({ ...DEFAULT_LIMITS, inflightSlotsMax: 16 });
    expect(config.gatewayLimits).toEqual({ inflightProposalsMax: 500, inflightProposalBytesMax: 1_000_000 });
    expect(problemsOf({ ...NONE, PAXOS_LIMITS: '{"requestBytesMax":262144}' })).toEqual([
      "PAXOS_LIMITS: requestBytesMax exceeds batchBytesMax",
    ]);
  });

  it("leave the limits that have their own variable to it", () => {
    expect(problemsOf({ ...NONE, PAXOS_GATEWAY_LIMITS: '{"proposalTimeoutMs":5000}' })).toEqual([
      expect.stringMatching(/^PAXOS_GATEWAY_LIMITS has an unknown key "proposalTimeoutMs"/),
    ]);
  });
});
