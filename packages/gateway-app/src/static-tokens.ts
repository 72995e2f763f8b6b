import { hash, timingSafeEqual } from "node:crypto";
import {
  AuthSetupError,
  type ClientIdentity,
  isValidClientId,
  SCOPES,
  type TokenCheck,
  type TokenVerifier,
} from "./authentication.ts";
import { AUTH_LIMITS } from "./gateway-limits.ts";

/*
 * Static bearer tokens, for development and small deployments (PAXOS_AUTH=tokens). The tokens
 * file has one client per line:
 *
 *     # <client-id> <token> [<scope> ...]
 *     alice  9bW1u3hQv0iVf1nq5lJx2A   paxos:read paxos:write
 *     grafana  e0Kx7Tgq2c5mR8sLp1ZyWd  paxos:read
 *
 * Fields are separated by spaces or tabs; blank lines and lines starting with `#` are ignored. A
 * token is at least `staticTokenCharsMin` characters of RFC 6750's b64token alphabet (letters,
 * digits and `-._~+/`, then `=` padding), unique in the file; a client may have several (to
 * rotate one). The scopes are `paxos:read` and `paxos:write`; a line without any grants both.
 */

/** One client's token and the scopes it grants. */
export interface StaticToken {
  readonly clientId: string;
  readonly token: string;
  readonly scopes: readonly string[];
}

const B64_TOKEN = /^[A-Za-z0-9._~+/-]+=*$/;
const KNOWN_SCOPES: readonly string[] = [SCOPES.read, SCOPES.write];

/**
 * A verifier accepting exactly `tokens`. It compares SHA-256 digests of the tokens with
 * `timingSafeEqual`, and always compares against every token, so the time an answer takes tells
 * nothing about how much of a guess was right, nor which token matched. Throws AuthSetupError
 * for an empty list, an invalid entry or a token listed twice.
 */
export function staticTokenVerifier(tokens: readonly StaticToken[]): TokenVerifier {
  const problems = tokens.flatMap((entry, i) => {
    const problem = staticTokenProblem(entry);
    return problem === null ? [] : [`token ${i + 1} (client ${JSON.stringify(entry.clientId)}): ${problem}`];
  });
  if (tokens.length === 0) problems.push("no tokens are configured");
  const digests = tokens.map((entry) => sha256(entry.token));
  digests.forEach((digest, i) => {
    if (digests.findIndex((other) => other.equals(digest)) < i) problems.push(`token ${i + 1} is listed twice`);
  });
  if (problems.length > 0) throw new AuthSetupError(problems);
  const known = tokens.map((entry) => ({
    digest: sha256(entry.token),
    client: { clientId: entry.clientId, scopes: new Set(entry.scopes), authenticated: true } satisfies ClientIdentity,
  }));
  return {
    verify: (token: string): Promise<TokenCheck> => {
      const digest = sha256(token);
      let found: ClientIdentity | null = null;
      for (const entry of known) {
        if (timingSafeEqual(entry.digest, digest)) found ??= entry.client;
      }
      return Promise.resolve(
        found === null ? { valid: false, description: "The token is not known" } : { valid: true, client: found },
      );
    },
  };
}

/**
 * The tokens of a tokens file's `text` (format at the top of this file). Throws AuthSetupError
 * naming `source` and the line of every malformed entry; the message never shows a token.
 */
export function parseTokensFile(text: string, source: string): StaticToken[] {
  const tokens: StaticToken[] = [];
  const problems: string[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    const fields = line.trim().split(/[ \t]+/);
    const [clientId = "", token, ...scopes] = fields;
    if (clientId === "" || clientId.startsWith("#")) return;
    const entry = { clientId, token: token ?? "", scopes: scopes.length > 0 ? scopes : KNOWN_SCOPES };
    const problem = token === undefined ? "has no token" : staticTokenProblem(entry);
    if (problem === null) tokens.push(entry);
    else problems.push(`${source} line ${i + 1}: ${problem}`);
  });
  if (problems.length > 0) throw new AuthSetupError(problems);
  return tokens;
}

/** What is wrong with one entry, or null; never shows the token. */
function staticTokenProblem(entry: StaticToken): string | null {
  if (!isValidClientId(entry.clientId)) {
    return `the client id must be 1 to ${AUTH_LIMITS.clientIdCharsMax} characters without control characters`;
  }
  if (!B64_TOKEN.test(entry.token) || entry.token.length > AUTH_LIMITS.bearerTokenCharsMax) {
    return "the token must be letters, digits and -._~+/ (then = padding)";
  }
  if (entry.token.length < AUTH_LIMITS.staticTokenCharsMin) {
    return `the token is shorter than ${AUTH_LIMITS.staticTokenCharsMin} characters`;
  }
  // The scope is not shown: on a line with a stray space it may be the rest of a token.
  const unknown = entry.scopes.findIndex((scope) => !KNOWN_SCOPES.includes(scope));
  if (unknown >= 0) return `scope ${unknown + 1} is none of ${KNOWN_SCOPES.join(", ")}`;
  return null;
}

/** One-shot: on every request, so without a Hash object's setup (3 % of the gateway's CPU). */
function sha256(text: string): Buffer {
  return hash("sha256", text, "buffer");
}
