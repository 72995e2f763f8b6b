import { createRemoteJWKSet, errors, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from "jose";
import { AuthSetupError, isValidClientId, SCOPES, type TokenCheck, type TokenVerifier } from "./authentication.ts";
import { AUTH_LIMITS } from "./gateway-limits.ts";
import { HttpProblem } from "./problem.ts";

/*
 * JWT bearer tokens (PAXOS_AUTH=jwt), verified with jose's `jwtVerify` against public keys only:
 * a JWKS fetched from the identity provider, or a public key or JWKS from a file. The algorithms
 * are pinned (never `none`, never an HMAC: a shared secret is not supported), and a token must
 * name the configured issuer and audience, carry an expiry (`exp`) and a subject (`sub`), the
 * client id. Its scopes come from `scope` (a space-separated string, OAuth 2.0 / RFC 8693) or
 * `scp` (a string or an array, as some identity providers write it).
 */

/** The JWS algorithms a gateway may allow: public-key signatures only. */
export const JWT_ALGORITHMS = [
  "ES256",
  "ES384",
  "ES512",
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "EdDSA",
  "Ed25519",
] as const;

export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];

/** What PAXOS_JWT_ALGORITHMS defaults to: the common signature algorithms of identity providers. */
export const DEFAULT_JWT_ALGORITHMS: readonly JwtAlgorithm[] = Object.freeze(["ES256", "RS256", "EdDSA"]);

/** What a JWT verifier checks tokens against. */
export interface JwtVerifierOptions {
  /**
   * Resolves a token's verification key from its header: jose's `createLocalJWKSet` (a key
   * file), or `remoteKeySet(url).keys`.
   */
  readonly keys: JWTVerifyGetKey;
  /** The `iss` every token must carry. */
  readonly issuer: string;
  /** The `aud` every token must carry (among others, when `aud` is an array). */
  readonly audience: string;
  /** The allowed `alg`s; a token signed otherwise is refused before any key is looked up. */
  readonly algorithms: readonly JwtAlgorithm[];
}

/** The keys of a remote JWKS could not be fetched, or were not a JWKS: no token can be checked now. */
class KeysUnavailable extends Error {
  override readonly name = "KeysUnavailable";
}

/**
 * A verifier of JWTs signed by `options.keys` (see the top of this file). A refusal names the
 * failed check in a fixed sentence, never a claim's value. Throws a 503 HttpProblem while a
 * remote JWKS cannot be fetched, and AuthSetupError when `algorithms` is empty or lists an
 * algorithm that is not a public-key signature.
 */
export function jwtVerifier(options: JwtVerifierOptions): TokenVerifier {
  const unsafe = options.algorithms.filter((alg) => !(JWT_ALGORITHMS as readonly string[]).includes(alg));
  if (options.algorithms.length === 0 || unsafe.length > 0) {
    throw new AuthSetupError([`the JWT algorithms must be some of ${JWT_ALGORITHMS.join(", ")}`]);
  }
  const verifyOptions = {
    algorithms: [...options.algorithms],
    issuer: options.issuer,
    audience: options.audience,
    clockTolerance: AUTH_LIMITS.jwtClockToleranceSeconds,
    requiredClaims: ["exp", "sub"],
  };
  return {
    verify: async (token: string): Promise<TokenCheck> => {
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, options.keys, verifyOptions));
      } catch (error) {
        if (error instanceof KeysUnavailable) {
          throw new HttpProblem("unavailable", "The identity provider's keys cannot be fetched now; retry later", {
            headers: { "Retry-After": String(AUTH_LIMITS.keysUnavailableRetryAfterSeconds) },
          });
        }
        return { valid: false, description: refusal(error) };
      }
      const { sub } = payload;
      if (typeof sub !== "string" || !isValidClientId(sub)) {
        return { valid: false, description: "The token's subject (sub) is not a valid client id" };
      }
      return { valid: true, client: { clientId: sub, scopes: scopesOf(payload), authenticated: true } };
    },
  };
}

/**
 * The keys of the JWKS at `url`, fetched when first needed and again after
 * `jwksCacheMaxAgeMs`, or when a token names an unknown key id (at most every `jwksCooldownMs`).
 * When the JWKS cannot be fetched or is malformed, a token is neither accepted nor refused: the
 * verifier answers 503. `reload` fetches it now (the gateway does at start, to warn early).
 */
export function remoteKeySet(url: URL): { readonly keys: JWTVerifyGetKey; reload(): Promise<void> } {
  const jwks = createRemoteJWKSet(url, {
    timeoutDuration: AUTH_LIMITS.jwksFetchTimeoutMs,
    cooldownDuration: AUTH_LIMITS.jwksCooldownMs,
    cacheMaxAge: AUTH_LIMITS.jwksCacheMaxAgeMs,
  });
  return {
    keys: async (header, token) => {
      try {
        return await jwks(header, token);
      } catch (error) {
        // No key, or two, for the token's `kid` and `alg`: the token's fault, not the provider's.
        if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) throw error;
        throw new KeysUnavailable("the JWKS cannot be fetched", { cause: error });
      }
    },
    reload: () => jwks.reload(),
  };
}

/** The RFC 6750 `error_description` for a token jose refused. */
function refusal(error: unknown): string {
  if (error instanceof errors.JWTExpired) return "The token has expired";
  if (error instanceof errors.JWTClaimValidationFailed) {
    switch (error.claim) {
      case "iss":
        return "The token's issuer is not accepted";
      case "aud":
        return "The token's audience is not accepted";
      case "exp":
        return "The token has no valid expiry (exp)";
      case "sub":
        return "The token has no subject (sub)";
      case "nbf":
        return "The token is not valid yet (nbf)";
      default:
        return "The token's claims are not valid";
    }
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return "The token's signing algorithm is not allowed";
  if (error instanceof errors.JWSSignatureVerificationFailed) return "The token's signature does not verify";
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) {
    return "No trusted key matches the token";
  }
  if (error instanceof errors.JOSENotSupported) return "The token's algorithm or key is not supported";
  return "The token is malformed";
}

/** The gateway's scopes a token grants, from `scope` and `scp`; others are ignored. */
function scopesOf(payload: JWTPayload): ReadonlySet<string> {
  const known: readonly string[] = [SCOPES.read, SCOPES.write];
  const granted = new Set<string>();
  for (const claim of [payload["scope"], payload["scp"]]) {
    const listed: readonly unknown[] = typeof claim === "string" ? claim.split(" ") : Array.isArray(claim) ? claim : [];
    for (const scope of listed) if (typeof scope === "string" && known.includes(scope)) granted.add(scope);
  }
  return granted;
}
