import { setTimeout as sleep } from "node:timers/promises";
import { BenchError, logTail, throwIfAborted } from "./bench-errors.ts";
import {
  ETCD_LEADER_TIMEOUT_MS,
  ETCD_RANGE_LIMIT,
  ETCD_READY_TIMEOUT_MS,
  ETCD_STATUS_TIMEOUT_MS,
  FIRST_PROPOSAL_TIMEOUT_MS,
  LOG_READ_TIMEOUT_MS,
  POLL_INTERVAL_MS,
} from "./bench-limits.ts";
import type { BenchWrite } from "./bench-write.ts";
import type { EtcdCluster, EtcdMember } from "./etcd-cluster.ts";
import { type StoredKey, valueKey } from "./exactly-once.ts";
import type { HttpWriteApi } from "./http-write-target.ts";
import { treeListensOn } from "./process-tree.ts";
import type { WriteOutcome } from "./write-target.ts";

/*
 * etcd's v3 API through its JSON gateway (grpc-gateway on the client port): bytes travel as
 * base64, 64-bit numbers as decimal strings. etcd 3.4 serves it under /v3/.
 */

/** Every key the bench writes starts with this, so a range read finds them all. */
export const ETCD_KEY_PREFIX = "bench/";

const base64 = (text: string): string => Buffer.from(text, "utf8").toString("base64");
const fromBase64 = (text: string): string => Buffer.from(text, "base64").toString("utf8");

/** The key of a bench write. */
export function etcdKey(write: BenchWrite): string {
  return `${ETCD_KEY_PREFIX}${write.writeId}`;
}

async function postJson(url: string, body: unknown, timeoutMs: number, signal: AbortSignal): Promise<unknown> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
  });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`${url} answered ${response.status}: ${text.slice(0, 200)}`);
  return JSON.parse(text) as unknown;
}

/** The member that is raft leader, asked of every member (`leader` equals its own `member_id`). */
export async function findEtcdLeader(cluster: EtcdCluster, signal: AbortSignal): Promise<EtcdMember> {
  const deadline = Date.now() + ETCD_LEADER_TIMEOUT_MS;
  let last = "no member answered";
  for (;;) {
    throwIfAborted(signal);
    for (const member of cluster.members) {
      try {
        const status = (await postJson(
          `${member.clientUrl}/v3/maintenance/status`,
          {},
          ETCD_STATUS_TIMEOUT_MS,
          signal,
        )) as { header?: { member_id?: string }; leader?: string };
        const self = status.header?.member_id;
        if (self !== undefined && status.leader !== undefined && status.leader === self) return member;
        last = `${member.name} says the leader is ${status.leader ?? "unknown"}`;
      } catch (error) {
        throwIfAborted(signal);
        last = `${member.name}: ${error instanceof Error ? error.message : String(error)}`;
      }
    }
    if (Date.now() > deadline) {
      throw new BenchError(
        `no etcd member says it is the leader within ${ETCD_LEADER_TIMEOUT_MS / 1000} s (${last}); logs: ` +
          cluster.members.map((m) => m.logPath).join(", "),
      );
    }
    await sleep(POLL_INTERVAL_MS);
  }
}

/**
 * Waits until every member answers GET /health with {"health":"true"} from its own process on
 * its client port, a leader is known, and one put through the leader succeeds. Throws BenchError
 * naming the member and its log when one exits or the bounds pass.
 */
export async function waitForEtcd(cluster: EtcdCluster, signal: AbortSignal): Promise<void> {
  for (const member of cluster.members) {
    const deadline = Date.now() + ETCD_READY_TIMEOUT_MS;
    let last: string;
    for (;;) {
      throwIfAborted(signal);
      try {
        const response = await fetch(`${member.clientUrl}/health`, {
          signal: AbortSignal.any([signal, AbortSignal.timeout(ETCD_STATUS_TIMEOUT_MS)]),
        });
        const text = await response.text();
        if (response.status === 200 && text.includes('"health":"true"')) break;
        last = `answered ${response.status} ${text.slice(0, 100)}`;
      } catch (error) {
        throwIfAborted(signal);
        last = error instanceof Error ? error.message : String(error);
      }
      const gone = cluster.exitReason();
      if (gone !== null || Date.now() > deadline) {
        const tail = logTail(member.logPath);
        throw new BenchError(
          `etcd member ${member.name} did not become healthy: ${gone ?? `not within ${ETCD_READY_TIMEOUT_MS / 1000} s (${last})`}.\n` +
            `  Its log: ${member.logPath}${tail === "" ? "" : `\n  Last lines:\n${tail}`}`,
        );
      }
      await sleep(POLL_INTERVAL_MS);
    }
    const port = Number(new URL(member.clientUrl).port);
    if (treeListensOn(member.pid, port) === false) {
      throw new BenchError(
        `${member.clientUrl}/health answered, but etcd member ${member.name} (pid ${member.pid}) does not listen on ` +
          `port ${port}: another program took the port first. Its log: ${member.logPath}`,
      );
    }
  }
  const leader = await findEtcdLeader(cluster, signal);
  const deadline = Date.now() + FIRST_PROPOSAL_TIMEOUT_MS;
  for (;;) {
    throwIfAborted(signal);
    try {
      await postJson(
        `${leader.clientUrl}/v3/kv/put`,
        { key: base64("bench-ready"), value: base64("ready") },
        ETCD_STATUS_TIMEOUT_MS,
        signal,
      );
      return;
    } catch (error) {
      throwIfAborted(signal);
      if (Date.now() > deadline) {
        throw new BenchError(
          `etcd's leader ${leader.name} did not take a first put: ${error instanceof Error ? error.message : String(error)}; its log: ${leader.logPath}`,
        );
      }
    }
    await sleep(POLL_INTERVAL_MS);
  }
}

/**
 * Bench writes as etcd puts: POST /v3/kv/put to `member` with the write's key (ETCD_KEY_PREFIX
 * and its id) and value; success is 200 with the put's revision in `header.revision`.
 */
export function etcdPutApi(member: EtcdMember): HttpWriteApi {
  return {
    origin: member.clientUrl,
    path: "/v3/kv/put",
    headers: { "content-type": "application/json" },
    body: (write) => JSON.stringify({ key: base64(etcdKey(write)), value: base64(write.value) }),
    answer: (statusCode, body, write): WriteOutcome => {
      if (statusCode !== 200) return { ok: false, error: `status ${statusCode}` };
      try {
        const revision = Number((JSON.parse(body) as { header?: { revision?: string } }).header?.revision);
        if (!Number.isSafeInteger(revision)) return { ok: false, error: "bad answer" };
        return { ok: true, position: revision, requestId: etcdKey(write) };
      } catch {
        return { ok: false, error: "bad answer" };
      }
    },
  };
}

interface RangeAnswer {
  readonly kvs?: readonly {
    readonly key: string;
    readonly value?: string;
    readonly mod_revision: string;
    readonly version: string;
  }[];
  readonly more?: boolean;
}

/**
 * Reads every key under ETCD_KEY_PREFIX from `member` (a linearizable range read), in pages of
 * ETCD_RANGE_LIMIT keys, and hands each to `onKey`. Resolves with how many it read.
 */
export async function readEtcdKeys(
  member: EtcdMember,
  onKey: (key: StoredKey) => void,
  signal: AbortSignal,
): Promise<number> {
  // Keys sort bytewise: the range [prefix, prefix with its last byte + 1) is every key under it.
  const end = `${ETCD_KEY_PREFIX.slice(0, -1)}${String.fromCharCode(ETCD_KEY_PREFIX.charCodeAt(ETCD_KEY_PREFIX.length - 1) + 1)}`;
  let from = ETCD_KEY_PREFIX;
  let read = 0;
  for (;;) {
    throwIfAborted(signal);
    const page = (await postJson(
      `${member.clientUrl}/v3/kv/range`,
      { key: base64(from), range_end: base64(end), limit: ETCD_RANGE_LIMIT },
      LOG_READ_TIMEOUT_MS,
      signal,
    )) as RangeAnswer;
    const kvs = page.kvs ?? [];
    for (const kv of kvs) {
      onKey({
        key: fromBase64(kv.key),
        modRevision: Number(kv.mod_revision),
        version: Number(kv.version),
        valueKey: valueKey(fromBase64(kv.value ?? "")),
      });
    }
    read += kvs.length;
    const last = kvs[kvs.length - 1];
    if (page.more !== true || last === undefined) return read;
    // The next page starts just after the last key read.
    from = `${fromBase64(last.key)}\u0000`;
  }
}
