import type { BenchWrite } from "./bench-write.ts";

/**
 * How one write ended. `ok`: the system acknowledged it and said where it put it (`position`:
 * the log index of ours, the revision of etcd's) under which `requestId` (the request id of ours,
 * the key of etcd's). Otherwise `error` names the kind of failure, as the report groups them:
 * `status 503`, `timeout`, `connection refused`, `bad answer`, ...
 */
export type WriteOutcome =
  | { readonly ok: true; readonly position: number; readonly requestId: string }
  | { readonly ok: false; readonly error: string };

/** One client's way of sending writes, one at a time: for HTTP, one keep-alive connection. */
export interface WriteChannel {
  /** Sends `write` and resolves with how it ended; never rejects. */
  send(write: BenchWrite, signal: AbortSignal): Promise<WriteOutcome>;
  /** Closes the connection; sends no more. */
  close(): Promise<void>;
}

/** A system's write API as the load generator drives it. */
export interface WriteTarget {
  /** Shown in progress lines and the report, e.g. "POST http://127.0.0.1:2379/v3/kv/put". */
  readonly description: string;
  /** A new channel (for HTTP a new connection, made on its first request). */
  openChannel(): WriteChannel;
}
