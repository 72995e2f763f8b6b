import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** The one API client `npm start` sets up: its id, as the gateway logs and scopes it. */
export const LOCAL_CLIENT_ID = "dev";

/** Where `npm start` keeps its API credentials, under the data folder. */
export interface LocalApiToken {
  /** The bearer token of client `dev`, which may read and propose. */
  readonly token: string;
  /** `<dataRoot>/api-token`: the token alone, for `$(cat …)` in a shell. */
  readonly tokenFile: string;
  /** `<dataRoot>/gateway-tokens`: the gateway's PAXOS_AUTH_TOKENS_FILE. */
  readonly tokensFile: string;
}

/**
 * The local cluster's API token: made once (random, 0600) and kept in the data folder, so that
 * scripts keep working across restarts; delete the file for a new one. The gateway runs with
 * PAXOS_AUTH=tokens over `tokensFile`.
 */
export async function localApiToken(dataRoot: string): Promise<LocalApiToken> {
  await mkdir(dataRoot, { recursive: true });
  const tokenFile = join(dataRoot, "api-token");
  const tokensFile = join(dataRoot, "gateway-tokens");
  let token = (await readFile(tokenFile, "utf8").catch(() => "")).trim();
  if (token === "") {
    token = randomBytes(32).toString("base64url");
    await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
  }
  await writeFile(
    tokensFile,
    `# Written by npm start from ${tokenFile} at every start: <client-id> <token> [scopes]\n${LOCAL_CLIENT_ID} ${token}\n`,
    { mode: 0o600 },
  );
  // writeFile's mode applies to new files only.
  await chmod(tokenFile, 0o600);
  await chmod(tokensFile, 0o600);
  return { token, tokenFile, tokensFile };
}
