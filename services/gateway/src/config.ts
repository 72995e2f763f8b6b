import { DEFAULT_LIMITS, type Limits } from "@paxos/core";
import {
  type AuthSettings,
  DEFAULT_GATEWAY_LIMITS,
  ENV_TUNABLE_GATEWAY_LIMITS,
  type GatewayLimits,
  DEFAULT_JWT_ALGORITHMS,
  JWT_ALGORITHMS,
  type JwtAlgorithm,
  type JwtKeySource,
  type OpenPath,
} from "@paxos/gateway-app";
import {
  ConfigError,
  envVar,
  type LOG_LEVELS,
  type NatsClientConfig,
  natsClientConfig,
  natsSpec,
  protocolLimits,
  readEnv,
} from "@paxos/host";

/** The gateway process's settings (COMMON.md, "Environment variables"). */
export interface GatewayServiceConfig {
  /** PAXOS_CLUSTER: the cluster name in every subject. Default "local". */
  readonly cluster: string;
  /** NATS_URL, the gateway's NATS user (default `gateway-<name>`) and password, TLS (see natsSpec). */
  readonly nats: NatsClientConfig;
  /** PAXOS_GATEWAY_NAME: names the gateway's NATS identity; replicas may share it. Default g1. */
  readonly gatewayName: string;
  /** PAXOS_ACCEPTOR_IDS: the configured acceptors, for `GET /v1/cluster`. Required. */
  readonly acceptorIds: readonly string[];
  /** PAXOS_HTTP_PORT: the REST API, with /healthz /readyz /metrics. Default 8080; 0 picks one. */
  readonly httpPort: number;
  /** PAXOS_HTTP_HOST: the interface to bind. Default 127.0.0.1 (deployments set 0.0.0.0). */
  readonly httpHost: string;
  /** LOG_LEVEL. Default info. */
  readonly logLevel: (typeof LOG_LEVELS)[number];
  /** PAXOS_PROPOSAL_TIMEOUT_MS: how long a POST may take, riding through elections, before 503 (no proposer took it) or 504 (outcome unknown). */
  readonly proposalTimeoutMs: number;
  /** PAXOS_AUTH and the variables of its mode: how clients authenticate (see `authSpec`). */
  readonly auth: AuthSettings;
  /** PAXOS_RATE_LIMIT: requests per client per window; 0 turns the limit off. Default 10000. */
  readonly rateLimitRequestsMax: number;
  /** PAXOS_RATE_LIMIT_WINDOW_MS: the rate limit's window. Default 1000. */
  readonly rateLimitWindowMs: number;
  /** PAXOS_LIMITS: the protocol's bounds, as every role process reads them (for decoding). */
  readonly protocolLimits: Limits;
  /**
   * PAXOS_GATEWAY_LIMITS: the gateway's other bounds (GatewayLimits) that differ from the
   * defaults, as a JSON object; those with a variable of their own are set by that variable.
   */
  readonly gatewayLimits: Partial<GatewayLimits>;
}

/*
 * Authentication and rate limiting. PAXOS_AUTH has no default: a gateway refuses to start until
 * it is told how clients authenticate (secure by default; `none` must be asked for by name).
 *
 * - PAXOS_AUTH=jwt: bearer JWTs. PAXOS_JWT_ISSUER and PAXOS_JWT_AUDIENCE are required, and one
 *   key source: PAXOS_JWT_JWKS_URL (the identity provider's JWKS; https, or http to loopback only)
 *   or PAXOS_JWT_PUBLIC_KEY_FILE (a PEM public key, SPKI, or a JWKS as JSON).
 *   PAXOS_JWT_ALGORITHMS (default ES256,RS256,EdDSA) lists the accepted signatures: public-key
 *   ones only, never none or HS*. A token needs `exp` and `sub` (the client id), and the scope
 *   paxos:write to POST, paxos:read for everything else (in `scope` or `scp`).
 * - PAXOS_AUTH=tokens: static bearer tokens from PAXOS_AUTH_TOKENS_FILE, one
 *   `<client-id> <token> [<scope> ...]` per line (see gateway-app's static-tokens.ts), or from
 *   PAXOS_AUTH_TOKENS, the same lines separated by newlines or `;`.
 * - PAXOS_AUTH=none: no authentication, every client is "anonymous" (development only; logged
 *   at warn at every start).
 *
 * /healthz and /readyz are always open. PAXOS_AUTH_OPEN_METRICS (default 1: Prometheus scrapes
 * without a token) and PAXOS_AUTH_OPEN_CLUSTER (default 0) open /metrics and /v1/cluster.
 * Variables of another mode than the configured one are refused, as a likely mistake.
 */

const AUTH_MODES = ["jwt", "tokens", "none"] as const;
type AuthMode = (typeof AUTH_MODES)[number];

/** The variables of PAXOS_AUTH=jwt that have no default. */
const JWT_VARIABLES = [
  "PAXOS_JWT_JWKS_URL",
  "PAXOS_JWT_PUBLIC_KEY_FILE",
  "PAXOS_JWT_ISSUER",
  "PAXOS_JWT_AUDIENCE",
] as const;

/** The loopback hosts a JWKS may be fetched from over plain http. */
const LOOPBACK_HOSTS: readonly string[] = ["localhost", "127.0.0.1", "[::1]"];

const authSpec = {
  PAXOS_AUTH: envVar
    .text()
    .refine((raw) => (AUTH_MODES as readonly string[]).includes(raw), "must be jwt, tokens or none")
    .transform((raw) => raw as AuthMode),
  PAXOS_AUTH_TOKENS_FILE: envVar.text().nullable().default(null),
  PAXOS_AUTH_TOKENS: envVar.text().nullable().default(null),
  PAXOS_JWT_JWKS_URL: envVar.url(["https", "http"]).nullable().default(null),
  PAXOS_JWT_PUBLIC_KEY_FILE: envVar.text().nullable().default(null),
  PAXOS_JWT_ISSUER: envVar.text().nullable().default(null),
  PAXOS_JWT_AUDIENCE: envVar.text().nullable().default(null),
  PAXOS_JWT_ALGORITHMS: envVar
    .text()
    .transform((raw) => raw.split(",").map((alg) => alg.trim()))
    .refine(
      (algs) => algs.every((alg) => (JWT_ALGORITHMS as readonly string[]).includes(alg)),
      `must be a comma list of ${JWT_ALGORITHMS.join(", ")} (never none or HS*: public-key signatures only)`,
    )
    .transform((algs) => algs as readonly JwtAlgorithm[])
    .default(DEFAULT_JWT_ALGORITHMS),
  PAXOS_AUTH_OPEN_METRICS: envVar.flag().default(true),
  PAXOS_AUTH_OPEN_CLUSTER: envVar.flag().default(false),
  PAXOS_RATE_LIMIT: wholeNumber(0, 1_000_000_000).default(DEFAULT_GATEWAY_LIMITS.rateLimitRequestsMax),
  PAXOS_RATE_LIMIT_WINDOW_MS: envVar.milliseconds(100, 3_600_000).default(DEFAULT_GATEWAY_LIMITS.rateLimitWindowMs),
};

/** A whole number from `min` to `max`. */
function wholeNumber(min: number, max: number) {
  return envVar
    .text()
    .refine(
      (raw) => /^\d{1,10}$/.test(raw) && Number(raw) >= min && Number(raw) <= max,
      `must be a whole number from ${min} to ${max}`,
    )
    .transform(Number);
}

/** The values `authSpec` reads. */
type AuthValues = ReturnType<typeof readEnv<typeof authSpec>>;

/**
 * The authentication settings of `values`; throws ConfigError when the mode lacks a variable it
 * needs, or another mode's variable is set.
 */
function authSettings(values: AuthValues): AuthSettings {
  const problems: string[] = [];
  const mode = values.PAXOS_AUTH;
  const openPaths: OpenPath[] = [];
  if (values.PAXOS_AUTH_OPEN_METRICS) openPaths.push("/metrics");
  if (values.PAXOS_AUTH_OPEN_CLUSTER) openPaths.push("/v1/cluster");
  const tokensFile = values.PAXOS_AUTH_TOKENS_FILE;
  const tokensText = values.PAXOS_AUTH_TOKENS;
  const jwtSet = JWT_VARIABLES.filter((name) => values[name] !== null);
  for (const [name, value] of [
    ["PAXOS_AUTH_TOKENS_FILE", tokensFile],
    ["PAXOS_AUTH_TOKENS", tokensText],
  ] as const) {
    if (mode !== "tokens" && value !== null) problems.push(`${name} is set but PAXOS_AUTH is ${mode}`);
  }
  if (mode !== "jwt" && jwtSet.length > 0) problems.push(`${jwtSet.join(", ")} set but PAXOS_AUTH is ${mode}`);
  let settings: AuthSettings | null = null;
  switch (mode) {
    case "none":
      settings = { mode };
      break;
    case "tokens":
      if (tokensFile !== null && tokensText !== null) {
        problems.push("PAXOS_AUTH_TOKENS_FILE and PAXOS_AUTH_TOKENS are both set; set one");
      } else if (tokensFile !== null) {
        settings = { mode, tokens: { kind: "file", path: tokensFile }, openPaths };
      } else if (tokensText !== null) {
        // One entry per line, or per `;` where a variable cannot hold newlines.
        settings = { mode, tokens: { kind: "env", text: tokensText.replaceAll(";", "\n") }, openPaths };
      } else {
        problems.push(
          "PAXOS_AUTH_TOKENS_FILE or PAXOS_AUTH_TOKENS is required with PAXOS_AUTH=tokens (lines of <client-id> <token> [scopes])",
        );
      }
      break;
    case "jwt": {
      const keys = jwtKeySource(values.PAXOS_JWT_JWKS_URL, values.PAXOS_JWT_PUBLIC_KEY_FILE, problems);
      const { PAXOS_JWT_ISSUER: issuer, PAXOS_JWT_AUDIENCE: audience } = values;
      if (issuer === null) problems.push("PAXOS_JWT_ISSUER is required with PAXOS_AUTH=jwt (the tokens' iss)");
      if (audience === null) problems.push("PAXOS_JWT_AUDIENCE is required with PAXOS_AUTH=jwt (the tokens' aud)");
      if (keys !== null && issuer !== null && audience !== null) {
        settings = { mode, keys, issuer, audience, algorithms: values.PAXOS_JWT_ALGORITHMS, openPaths };
      }
      break;
    }
  }
  if (problems.length > 0 || settings === null) throw new ConfigError(problems);
  return settings;
}

/** The one key source of PAXOS_AUTH=jwt, or null after adding to `problems` why there is none. */
function jwtKeySource(url: string | null, path: string | null, problems: string[]): JwtKeySource | null {
  if ((url === null) === (path === null)) {
    problems.push("set one of PAXOS_JWT_JWKS_URL and PAXOS_JWT_PUBLIC_KEY_FILE with PAXOS_AUTH=jwt");
    return null;
  }
  if (path !== null) return { kind: "keyFile", path };
  const { protocol, hostname } = new URL(url ?? "");
  if (protocol === "http:" && !LOOPBACK_HOSTS.includes(hostname)) {
    // A JWKS fetched in the clear could be swapped for an attacker's keys.
    problems.push("PAXOS_JWT_JWKS_URL must use https: (plain http only to a loopback host)");
    return null;
  }
  return { kind: "jwksUrl", url: url ?? "" };
}

const gatewaySpec = {
  PAXOS_CLUSTER: envVar.id().default("local"),
  ...natsSpec,
  PAXOS_GATEWAY_NAME: envVar.id().default("g1"),
  PAXOS_ACCEPTOR_IDS: envVar.idList(),
  PAXOS_HTTP_PORT: envVar.port().default(8080),
  // Loopback unless a deployment says otherwise: an unconfigured gateway is not reachable from outside.
  PAXOS_HTTP_HOST: envVar.text().default("127.0.0.1"),
  LOG_LEVEL: envVar.logLevel().default("info"),
  PAXOS_PROPOSAL_TIMEOUT_MS: envVar.milliseconds(100, 600_000).default(DEFAULT_GATEWAY_LIMITS.proposalTimeoutMs),
  PAXOS_LIMITS: envVar.overrides(DEFAULT_LIMITS).default({}),
  PAXOS_GATEWAY_LIMITS: envVar.overrides(ENV_TUNABLE_GATEWAY_LIMITS).default({}),
  ...authSpec,
};

/** The variables the gateway reads (besides OTEL_*): what a deployment may set. */
export const GATEWAY_VARIABLES: readonly string[] = Object.keys(gatewaySpec);

/** Reads the gateway's settings from `env`; throws ConfigError naming every bad variable. */
export function gatewayConfig(env: NodeJS.ProcessEnv): GatewayServiceConfig {
  const values = readEnv(gatewaySpec, env);
  return {
    cluster: values.PAXOS_CLUSTER,
    nats: natsClientConfig(values, "gateway", values.PAXOS_GATEWAY_NAME),
    gatewayName: values.PAXOS_GATEWAY_NAME,
    acceptorIds: values.PAXOS_ACCEPTOR_IDS,
    httpPort: values.PAXOS_HTTP_PORT,
    httpHost: values.PAXOS_HTTP_HOST,
    logLevel: values.LOG_LEVEL,
    proposalTimeoutMs: values.PAXOS_PROPOSAL_TIMEOUT_MS,
    auth: authSettings(values),
    rateLimitRequestsMax: values.PAXOS_RATE_LIMIT,
    rateLimitWindowMs: values.PAXOS_RATE_LIMIT_WINDOW_MS,
    protocolLimits: protocolLimits(values.PAXOS_LIMITS),
    gatewayLimits: values.PAXOS_GATEWAY_LIMITS,
  };
}
