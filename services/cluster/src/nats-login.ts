import { readFileSync } from "node:fs";
import { join } from "node:path";
import { redactedUrl } from "@paxos/host";
import type { ClusterCredentials } from "@paxos/transport-nats";
import { type ClusterRole, clusterUser } from "@paxos/wire";
import { clusterIdentities, type ExternalNatsAuth } from "./topology.ts";

/**
 * The environment variables with which service `role`/`id` logs in to the cluster's NATS. They
 * go in the child's environment, never on its command line: any local user may read a command
 * line (/proc/<pid>/cmdline), only the owner its environment.
 */
export type NatsLogin = (role: ClusterRole, id: string) => Readonly<Record<string, string>>;

/** Logins on the launcher's own nats-server: each process's user and its fresh password. */
export function ownNatsLogin(credentials: ClusterCredentials): NatsLogin {
  return (role, id) => credentials.env(role, id);
}

/**
 * Logins on a NATS given by NATS_URL, as the operator chose (launcherConfig): each process's
 * user with NATS_PASSWORD_FILE in PAXOS_NATS_CREDENTIALS_DIR, or no login at all. Throws, naming
 * them, when password files are missing or empty, so that the launcher stops before any service
 * starts.
 */
export function externalNatsLogin(auth: ExternalNatsAuth): NatsLogin {
  switch (auth.kind) {
    case "anonymous":
      return () => ({ PAXOS_DEV_NATS_ANONYMOUS: "1" });
    case "passwordFiles": {
      const missing = clusterIdentities()
        .map(({ role, id }) => clusterUser(role, id))
        .filter((user) => !holdsSecret(join(auth.dir, user)));
      if (missing.length > 0) {
        throw new Error(
          `PAXOS_NATS_CREDENTIALS_DIR (${auth.dir}) needs a non-empty password file for each of: ${missing.join(", ")}`,
        );
      }
      return (role, id) => {
        const user = clusterUser(role, id);
        return { NATS_USER: user, NATS_PASSWORD_FILE: join(auth.dir, user) };
      };
    }
  }
}

/**
 * The banner's lines on how the cluster's NATS is guarded: where the passwords are, and that
 * anonymous clients are refused; or, for an external NATS used without authentication, a warning
 * that cannot be missed. `credentialsDir` is the launcher's folder of password files (own NATS).
 */
export function natsSecurityLines(
  natsUrl: string | null,
  auth: ExternalNatsAuth | null,
  credentialsDir: string,
): string[] {
  if (natsUrl === null || auth === null) {
    return [
      `  NATS: anonymous clients are refused; every process logs in as its own user, passwords in ${credentialsDir}/`,
    ];
  }
  switch (auth.kind) {
    case "passwordFiles":
      return [`  NATS: every process logs in to ${redactedUrl(natsUrl)} as its own user, passwords in ${auth.dir}/`];
    case "anonymous":
      return [`  ${anonymousNatsWarning(natsUrl)}`];
  }
}

/** Said at start and in the banner when the services use an external NATS without logging in. */
export function anonymousNatsWarning(natsUrl: string): string {
  return (
    `WARNING: NATS WITHOUT AUTHENTICATION (PAXOS_DEV_NATS_ANONYMOUS=1): anyone who reaches ${redactedUrl(natsUrl)} ` +
    "can vote as any acceptor or propose as any proposer. Development only."
  );
}

function holdsSecret(path: string): boolean {
  try {
    return readFileSync(path, "utf8").trim() !== "";
  } catch {
    return false;
  }
}
