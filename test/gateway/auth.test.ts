// The gateway's authentication (issue 10, item 5), over real HTTP against the gateway app on a
// MemoryBus: bearer JWTs checked against a JWKS served by a local HTTP server or read from a key
// file, static tokens, the open paths, RFC 6750's 401/403 challenges as problems, Idempotency-Keys
// scoped to the client, and the per-client rate limit. Keys and tokens are made here with jose.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type AuthSettings,
  AuthSetupError,
  createGatewayApp,
  DEFAULT_JWT_ALGORITHMS,
  type GatewayAuth,
  type GatewayLimits,
  loadGatewayAuth,
  scopedRequestId,
} from "@paxos/gateway-app";
import {
  type CryptoKey,
  exportJWK,
  exportPKCS8,
  exportSPKI,
  generateKeyPair,
  type JSONWebKeySet,
  type JWTPayload,
  SignJWT,
  UnsecuredJWT,
} from "jose";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  ACCEPTOR_IDS,
  FakeCluster,
  type FakeProposer,
  keyedRequestId,
  postProposal,
  type RunningGateway,
  startGateway,
  TEST_LIMITS,
} from "./harness.ts";

const ISSUER = "https://id.example.test/";
const AUDIENCE = "paxos-gateway";
const silent = pino({ level: "silent" });

let cluster: FakeCluster;
let leader: FakeProposer;
let gw: RunningGateway | null = null;
let dir: string;

/** The identity provider's signing key, and one nobody trusts. */
let trusted: { publicKey: CryptoKey; privateKey: CryptoKey };
let untrusted: { publicKey: CryptoKey; privateKey: CryptoKey };

beforeAll(async () => {
  trusted = await generateKeyPair("ES256");
  untrusted = await generateKeyPair("ES256");
  dir = await mkdtemp(join(tmpdir(), "paxos-auth-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  cluster = new FakeCluster();
  leader = cluster.proposer("p1-aaaaaaaa", 3).lead();
});

afterEach(async () => {
  await gw?.close();
  gw = null;
  await cluster.stop();
});

/** Starts the gateway of this test with `auth` (closed after it). */
async function started(auth: GatewayAuth, limits: Partial<GatewayLimits> = {}): Promise<RunningGateway> {
  gw = await startGateway(cluster, limits, {}, auth);
  return gw;
}

/** JWT authentication as the service sets it up, with `keys` and the defaults otherwise. */
function jwtAuth(
  keys: Extract<AuthSettings, { mode: "jwt" }>["keys"],
  overrides: Partial<Extract<AuthSettings, { mode: "jwt" }>> = {},
): Promise<GatewayAuth> {
  const settings: AuthSettings = {
    mode: "jwt",
    keys,
    issuer: ISSUER,
    audience: AUDIENCE,
    algorithms: DEFAULT_JWT_ALGORITHMS,
    openPaths: ["/metrics"],
    ...overrides,
  };
  return loadGatewayAuth(settings, silent);
}

/** What a token should hold; each member left out takes the value of a good token. */
interface TokenSpec {
  readonly claims?: JWTPayload;
  readonly key?: CryptoKey;
  readonly alg?: string;
  readonly issuer?: string;
  readonly audience?: string;
  /** The subject, or null for none. */
  readonly subject?: string | null;
  /** The expiry in seconds since the epoch, or null for none. Default: in 5 minutes. */
  readonly exp?: number | null;
}

const nowSeconds = (): number => Math.floor(Date.now() / 1_000);

/** A JWT signed by the trusted key unless `spec` says otherwise, with both scopes by default. */
async function jwt(spec: TokenSpec = {}): Promise<string> {
  const token = new SignJWT({ scope: "paxos:read paxos:write", ...spec.claims })
    .setProtectedHeader({ alg: spec.alg ?? "ES256" })
    .setIssuer(spec.issuer ?? ISSUER)
    .setAudience(spec.audience ?? AUDIENCE)
    .setIssuedAt();
  const subject = spec.subject === undefined ? "alice" : spec.subject;
  if (subject !== null) token.setSubject(subject);
  const exp = spec.exp === undefined ? nowSeconds() + 300 : spec.exp;
  if (exp !== null) token.setExpirationTime(exp);
  return await token.sign(spec.key ?? trusted.privateKey);
}

/** GET `path` with `token` as bearer credentials (none when null). */
function get(path: string, token: string | null, headers: Record<string, string> = {}): Promise<Response> {
  if (gw === null) throw new Error("no gateway");
  const auth: Record<string, string> = token === null ? {} : { Authorization: `Bearer ${token}` };
  return fetch(`${gw.url}${path}`, { headers: { ...auth, ...headers } });
}

/** Checks the problem shape and returns the body. */
async function expectProblem(response: Response, status: number, code: string): Promise<Record<string, unknown>> {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  expect(response.headers.get("cache-control")).toBe("no-store");
  const body = (await response.json()) as Record<string, unknown>;
  expect(body).toMatchObject({ status, type: `urn:paxos:problem:${code}` });
  return body;
}

/** A JWKS served over HTTP on loopback, as an identity provider serves its `jwks_uri`. */
interface JwksServer {
  readonly url: string;
  /** While true, it answers 500 (the provider is down). */
  failing: boolean;
  fetches: number;
  close(): Promise<void>;
}

async function serveJwks(jwks: JSONWebKeySet): Promise<JwksServer> {
  const server: Server = createServer((_req, res) => {
    state.fetches++;
    if (state.failing) {
      res.writeHead(500).end();
      return;
    }
    res.writeHead(200, { "Content-Type": "application/jwk-set+json" }).end(JSON.stringify(jwks));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const state: JwksServer = {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    failing: false,
    fetches: 0,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  return state;
}

describe("PAXOS_AUTH=jwt, keys from a JWKS URL", () => {
  let jwks: JwksServer;

  beforeAll(async () => {
    jwks = await serveJwks({ keys: [{ ...(await exportJWK(trusted.publicKey)), kid: "k1" }] });
  });

  afterAll(async () => {
    await jwks.close();
  });

  beforeEach(async () => {
    jwks.failing = false;
    await started(await jwtAuth({ kind: "jwksUrl", url: jwks.url }));
  });

  it("401 without credentials: a bare Bearer challenge, no error code (RFC 6750, 3.1)", async () => {
    const response = await postProposal(gw?.url ?? "", { value: 1 }, { token: null });
    await expectProblem(response, 401, "unauthorized");
    expect(response.headers.get("www-authenticate")).toBe('Bearer realm="paxos"');
    expect(leader.received).toEqual([]);
  });

  it("401 without an error code for another scheme (Basic)", async () => {
    const response = await get("/v1/log", null, { Authorization: "Basic YWxpY2U6c2VjcmV0" });
    await expectProblem(response, 401, "unauthorized");
    expect(response.headers.get("www-authenticate")).toBe('Bearer realm="paxos"');
  });

  it("201 for a valid token: the value is proposed and decided", async () => {
    const response = await postProposal(gw?.url ?? "", { value: "signed" }, { token: await jwt() });
    expect(response.status).toBe(201);
    expect(await response.json()).toMatchObject({ index: 0, value: "signed" });
    expect(cluster.log.entries.map((entry) => entry.value)).toEqual(["signed"]);
  });

  it("accepts a token that expired within the clock tolerance (5 s)", async () => {
    const response = await postProposal(gw?.url ?? "", { value: 1 }, { token: await jwt({ exp: nowSeconds() - 2 }) });
    expect(response.status).toBe(201);
  });

  it.each<[string, () => Promise<string>, RegExp]>([
    ["a token signed by another key", () => jwt({ key: untrusted.privateKey }), /signature does not verify/],
    ["another issuer", () => jwt({ issuer: "https://evil.example.test/" }), /issuer is not accepted/],
    ["another audience", () => jwt({ audience: "someone-else" }), /audience is not accepted/],
    ["an expired token", () => jwt({ exp: nowSeconds() - 60 }), /has expired/],
    ["no expiry", () => jwt({ exp: null }), /no valid expiry/],
    ["a non-numeric expiry", () => jwt({ claims: { exp: "tomorrow" as unknown as number }, exp: null }), /expiry/],
    ["no subject", () => jwt({ subject: null }), /no subject/],
    ["a subject beyond 256 characters", () => jwt({ subject: "s".repeat(257) }), /not a valid client id/],
    ["a subject with a control character", () => jwt({ subject: "ali\nce" }), /not a valid client id/],
    ["not yet valid (nbf)", () => jwt({ claims: { nbf: nowSeconds() + 600 } }), /not valid yet/],
    [
      "an HS256 token (a shared secret)",
      () =>
        new SignJWT({ scope: "paxos:write" })
          .setProtectedHeader({ alg: "HS256" })
          .setIssuer(ISSUER)
          .setAudience(AUDIENCE)
          .setSubject("alice")
          .setExpirationTime("5m")
          .sign(new TextEncoder().encode("a shared secret of at least 32 bytes")),
      /algorithm is not allowed/,
    ],
    [
      'an unsecured token (alg "none")',
      () =>
        Promise.resolve(
          new UnsecuredJWT({ scope: "paxos:write" })
            .setIssuer(ISSUER)
            .setAudience(AUDIENCE)
            .setSubject("alice")
            .setExpirationTime("5m")
            .encode(),
        ),
      /algorithm is not allowed/,
    ],
    ["an allowed algorithm with no key of it in the JWKS (RS256)", rs256Token, /No trusted key matches/],
    ["a token that is not a JWT", () => Promise.resolve("not.a.jwt"), /malformed/],
    ["two tokens", async () => `${await jwt()} ${await jwt()}`, /not Bearer and one token/],
    ["an empty token", () => Promise.resolve(""), /not Bearer and one token/],
  ])("401 invalid_token for %s, and nothing is proposed", async (_name, make, description) => {
    const response = await postProposal(gw?.url ?? "", { value: 1 }, { token: await make() });
    const body = await expectProblem(response, 401, "invalidToken");
    expect(body["detail"]).toMatch(description);
    const challenge = response.headers.get("www-authenticate") ?? "";
    expect(challenge).toMatch(/^Bearer realm="paxos", error="invalid_token", error_description="[^"\\]+"$/);
    expect(challenge).toMatch(description);
    expect(leader.received).toEqual([]);
  });

  it("403 insufficient_scope: a read-only token may read but not propose", async () => {
    const token = await jwt({ claims: { scope: "paxos:read" } });
    expect((await get("/v1/log", token)).status).toBe(200);
    const response = await postProposal(gw?.url ?? "", { value: 1 }, { token });
    await expectProblem(response, 403, "insufficientScope");
    expect(response.headers.get("www-authenticate")).toBe(
      'Bearer realm="paxos", error="insufficient_scope", scope="paxos:write"',
    );
    expect(leader.received).toEqual([]);
  });

  it("403 insufficient_scope: a write-only token may propose but not read", async () => {
    const token = await jwt({ claims: { scope: "paxos:write" } });
    expect((await postProposal(gw?.url ?? "", { value: 1 }, { token })).status).toBe(201);
    const response = await get("/v1/log", token);
    await expectProblem(response, 403, "insufficientScope");
    expect(response.headers.get("www-authenticate")).toMatch(/scope="paxos:read"/);
  });

  it("403 for a token without any scope; scopes may also come as an scp array", async () => {
    await expectProblem(await get("/v1/log", await jwt({ claims: { scope: undefined } })), 403, "insufficientScope");
    await expectProblem(
      await get("/v1/log", await jwt({ claims: { scope: "paxos:admin" } })),
      403,
      "insufficientScope",
    );
    const scp = await jwt({ claims: { scope: undefined, scp: ["paxos:read", "paxos:write"] } });
    expect((await postProposal(gw?.url ?? "", { value: 1 }, { token: scp })).status).toBe(201);
  });

  it("503 with Retry-After, not 401, while the JWKS cannot be fetched; then it recovers", async () => {
    jwks.failing = true;
    await gw?.close();
    await started(await jwtAuth({ kind: "jwksUrl", url: jwks.url }));
    const token = await jwt();
    const refused = await postProposal(gw?.url ?? "", { value: 1 }, { token });
    await expectProblem(refused, 503, "unavailable");
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(leader.received).toEqual([]);
    jwks.failing = false;
    expect((await postProposal(gw?.url ?? "", { value: 1 }, { token })).status).toBe(201);
  });

  it("tokens with unknown key ids do not make the gateway fetch the JWKS again and again", async () => {
    const before = jwks.fetches;
    for (let i = 0; i < 5; i++) {
      const forged = await new SignJWT({ scope: "paxos:read" })
        .setProtectedHeader({ alg: "ES256", kid: `forged-${i}` })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setSubject("mallory")
        .setExpirationTime("5m")
        .sign(untrusted.privateKey);
      await expectProblem(await get("/v1/log", forged), 401, "invalidToken");
    }
    // The start fetched it; within the cooldown at most one more fetch for an unknown kid.
    expect(jwks.fetches - before).toBeLessThanOrEqual(1);
  });
});

/** A valid-looking RS256 token: RS256 is allowed, but the JWKS has no RSA key. */
async function rs256Token(): Promise<string> {
  const rsa = await generateKeyPair("RS256");
  return await jwt({ key: rsa.privateKey, alg: "RS256" });
}

describe("PAXOS_AUTH=jwt, keys from a file", () => {
  it("a PEM public key (SPKI): its tokens are accepted, others refused", async () => {
    const path = join(dir, "public.pem");
    await writeFile(path, await exportSPKI(trusted.publicKey));
    await started(await jwtAuth({ kind: "keyFile", path }));
    expect((await postProposal(gw?.url ?? "", { value: 1 }, { token: await jwt() })).status).toBe(201);
    const forged = await jwt({ key: untrusted.privateKey });
    await expectProblem(await postProposal(gw?.url ?? "", { value: 2 }, { token: forged }), 401, "invalidToken");
  });

  it("a JWKS file, with an EdDSA key", async () => {
    const ed = await generateKeyPair("EdDSA");
    const path = join(dir, "jwks.json");
    await writeFile(path, JSON.stringify({ keys: [await exportJWK(ed.publicKey)] }));
    await started(await jwtAuth({ kind: "keyFile", path }));
    const token = await jwt({ key: ed.privateKey, alg: "EdDSA" });
    expect((await postProposal(gw?.url ?? "", { value: 1 }, { token })).status).toBe(201);
  });

  it("an algorithm outside PAXOS_JWT_ALGORITHMS is refused even with the right key", async () => {
    const path = join(dir, "public-es-only.pem");
    await writeFile(path, await exportSPKI(trusted.publicKey));
    await started(await jwtAuth({ kind: "keyFile", path }, { algorithms: ["EdDSA"] }));
    const body = await expectProblem(await get("/v1/log", await jwt()), 401, "invalidToken");
    expect(body["detail"]).toMatch(/algorithm is not allowed/);
  });

  it.each<[string, () => Promise<string>, RegExp]>([
    [
      "a PEM private key",
      async () => await exportPKCS8((await generateKeyPair("ES256", { extractable: true })).privateKey),
      /not a PEM public key/,
    ],
    [
      "a JWKS holding a private key",
      async () =>
        JSON.stringify({ keys: [await exportJWK((await generateKeyPair("ES256", { extractable: true })).privateKey)] }),
      /private key/,
    ],
    [
      "a JWKS holding a shared secret",
      () => Promise.resolve('{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}'),
      /shared secret/,
    ],
    ["an empty JWKS", () => Promise.resolve('{"keys":[]}'), /at least one key/],
    ["neither PEM nor JSON", () => Promise.resolve("hello"), /neither a PEM public key nor a JWKS/],
  ])("refuses to start with %s", async (_name, content, problem) => {
    const path = join(dir, "bad-key");
    await writeFile(path, await content());
    const setup = jwtAuth({ kind: "keyFile", path });
    await expect(setup).rejects.toBeInstanceOf(AuthSetupError);
    await expect(setup).rejects.toThrow(problem);
  });

  it("refuses to start without the key file", async () => {
    const setup = jwtAuth({ kind: "keyFile", path: join(dir, "missing.pem") });
    await expect(setup).rejects.toThrow(/cannot be read \(ENOENT\)/);
  });

  it("refuses HS256 or none among the algorithms", async () => {
    const path = join(dir, "public-any.pem");
    await writeFile(path, await exportSPKI(trusted.publicKey));
    for (const alg of ["HS256", "none"]) {
      await expect(
        jwtAuth({ kind: "keyFile", path }, { algorithms: [alg] as unknown as typeof DEFAULT_JWT_ALGORITHMS }),
      ).rejects.toBeInstanceOf(AuthSetupError);
    }
  });
});

const ALICE_TOKEN = "alice-token-6f1d2a9c4b7e";
const BOB_TOKEN = "bob-token-83c0e5d17a2f9b";
const READER_TOKEN = "reader-token-5e8a1c3f0d";

/** Static tokens for alice and bob (both scopes) and a read-only reader, from a tokens file. */
async function tokensAuth(): Promise<GatewayAuth> {
  const path = join(dir, "tokens");
  await writeFile(
    path,
    [
      "# client token [scopes]",
      `alice ${ALICE_TOKEN}`,
      "",
      `bob\t${BOB_TOKEN}   paxos:read paxos:write`,
      `reader ${READER_TOKEN} paxos:read`,
    ].join("\n"),
  );
  return loadGatewayAuth({ mode: "tokens", tokens: { kind: "file", path }, openPaths: ["/metrics"] }, silent);
}

describe("PAXOS_AUTH=tokens", () => {
  beforeEach(async () => {
    await started(await tokensAuth());
  });

  it("a listed token is its client; an unknown one is 401 invalid_token", async () => {
    const created = await postProposal(gw?.url ?? "", { value: 1 }, { token: ALICE_TOKEN, key: "k1" });
    expect(created.status).toBe(201);
    expect(leader.received.map((r) => r.requestId)).toEqual([keyedRequestId("k1", "alice")]);
    const refused = await postProposal(gw?.url ?? "", { value: 1 }, { token: `${ALICE_TOKEN}x` });
    const body = await expectProblem(refused, 401, "invalidToken");
    expect(body["detail"]).toBe("The token is not known");
    expect(refused.headers.get("www-authenticate")).toBe(
      'Bearer realm="paxos", error="invalid_token", error_description="The token is not known"',
    );
  });

  it("tokens given inline (PAXOS_AUTH_TOKENS) work as from a file", async () => {
    await gw?.close();
    await started(
      await loadGatewayAuth(
        {
          mode: "tokens",
          tokens: { kind: "env", text: `alice ${ALICE_TOKEN}\nreader ${READER_TOKEN} paxos:read` },
          openPaths: [],
        },
        silent,
      ),
    );
    expect((await postProposal(gw?.url ?? "", { value: 1 }, { token: ALICE_TOKEN })).status).toBe(201);
    await expectProblem(
      await postProposal(gw?.url ?? "", { value: 1 }, { token: READER_TOKEN }),
      403,
      "insufficientScope",
    );
    await expectProblem(await postProposal(gw?.url ?? "", { value: 1 }, { token: BOB_TOKEN }), 401, "invalidToken");
  });

  it("the scopes of a line: the reader may read, not propose", async () => {
    expect((await get("/v1/log", READER_TOKEN)).status).toBe(200);
    await expectProblem(
      await postProposal(gw?.url ?? "", { value: 1 }, { token: READER_TOKEN }),
      403,
      "insufficientScope",
    );
  });

  it("a malformed tokens file names its lines and never shows a token", async () => {
    const path = join(dir, "bad-tokens");
    const secret = "s3cr3t-but-short";
    await writeFile(
      path,
      [`alice ${secret.slice(0, 10)}`, "bob", `carol ${secret}x paxos:admin`, `dave ${secret}~ paxos:read`].join("\n"),
    );
    const setup = loadGatewayAuth({ mode: "tokens", tokens: { kind: "file", path }, openPaths: [] }, silent);
    const error = (await setup.catch((caught: unknown) => caught)) as AuthSetupError;
    expect(error).toBeInstanceOf(AuthSetupError);
    expect(error.problems).toEqual([
      `${path} line 1: the token is shorter than 16 characters`,
      `${path} line 2: has no token`,
      `${path} line 3: scope 1 is none of paxos:read, paxos:write`,
    ]);
    expect(error.message).not.toContain("s3cr3t");
  });

  it("the longest client id with the longest key still makes a request id the wire accepts", async () => {
    const clientId = "c".repeat(256);
    const path = join(dir, "long-client");
    await writeFile(path, `${clientId} ${ALICE_TOKEN}\n`);
    await gw?.close();
    await started(await loadGatewayAuth({ mode: "tokens", tokens: { kind: "file", path }, openPaths: [] }, silent));
    const key = "k".repeat(200);
    const response = await postProposal(gw?.url ?? "", { value: 1 }, { token: ALICE_TOKEN, key });
    expect(response.status).toBe(201);
    expect(await response.json()).toMatchObject({ requestId: key });
    expect(leader.received.map((r) => r.requestId)).toEqual([scopedRequestId(clientId, key)]);
  });

  it("a token listed twice is refused", async () => {
    const path = join(dir, "twice");
    await writeFile(path, `alice ${ALICE_TOKEN}\nbob ${ALICE_TOKEN}\n`);
    await expect(
      loadGatewayAuth({ mode: "tokens", tokens: { kind: "file", path }, openPaths: [] }, silent),
    ).rejects.toThrow(/listed twice/);
  });
});

describe("open paths", () => {
  it("by default the probes and /metrics are open; the API, /v1/cluster and unknown paths are not", async () => {
    await started(await tokensAuth());
    for (const path of ["/healthz", "/healthz/", "/readyz", "/metrics"]) {
      expect((await get(path, null)).status, path).not.toBe(401);
    }
    for (const path of ["/v1/cluster", "/v1/cluster/", "/v1/log", "/v1/log/0", "/v1/log/stream", "/nope"]) {
      await expectProblem(await get(path, null), 401, "unauthorized");
    }
    expect((await get("/v1/cluster", ALICE_TOKEN)).status).toBe(200);
  });

  it("/v1/cluster may be opened, /metrics closed", async () => {
    const auth = await tokensAuth();
    if (auth.mode !== "bearer") throw new Error("expected bearer auth");
    await started({ ...auth, openPaths: ["/v1/cluster"] });
    expect((await get("/v1/cluster", null)).status).toBe(200);
    await expectProblem(await get("/metrics", null), 401, "unauthorized");
    expect((await get("/metrics", READER_TOKEN)).status).toBe(200);
    // Only the path itself: the rest of the API stays closed.
    await expectProblem(await get("/v1/log", null), 401, "unauthorized");
  });

  it("a gateway given no authentication accepts no token (secure by default)", async () => {
    const app = createGatewayApp({ bus: cluster.bus, subjects: cluster.subjects, acceptorIds: ACCEPTOR_IDS });
    const server = await app.listen(0, "127.0.0.1");
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      await expectProblem(await fetch(`${url}/v1/log`), 401, "unauthorized");
      const withToken = await fetch(`${url}/v1/log`, { headers: { Authorization: `Bearer ${ALICE_TOKEN}` } });
      await expectProblem(withToken, 401, "invalidToken");
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await app.close();
    }
  });
});

describe("PAXOS_AUTH=none", () => {
  it("lets every request in as the client anonymous, and says so at warn", async () => {
    const lines: string[] = [];
    const logger = pino({ level: "warn" }, { write: (line: string) => lines.push(line) });
    const app = createGatewayApp({
      bus: cluster.bus,
      subjects: cluster.subjects,
      acceptorIds: ACCEPTOR_IDS,
      limits: TEST_LIMITS,
      auth: { mode: "none" },
      logger,
    });
    const server = await app.listen(0, "127.0.0.1");
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      expect(lines.join("")).toMatch(/"level":40.*AUTHENTICATION IS OFF/);
      const response = await postProposal(url, { value: 1 }, { token: null, key: "open" });
      expect(response.status).toBe(201);
      expect(leader.received.map((r) => r.requestId)).toEqual([scopedRequestId("anonymous", "open")]);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await app.close();
    }
  });
});

describe("Idempotency-Keys are scoped to the client", () => {
  beforeEach(async () => {
    await started(await tokensAuth());
  });

  it("the same key from two clients makes two entries, each answered with its own key", async () => {
    const fromAlice = await postProposal(gw?.url ?? "", { value: "a" }, { token: ALICE_TOKEN, key: "order-1" });
    const fromBob = await postProposal(gw?.url ?? "", { value: "b" }, { token: BOB_TOKEN, key: "order-1" });
    expect(fromAlice.status).toBe(201);
    expect(fromBob.status).toBe(201);
    expect(await fromAlice.json()).toEqual({ index: 0, value: "a", requestId: "order-1" });
    expect(await fromBob.json()).toEqual({ index: 1, value: "b", requestId: "order-1" });
    expect(cluster.log.entries.map((entry) => entry.requestId)).toEqual([
      keyedRequestId("order-1", "alice"),
      keyedRequestId("order-1", "bob"),
    ]);
  });

  it("another client's key and value are a new proposal, never that client's answer", async () => {
    const original = await postProposal(gw?.url ?? "", { value: "secret" }, { token: ALICE_TOKEN, key: "k" });
    expect(original.status).toBe(201);
    // Bob replays alice's request exactly: he gets an entry of his own, not alice's outcome.
    const replay = await postProposal(gw?.url ?? "", { value: "secret" }, { token: BOB_TOKEN, key: "k" });
    expect(replay.status).toBe(201);
    expect(replay.headers.get("idempotent-replayed")).toBeNull();
    expect(await replay.json()).toMatchObject({ index: 1 });
    // Probing with another value does not reveal that alice used the key (no 422).
    expect((await postProposal(gw?.url ?? "", { value: "guess" }, { token: BOB_TOKEN, key: "k2" })).status).toBe(201);
    // Alice's own retry is still her replay.
    const retry = await postProposal(gw?.url ?? "", { value: "secret" }, { token: ALICE_TOKEN, key: "k" });
    expect(retry.status).toBe(200);
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
    expect(await retry.json()).toEqual({ index: 0, value: "secret", requestId: "k" });
    expect(leader.received).toHaveLength(3);
  });

  it("a key in flight for one client is not in flight for another (no 409 across clients)", async () => {
    leader.deliverAfterMs = 300;
    const first = postProposal(gw?.url ?? "", { value: 1 }, { token: ALICE_TOKEN, key: "busy" });
    await expect.poll(() => leader.received.length).toBe(1);
    const other = await postProposal(gw?.url ?? "", { value: 1 }, { token: BOB_TOKEN, key: "busy" });
    expect(other.status).toBe(201);
    expect((await first).status).toBe(201);
  });
});

describe("rate limit per client", () => {
  const LIMITED = { rateLimitRequestsMax: 5, rateLimitWindowMs: 60_000 };

  it("beyond the limit a client gets 429 with Retry-After; another client and the probes are not limited", async () => {
    await started(await tokensAuth(), LIMITED);
    for (let i = 0; i < 5; i++) {
      const response = await get("/v1/log", ALICE_TOKEN);
      expect(response.status).toBe(200);
      expect(response.headers.get("ratelimit")).toMatch(new RegExp(`r=${4 - i}; t=\\d+`));
      expect(response.headers.get("ratelimit-policy")).toMatch(/q=5; w=60/);
    }
    const limited = await postProposal(gw?.url ?? "", { value: 1 }, { token: ALICE_TOKEN });
    const body = await expectProblem(limited, 429, "tooManyRequests");
    expect(body["detail"]).toMatch(/More than 5 requests/);
    const retryAfter = Number(limited.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(limited.headers.get("ratelimit")).toMatch(/r=0/);
    expect(leader.received).toEqual([]);

    expect((await get("/v1/log", BOB_TOKEN)).status).toBe(200);
    for (let i = 0; i < 10; i++) {
      expect((await get("/healthz", null)).status).toBe(200);
      expect((await get("/metrics", null)).status).toBe(200);
    }
  });

  it("requests refused 401 are not counted against anyone", async () => {
    await started(await tokensAuth(), LIMITED);
    for (let i = 0; i < 10; i++) await get("/v1/log", "not-a-known-token-at-all");
    expect((await get("/v1/log", ALICE_TOKEN)).status).toBe(200);
  });

  it("an open API path is limited per address", async () => {
    const auth = await tokensAuth();
    if (auth.mode !== "bearer") throw new Error("expected bearer auth");
    await started({ ...auth, openPaths: ["/v1/cluster"] }, { rateLimitRequestsMax: 2, rateLimitWindowMs: 60_000 });
    expect((await get("/v1/cluster", null)).status).toBe(200);
    expect((await get("/v1/cluster", null)).status).toBe(200);
    await expectProblem(await get("/v1/cluster", null), 429, "tooManyRequests");
    // An open path does not look at credentials: the address is limited, alice's own count is not.
    expect((await get("/v1/log", ALICE_TOKEN)).status).toBe(200);
  });

  it("0 turns it off", async () => {
    await started(await tokensAuth(), { rateLimitRequestsMax: 0 });
    for (let i = 0; i < 20; i++) {
      const response = await get("/v1/log", ALICE_TOKEN);
      expect(response.status).toBe(200);
      expect(response.headers.get("ratelimit")).toBeNull();
    }
  });
});

describe("refused credentials per address", () => {
  const WRONG = "not-a-known-token-at-all";

  it("an address refused authFailuresMax times gets 429 with Retry-After, even with a good token not seen before; probes and open paths do not", async () => {
    await started(await tokensAuth(), { authFailuresMax: 3, authFailureWindowMs: 60_000 });
    for (let i = 0; i < 3; i++) await expectProblem(await get("/v1/log", WRONG), 401, "invalidToken");
    await expectProblem(await get("/v1/log", null), 429, "tooManyRequests");
    const held = await get("/v1/log", ALICE_TOKEN);
    const body = await expectProblem(held, 429, "tooManyRequests");
    expect(body["detail"]).toMatch(/^3 requests from this address were refused for their credentials within 60000 ms/);
    const retryAfter = Number(held.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    await expectProblem(
      await postProposal(gw?.url ?? "", { value: 1 }, { token: ALICE_TOKEN }),
      429,
      "tooManyRequests",
    );
    expect(leader.received).toEqual([]);
    expect((await get("/healthz", null)).status).toBe(200);
    expect((await get("/metrics", null)).status).toBe(200);
  });

  it("credentials accepted lately still get through a hold-back, so one client cannot shut out others behind its address", async () => {
    await started(await tokensAuth(), { authFailuresMax: 2, authFailureWindowMs: 60_000, authKnownCredentialsMax: 1 });
    expect((await get("/v1/log", READER_TOKEN)).status).toBe(200);
    expect((await get("/v1/log", ALICE_TOKEN)).status).toBe(200);
    for (let i = 0; i < 2; i++) await expectProblem(await get("/v1/log", WRONG), 401, "invalidToken");
    // Alice's header was accepted last: it goes on, and is verified as usual (her POST needs write).
    expect((await get("/v1/log", ALICE_TOKEN)).status).toBe(200);
    expect((await postProposal(gw?.url ?? "", { value: 1 }, { token: ALICE_TOKEN })).status).toBe(201);
    // The reader's was forgotten (one is remembered), and bob's was never seen: held back.
    await expectProblem(await get("/v1/log", READER_TOKEN), 429, "tooManyRequests");
    await expectProblem(await get("/v1/log", BOB_TOKEN), 429, "tooManyRequests");
    await expectProblem(await get("/v1/log", WRONG), 429, "tooManyRequests");
  });

  it("the hold ends with its window", async () => {
    await started(await tokensAuth(), { authFailuresMax: 2, authFailureWindowMs: 300 });
    for (let i = 0; i < 2; i++) await expectProblem(await get("/v1/log", WRONG), 401, "invalidToken");
    await expectProblem(await get("/v1/log", ALICE_TOKEN), 429, "tooManyRequests");
    await expect.poll(async () => (await get("/v1/log", ALICE_TOKEN)).status, { timeout: 2_000 }).toBe(200);
  });

  it("answers other than 401 are not counted: successes and 403s", async () => {
    await started(await tokensAuth(), { authFailuresMax: 2, authFailureWindowMs: 60_000 });
    for (let i = 0; i < 5; i++) expect((await get("/v1/log", ALICE_TOKEN)).status).toBe(200);
    for (let i = 0; i < 3; i++) {
      const refused = await postProposal(gw?.url ?? "", { value: 1 }, { token: READER_TOKEN });
      await expectProblem(refused, 403, "insufficientScope");
    }
    expect((await get("/v1/log", ALICE_TOKEN)).status).toBe(200);
  });

  it("0 turns it off", async () => {
    await started(await tokensAuth(), { authFailuresMax: 0 });
    for (let i = 0; i < 10; i++) await expectProblem(await get("/v1/log", WRONG), 401, "invalidToken");
    expect((await get("/v1/log", ALICE_TOKEN)).status).toBe(200);
  });
});
