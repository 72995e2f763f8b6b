import type { Request, RequestHandler } from "express";
import { AUTH_LIMITS } from "./gateway-limits.ts";
import { HttpProblem } from "./problem.ts";

/*
 * Who may call the gateway: every request but the probes (`/healthz`, `/readyz`) and the open
 * paths (by default `/metrics`, which Prometheus scrapes) carries a bearer token (RFC 6750,
 * `Authorization: Bearer <token>`). A TokenVerifier turns the token into a client id and scopes:
 * POST needs the scope `paxos:write`, every other method `paxos:read`. The errors follow RFC 6750,
 * section 3, as problems:
 * - no bearer credentials (no Authorization header, or another scheme): 401 `unauthorized` with
 *   `WWW-Authenticate: Bearer realm="paxos"`, no error code;
 * - a malformed, forged, expired or otherwise refused token: 401 `invalidToken` with
 *   `error="invalid_token"` and a fixed `error_description` (never the token, never its claims);
 * - a valid token without the scope: 403 `insufficientScope` with `error="insufficient_scope"`
 *   and the scope it needs.
 * Every path needs a token unless it is open, so a route added later is never open by accident.
 */

/** The scopes a token may grant: `read` for every GET (and any method but POST), `write` for POST. */
export const SCOPES = Object.freeze({ read: "paxos:read", write: "paxos:write" });

/** The realm of every challenge. */
const REALM = "paxos";

/**
 * The client a request came from. `authenticated` is false only for the fixed client
 * "anonymous" of `mode: "none"`: such requests are rate-limited by address, not by client.
 */
export interface ClientIdentity {
  /** The client's id (a JWT's `sub`, a static token's client): it scopes Idempotency-Keys. */
  readonly clientId: string;
  readonly scopes: ReadonlySet<string>;
  readonly authenticated: boolean;
}

/**
 * What a TokenVerifier says of a token: the client it identifies, or why it is refused, as an
 * RFC 6750 `error_description` (a fixed sentence of printable ASCII without `"` or `\`).
 */
export type TokenCheck =
  { readonly valid: true; readonly client: ClientIdentity } | { readonly valid: false; readonly description: string };

/**
 * Checks bearer tokens (jwt-verifier.ts, static-tokens.ts). `verify` resolves with a TokenCheck
 * for any token, however malformed; it throws (an HttpProblem, 503) only when it cannot decide
 * now, for example while the identity provider's keys cannot be fetched.
 */
export interface TokenVerifier {
  verify(token: string): Promise<TokenCheck>;
}

/** The paths that may be served without a token, besides the probes. */
export type OpenPath = "/metrics" | "/v1/cluster";

/**
 * How the gateway authenticates clients. `bearer`: every request but the probes and `openPaths`
 * needs a token that `verifier` accepts. `none` (development only): every request is the client
 * "anonymous" with every scope.
 */
export type GatewayAuth =
  | { readonly mode: "bearer"; readonly verifier: TokenVerifier; readonly openPaths: readonly OpenPath[] }
  | { readonly mode: "none" };

/** The client of `mode: "none"`. */
export const ANONYMOUS: ClientIdentity = Object.freeze({
  clientId: "anonymous",
  scopes: new Set([SCOPES.read, SCOPES.write]),
  authenticated: false,
});

/** Paths served to anyone, always: orchestrators probe them without credentials. */
const PROBE_PATHS: ReadonlySet<string> = new Set(["/healthz", "/readyz"]);

/** The token of `Authorization: Bearer <b64token>` (RFC 6750, 2.1). */
const B64_TOKEN = /^[A-Za-z0-9._~+/-]+=*$/;

/** The authenticated client of each request, set by `authenticate`. */
const clients = new WeakMap<Request, ClientIdentity>();

/**
 * The client `authenticate` let `req` in as; null on the probes and open paths, which are served
 * without a token.
 */
export function clientOf(req: Request): ClientIdentity | null {
  return clients.get(req) ?? null;
}

/** The path as the router matches it: without one trailing slash (routes are not strict). */
function routedPath(path: string): string {
  return path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
}

/** True for the probes and the open paths of `auth`: served without looking at credentials. */
export function isOpenPath(auth: GatewayAuth, path: string): boolean {
  const routed = routedPath(path);
  if (PROBE_PATHS.has(routed)) return true;
  return auth.mode === "bearer" && (auth.openPaths as readonly string[]).includes(routed);
}

/**
 * The middleware that authenticates each request by `auth` and remembers its client for
 * `clientOf`; mounted before every route. Refusals are HttpProblems (see the top of this file);
 * a verifier that cannot decide now makes the request fail with its problem (503).
 */
export function authenticate(auth: GatewayAuth): RequestHandler {
  return async (req, _res, next) => {
    if (isOpenPath(auth, req.path)) return next();
    if (auth.mode === "none") {
      clients.set(req, ANONYMOUS);
      return next();
    }
    const token = bearerToken(req.get("Authorization"));
    const check = await auth.verifier.verify(token);
    if (!check.valid) throw invalidToken(check.description);
    const needed = req.method === "POST" ? SCOPES.write : SCOPES.read;
    if (!check.client.scopes.has(needed)) {
      throw new HttpProblem("insufficientScope", `This request needs a token with the scope ${needed}`, {
        headers: { "WWW-Authenticate": challenge({ error: "insufficient_scope", scope: needed }) },
      });
    }
    clients.set(req, check.client);
    next();
  };
}

/**
 * The token of an `Authorization: Bearer` header. Throws 401 `unauthorized` when there are no
 * bearer credentials, 401 `invalidToken` when they are malformed or longer than the limit.
 */
function bearerToken(header: string | undefined): string {
  const space = header?.indexOf(" ") ?? -1;
  const scheme = header === undefined ? "" : header.slice(0, space < 0 ? undefined : space);
  // The scheme is case-insensitive (RFC 9110, 11.1); another scheme is no bearer credentials at all.
  if (scheme.toLowerCase() !== "bearer") {
    throw new HttpProblem("unauthorized", "Send a bearer token: Authorization: Bearer <token>", {
      headers: { "WWW-Authenticate": challenge({}) },
    });
  }
  const token = space < 0 || header === undefined ? "" : header.slice(space + 1);
  if (token.length > AUTH_LIMITS.bearerTokenCharsMax) throw invalidToken("The token is longer than the limit");
  if (!B64_TOKEN.test(token)) throw invalidToken("The Authorization header is not Bearer and one token");
  return token;
}

function invalidToken(description: string): HttpProblem {
  return new HttpProblem("invalidToken", description, {
    headers: { "WWW-Authenticate": challenge({ error: "invalid_token", description }) },
  });
}

/** A `Bearer` challenge (RFC 6750, 3) with the realm and, for a refusal, its error. */
function challenge(params: { error?: string; description?: string; scope?: string }): string {
  const parts = [`realm="${REALM}"`];
  if (params.error !== undefined) parts.push(`error="${params.error}"`);
  if (params.description !== undefined) parts.push(`error_description="${params.description}"`);
  if (params.scope !== undefined) parts.push(`scope="${params.scope}"`);
  return `Bearer ${parts.join(", ")}`;
}

/**
 * True for a client id the gateway accepts: 1 to `clientIdCharsMax` characters of well-formed
 * Unicode without control characters. (Request ids hash its UTF-8; a lone surrogate would make
 * two ids hash alike.)
 */
export function isValidClientId(clientId: string): boolean {
  return (
    clientId.length > 0 &&
    clientId.length <= AUTH_LIMITS.clientIdCharsMax &&
    clientId.isWellFormed() &&
    // eslint-disable-next-line no-control-regex
    !/[\u0000-\u001f\u007f-\u009f]/.test(clientId)
  );
}

/**
 * Authentication cannot be set up as configured: a tokens or key file is missing, unreadable or
 * malformed. `problems` name each one (a file and line, never a token or a key). The gateway
 * must not start.
 */
export class AuthSetupError extends Error {
  override readonly name = "AuthSetupError";
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`authentication cannot be set up:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.problems = problems;
  }
}
