import { rm } from "node:fs/promises";
import { join } from "node:path";
import { listenPort } from "@paxos/host";
import type { ClusterCredentials } from "@paxos/transport-nats";
import type { ServerRegistry } from "./leftover-servers.ts";
import { natsReady, waitFor } from "./net-probes.ts";
import { makePrivateDir, writePrivateFile } from "./private-files.ts";
import type { Child, ProcessGroup } from "./process-group.ts";

/** How long nats-server may take to greet clients after it is started. */
const NATS_READY_TIMEOUT_MS = 15_000;

/** Where the nats-server of `npm start` keeps its configuration, and the passwords of its users. */
export function localNatsPaths(dataRoot: string): { readonly configFile: string; readonly credentialsDir: string } {
  const dir = join(dataRoot, "nats");
  return { configFile: join(dir, "nats.conf"), credentialsDir: join(dir, "credentials") };
}

/**
 * The configuration of the nats-server of `npm start`: it listens on loopback only and admits
 * only the users of `credentials`, each with its role's permissions (no anonymous client, no
 * default user).
 */
export function localNatsConfig(port: number, credentials: ClusterCredentials): string {
  return [
    "# Written by npm start at every start, with fresh passwords: edits here are lost.",
    "# It holds every process's NATS password, so only its owner may read it.",
    `listen: "127.0.0.1:${port}"`,
    credentials.authorization(),
  ].join("\n");
}

/**
 * Starts the nats-server of `npm start` on a free loopback port with localNatsConfig, written to
 * `<dataRoot>/nats/nats.conf` (0600) together with one password file per user in
 * `<dataRoot>/nats/credentials/<user>` (0600, in a 0700 folder) for an operator who wants to
 * connect as a role. Both are rewritten at every start. Records the server in `registry` and
 * resolves with its URL once it greets clients; throws if it exits or stays silent.
 */
export async function startLocalNats(
  group: ProcessGroup,
  servers: Child[],
  registry: ServerRegistry,
  dataRoot: string,
  credentials: ClusterCredentials,
): Promise<string> {
  const { configFile, credentialsDir } = localNatsPaths(dataRoot);
  const port = await listenPort();
  await makePrivateDir(join(dataRoot, "nats"));
  await writePrivateFile(configFile, localNatsConfig(port, credentials));
  // Files of users no longer in the topology would hold dead passwords: start the folder afresh.
  await rm(credentialsDir, { recursive: true, force: true });
  await makePrivateDir(credentialsDir);
  for (const { identity } of credentials.users) {
    const { user, password } = credentials.of(identity.role, identity.id);
    await writePrivateFile(join(credentialsDir, user), `${password}\n`);
  }
  const child = group.start({
    name: "nats",
    command: "nats-server",
    // Passwords go in the file, never on the command line: any local user may read that.
    args: ["-c", configFile],
    env: { PATH: process.env["PATH"] ?? "" },
    cwd: process.cwd(),
    // nats-server suggests bcrypt for the passwords in its file. The file is its owner's only and
    // the passwords are fresh at every start, as are the password files the operator reads.
    quiet: /Plaintext passwords detected/,
  });
  servers.push(child);
  if (child.pid !== undefined) {
    registry.add({ pid: child.pid, command: "nats-server", port, commandLineShows: configFile });
  }
  const failure = await waitFor(
    () => natsReady("127.0.0.1", port),
    () => (child.done ? "nats-server exited (see its output above)" : null),
    NATS_READY_TIMEOUT_MS,
  );
  if (failure !== null) throw new Error(`nats-server on port ${port}: ${failure}`);
  return `nats://127.0.0.1:${port}`;
}
