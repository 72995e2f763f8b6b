import { createPublicKey } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { createLocalJWKSet, type JSONWebKeySet, type JWK } from "jose";
import type { Logger } from "pino";
import { AuthSetupError, type GatewayAuth, type OpenPath } from "./authentication.ts";
import { AUTH_LIMITS } from "./gateway-limits.ts";
import { type JwtAlgorithm, jwtVerifier, remoteKeySet } from "./jwt-verifier.ts";
import { parseTokensFile, staticTokenVerifier } from "./static-tokens.ts";

/*
 * From configured authentication (what the gateway service reads from PAXOS_AUTH and friends) to
 * the GatewayAuth the app runs with: reads the tokens file or the key file, or prepares the
 * remote JWKS. This is the only part of authentication that touches the file system.
 */

/** Where a JWT's verification keys come from. */
export type JwtKeySource =
  /** A JWKS served over HTTP(S) by the identity provider (its `jwks_uri`). */
  | { readonly kind: "jwksUrl"; readonly url: string }
  /** A file holding one PEM public key (SPKI, `BEGIN PUBLIC KEY`), or a JWKS as JSON. */
  | { readonly kind: "keyFile"; readonly path: string };

/**
 * Where static tokens come from: a file (a mounted secret), or the text itself from a variable
 * (compose and other 12-factor setups inject secrets as environment), in the same line format.
 */
export type TokensSource =
  { readonly kind: "file"; readonly path: string } | { readonly kind: "env"; readonly text: string };

/** Authentication as configured; see the gateway service's config for the variables. */
export type AuthSettings =
  | { readonly mode: "none" }
  | { readonly mode: "tokens"; readonly tokens: TokensSource; readonly openPaths: readonly OpenPath[] }
  | {
      readonly mode: "jwt";
      readonly keys: JwtKeySource;
      readonly issuer: string;
      readonly audience: string;
      readonly algorithms: readonly JwtAlgorithm[];
      readonly openPaths: readonly OpenPath[];
    };

/**
 * Sets up `settings`: reads and checks the tokens or key file, or fetches the remote JWKS once
 * (a failure is only logged at warn: the identity provider may come up after the gateway, and
 * until it does every request needing a token is answered 503). Call it once at start, before
 * `createGatewayApp`. Throws AuthSetupError when a file is missing, too large or malformed; the
 * gateway must then not start.
 */
export async function loadGatewayAuth(settings: AuthSettings, logger: Logger): Promise<GatewayAuth> {
  switch (settings.mode) {
    case "none":
      return { mode: "none" };
    case "tokens": {
      const { tokens } = settings;
      const text = tokens.kind === "file" ? await readAuthFile("PAXOS_AUTH_TOKENS_FILE", tokens.path) : tokens.text;
      const source = tokens.kind === "file" ? tokens.path : "PAXOS_AUTH_TOKENS";
      const verifier = staticTokenVerifier(parseTokensFile(text, source));
      return { mode: "bearer", verifier, openPaths: settings.openPaths };
    }
    case "jwt": {
      const { issuer, audience, algorithms, openPaths } = settings;
      let keys;
      if (settings.keys.kind === "jwksUrl") {
        const url = new URL(settings.keys.url);
        const remote = remoteKeySet(url);
        await remote.reload().catch((error: unknown) => {
          // The host only: a URL may carry credentials.
          logger.warn(
            { err: error, jwksHost: url.host },
            "cannot fetch the JWKS yet; tokens are answered 503 until it can",
          );
        });
        keys = remote.keys;
      } else {
        const text = await readAuthFile("PAXOS_JWT_PUBLIC_KEY_FILE", settings.keys.path);
        keys = createLocalJWKSet(parseKeyFile(text, settings.keys.path));
      }
      return { mode: "bearer", verifier: jwtVerifier({ keys, issuer, audience, algorithms }), openPaths };
    }
  }
}

/** The text of the file at `path`, at most `authFileBytesMax`; throws AuthSetupError. */
async function readAuthFile(variable: string, path: string): Promise<string> {
  try {
    const { size } = await stat(path);
    if (size > AUTH_LIMITS.authFileBytesMax) {
      throw new AuthSetupError([`${variable}: ${path} is larger than ${AUTH_LIMITS.authFileBytesMax} bytes`]);
    }
    return await readFile(path, "utf8");
  } catch (error) {
    if (error instanceof AuthSetupError) throw error;
    const code = (error as NodeJS.ErrnoException).code ?? "unknown error";
    throw new AuthSetupError([`${variable}: ${path} cannot be read (${code})`]);
  }
}

/**
 * The JWKS of a key file: a PEM public key becomes a JWKS of that one key. Refuses private keys
 * (a PEM private key, a JWK with private members) and symmetric keys, which have no place in a
 * gateway that only verifies.
 */
export function parseKeyFile(text: string, path: string): JSONWebKeySet {
  if (text.trimStart().startsWith("-----BEGIN")) {
    if (!text.trimStart().startsWith("-----BEGIN PUBLIC KEY-----")) {
      throw new AuthSetupError([`${path} is not a PEM public key (want BEGIN PUBLIC KEY, SPKI)`]);
    }
    try {
      return { keys: [createPublicKey({ key: text, format: "pem" }).export({ format: "jwk" })] };
    } catch {
      throw new AuthSetupError([`${path} holds no valid PEM public key`]);
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new AuthSetupError([`${path} is neither a PEM public key nor a JWKS in JSON`]);
  }
  const keys: unknown = typeof parsed === "object" && parsed !== null ? (parsed as { keys?: unknown }).keys : undefined;
  if (!Array.isArray(keys) || keys.length === 0) {
    throw new AuthSetupError([`${path} is not a JWKS: want {"keys": [...]} with at least one key`]);
  }
  const problems = keys.flatMap((key: unknown, i) => {
    if (typeof key !== "object" || key === null) return [`${path}: key ${i + 1} is not a JWK`];
    const { kty } = key as { kty?: unknown };
    if (kty === "oct") return [`${path}: key ${i + 1} is a shared secret; only public keys are accepted`];
    if (["d", "p", "q", "dp", "dq", "qi", "k", "priv"].some((member) => Object.hasOwn(key, member))) {
      return [`${path}: key ${i + 1} is a private key; put only public keys in the file`];
    }
    return [];
  });
  if (problems.length > 0) throw new AuthSetupError(problems);
  return { keys: keys as JWK[] };
}
