import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { PaxosClient } from "@paxos/client";
import type { Limits } from "@paxos/core";
import { BenchError } from "./bench-errors.ts";
import { NATS_CLIENT_CONNECT_TIMEOUT_MS } from "./bench-limits.ts";
import type { WriteChannel, WriteOutcome, WriteTarget } from "./write-target.ts";

/** The NATS user the native client logs in as: the gateway's, as issue 11 asks. */
export const NATS_CLIENT_USER = "gateway-g1";

/** The acceptors of the `npm start` cluster (services/cluster/src/topology.ts). */
const ACCEPTOR_IDS = ["a1", "a2", "a3"] as const;

/** Where and as whom to reach the NATS of a running `npm start` cluster. */
export interface NatsLogin {
  /** nats://127.0.0.1:<port>, from the `listen` line of `<data>/nats/nats.conf`. */
  readonly server: string;
  /** PAXOS_CLUSTER of its services, from the gateway's "gateway listening ... cluster=" log line. */
  readonly cluster: string;
  readonly user: string;
  /** From `<data>/nats/credentials/gateway-g1`, which the launcher writes at every start. */
  readonly password: string;
}

/**
 * Finds how to reach the NATS of the cluster whose data folder is `dataRoot` and whose launcher
 * logs to `logPath`, as the launcher left it: the server's address in its configuration, the
 * cluster name in the gateway's log line, the gateway user's password in its password file.
 * Throws BenchError naming the file that lacks what it looked for.
 */
export async function findNatsLogin(dataRoot: string, logPath: string): Promise<NatsLogin> {
  const configFile = join(dataRoot, "nats", "nats.conf");
  const config = await readFile(configFile, "utf8").catch(() => "");
  const listen = /^listen:\s*"?([^"\s]+)"?\s*$/m.exec(config)?.[1];
  if (listen === undefined) throw new BenchError(`no listen line in ${configFile}: is the cluster in local mode?`);
  const log = await readFile(logPath, "utf8").catch(() => "");
  const cluster = /gateway listening\b.*\bcluster=([A-Za-z0-9_-]+)/.exec(log)?.[1];
  if (cluster === undefined) {
    throw new BenchError(
      `the cluster's log ${logPath} has no "gateway listening ... cluster=" line to take the cluster name from`,
    );
  }
  const passwordFile = join(dataRoot, "nats", "credentials", NATS_CLIENT_USER);
  const password = (await readFile(passwordFile, "utf8").catch(() => "")).trim();
  if (password === "") throw new BenchError(`no password in ${passwordFile}`);
  return { server: `nats://${listen}`, cluster, user: NATS_CLIENT_USER, password };
}

/** A connected native client as a WriteTarget; `close` it when the system's load is over. */
export interface NatsWriteTarget extends WriteTarget {
  close(): Promise<void>;
}

/**
 * Connects @paxos/client's PaxosClient to the cluster and waits until it knows a leader. Every
 * channel proposes through this one client (one NATS connection, as an application would hold:
 * NATS multiplexes the requests), each write's value as a JSON string. Throws BenchError when
 * packages/client is missing or the client cannot connect.
 */
export async function connectNatsWriteTarget(
  login: NatsLogin,
  signal: AbortSignal,
  limits: Partial<Limits> = {},
): Promise<NatsWriteTarget> {
  let clientClass: typeof PaxosClient;
  try {
    ({ PaxosClient: clientClass } = await import("@paxos/client"));
  } catch (error) {
    throw new BenchError(
      `packages/client is missing or does not load (${messageOf(error)}): the paxos-nats system needs @paxos/client`,
    );
  }
  const where = `${login.server} as ${login.user} on cluster ${login.cluster}`;
  let client: PaxosClient;
  try {
    client = await clientClass.connect({
      servers: login.server,
      user: login.user,
      password: login.password,
      cluster: login.cluster,
      acceptorIds: ACCEPTOR_IDS,
      connectTimeoutMs: NATS_CLIENT_CONNECT_TIMEOUT_MS,
      limits,
    });
  } catch (error) {
    throw new BenchError(`the native NATS client could not connect to ${where}: ${messageOf(error)}`);
  }
  try {
    await client.waitForLeader(NATS_CLIENT_CONNECT_TIMEOUT_MS, signal);
  } catch (error) {
    await client.close();
    throw new BenchError(`the native NATS client connected to ${where} but heard no leader: ${messageOf(error)}`);
  }
  const channel: WriteChannel = {
    send: async (write, sendSignal): Promise<WriteOutcome> => {
      try {
        const decided = await client.propose(write.value, { signal: sendSignal });
        return { ok: true, position: decided.index, requestId: decided.requestId };
      } catch (error) {
        const code = (error as { code?: unknown } | null)?.code;
        return { ok: false, error: typeof code === "string" ? `client ${code}` : "client error" };
      }
    },
    close: () => Promise.resolve(),
  };
  return {
    description: `PaxosClient.propose over ${login.server} as ${login.user}`,
    openChannel: () => channel,
    close: () => client.close(),
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
