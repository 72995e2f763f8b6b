// What compose.test.ts and k8s.test.ts check about NATS logins, whatever the deployment: the
// authorization block a nats-server reads (parsed from the text natsAuthorization writes), that a
// service logs in as a user of that block with exactly its role's permissions on its own cluster's
// subjects, and that nats-server itself accepts the configuration (`nats-server -t`).
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NatsClientConfig } from "@paxos/host";
import { rolePermissions } from "@paxos/transport-nats";
import { type ClusterRole, Subjects } from "@paxos/wire";

/** One user of an authorization block: its password is an environment reference or a literal. */
export interface AuthorizationUser {
  readonly user: string;
  readonly password: { readonly env: string } | { readonly literal: string };
  readonly permissions: unknown;
}

const USER_LINE =
  /^\s*\{ user: ("(?:[^"\\]|\\.)*"), password: (\$[A-Za-z_][A-Za-z0-9_]*|"(?:[^"\\]|\\.)*"), permissions: (\{.*\}) \},?$/;

/**
 * The users of the `authorization { users: [...] }` block in `text`, one per line as
 * natsAuthorization writes them; a line of the block in any other shape is a problem.
 */
export function parseAuthorization(text: string): { users: AuthorizationUser[]; problems: string[] } {
  const users: AuthorizationUser[] = [];
  const problems: string[] = [];
  const lines = text.split("\n");
  const start = lines.findIndex((line) => line.trim() === "users: [");
  if (!/^authorization \{$/m.test(text) || start < 0)
    return { users, problems: ["no authorization { users: [ … ] } block"] };
  for (const line of lines.slice(start + 1)) {
    if (line.trim() === "]") break;
    const match = USER_LINE.exec(line);
    if (match === null) {
      problems.push(`unreadable user line: ${line.trim()}`);
      continue;
    }
    const [, user = "", password = "", permissions = ""] = match;
    users.push({
      user: JSON.parse(user) as string,
      password: password.startsWith("$") ? { env: password.slice(1) } : { literal: JSON.parse(password) as string },
      permissions: JSON.parse(permissions) as unknown,
    });
  }
  for (const { user, password } of users) {
    if ("literal" in password) problems.push(`user ${user}: a literal password in the configuration`);
  }
  const names = users.map((u) => u.user);
  if (new Set(names).size !== names.length) problems.push("a user is listed twice");
  return { users, problems };
}

/** The parts of a service's parsed configuration (its own config reader's result) a login check reads. */
export interface ServiceLogin {
  readonly cluster: string;
  readonly nats: NatsClientConfig;
}

/**
 * The NATS user `login` connects as, checked against the server's `users`: it has a password
 * (not anonymous), its URL carries no credentials, and it is a user of the block named
 * `<role>-<id>` with exactly rolePermissions(its cluster, role/id). Returns the user (or null)
 * and the problems.
 */
export function loginProblems(
  where: string,
  role: ClusterRole,
  login: ServiceLogin,
  users: readonly AuthorizationUser[],
): { user: string | null; problems: string[] } {
  const credentials = login.nats.credentials;
  if (credentials === null) return { user: null, problems: [`${where}: connects to NATS without a user`] };
  const problems: string[] = [];
  const url = new URL(login.nats.url);
  if (url.username !== "" || url.password !== "") problems.push(`${where}: NATS_URL carries credentials`);
  const { user } = credentials;
  const entry = users.find((u) => u.user === user);
  if (!user.startsWith(`${role}-`)) problems.push(`${where}: NATS user ${user} is not a ${role}'s (${role}-<id>)`);
  else if (entry === undefined) problems.push(`${where}: NATS user ${user} is not in the server's configuration`);
  else {
    const expected = rolePermissions(new Subjects(login.cluster), { role, id: user.slice(role.length + 1) });
    if (JSON.stringify(entry.permissions) !== JSON.stringify(expected)) {
      problems.push(`${where}: NATS user ${user} does not have the ${role} permissions of cluster ${login.cluster}`);
    }
  }
  return { user, problems };
}

/** Users of the block that no process logs in as: one user per process identity, no spares. */
export function unusedUserProblems(users: readonly AuthorizationUser[], used: ReadonlySet<string>): string[] {
  return users.filter(({ user }) => !used.has(user)).map(({ user }) => `NATS user ${user}: no process logs in as it`);
}

/**
 * `nats-server -c <main> -t` over `files` (name → text, written into one folder, as mounted) with
 * exactly `env` as its environment, as the container gives it: [] when the server accepts the
 * configuration, else its complaint.
 */
export function natsServerProblems(
  files: Readonly<Record<string, string>>,
  main: string,
  env: Record<string, string>,
): string[] {
  const dir = mkdtempSync(join(tmpdir(), "paxos-nats-config-"));
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    const result = spawnSync("nats-server", ["-c", join(dir, main), "-t"], {
      encoding: "utf8",
      env: { PATH: process.env["PATH"] ?? "", ...env },
    });
    if (result.error !== undefined) {
      throw new Error(
        `nats-server could not run (${result.error.message}): apt-get install nats-server (.ci/run installs it)`,
      );
    }
    return result.status === 0 ? [] : [`nats-server -t: ${result.stdout}${result.stderr}`.trim()];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
