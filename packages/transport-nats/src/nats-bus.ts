import {
  ClosedConnectionError,
  connect,
  DrainingConnectionError,
  headers as natsHeaders,
  NoRespondersError,
  RequestError,
  TimeoutError,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
} from "@nats-io/transport-node";
import { BusError, type Bus, type BusMessage, type BusSubscription } from "@paxos/wire";
import { inboxPrefix } from "./permissions.ts";

/** A connection event worth a log line or a metric; reconnects are automatic and unlimited. */
export type NatsBusStatus =
  | { readonly type: "disconnect"; readonly server: string }
  | { readonly type: "reconnecting" }
  | { readonly type: "reconnect"; readonly server: string }
  | { readonly type: "staleConnection" }
  | { readonly type: "ldm"; readonly server: string }
  | { readonly type: "slowConsumer"; readonly subject: string; readonly pending: number }
  | { readonly type: "error"; readonly error: Error };

/** How to connect. Defaults suit a cluster on one network. */
export interface NatsBusOptions {
  /** Server URLs, such as `nats://127.0.0.1:4222`. */
  readonly servers: string | readonly string[];
  /** The client name the server shows (`connz`): the service and its id. */
  readonly name: string;
  /** Told of disconnects, reconnects and asynchronous errors. Must not throw. */
  readonly onStatus?: (status: NatsBusStatus) => void;
  /**
   * Told when a subscriber's handler throws. The default rethrows it outside the NATS client's
   * callback, so a broken invariant still reaches the process; handlers are not supposed to throw.
   */
  readonly onHandlerError?: (error: unknown, subject: string) => void;
  /** Pause between reconnect attempts (plus up to `reconnectJitterMs`); default 250. */
  readonly reconnectTimeWaitMs?: number;
  /** Random extra pause between reconnect attempts; default 250. */
  readonly reconnectJitterMs?: number;
  /** Client pings the server this often to detect a dead connection; default 5000. */
  readonly pingIntervalMs?: number;
  /** Unanswered pings after which the connection counts as stale and reconnects; default 2. */
  readonly pingsOutstandingMax?: number;
  /** Time to open the first connection; default 5000. */
  readonly connectTimeoutMs?: number;
  /**
   * Keep trying when no server answers at start instead of rejecting; default false, so a host
   * with a wrong URL fails fast with a clear error.
   */
  readonly waitOnFirstConnect?: boolean;
  /**
   * User name and password; without them the client connects anonymously. With them, replies
   * to this client's requests arrive under its own inbox prefix (permissions.ts `inboxPrefix`).
   */
  readonly credentials?: { readonly user: string; readonly password: string };
  /**
   * TLS: the CA that signs the server's certificate, and this client's own certificate and key
   * where the server asks for one. Without it, `tls://` URLs use the system's CAs.
   */
  readonly tls?: { readonly caFile?: string; readonly certFile?: string; readonly keyFile?: string };
  /**
   * Whether the server delivers this connection's own messages back to its subscriptions that
   * match them; default true, as NATS does. A service runs one role per connection and needs
   * none of its own (a leader's chosen and heartbeats, a learner's catch-ups), so the services
   * turn it off: each echo was a message in and a decode for nothing, once per slot at the leader.
   */
  readonly echo?: boolean;
}

/**
 * The Bus over core NATS (@nats-io/transport-node 3): at-most-once pub/sub, queue groups and
 * request/reply, with W3C trace context carried as message headers. The client reconnects
 * forever with a bounded wait; what is published while disconnected is buffered by the client
 * and may be lost, which Paxos tolerates. `close` drains: handlers finish what was received and
 * everything published reaches the server before the connection closes.
 */
export class NatsBus implements Bus {
  readonly #nc: NatsConnection;
  readonly #onHandlerError: (error: unknown, subject: string) => void;
  #connected = true;
  #closing: Promise<void> | null = null;

  private constructor(nc: NatsConnection, options: NatsBusOptions) {
    this.#nc = nc;
    this.#onHandlerError = options.onHandlerError ?? rethrowLater;
    void this.#watchStatus(options.onStatus);
  }

  /** Connects to NATS. Rejects (with the client's error) when no server answers in time. */
  static async connect(options: NatsBusOptions): Promise<NatsBus> {
    const servers = typeof options.servers === "string" ? options.servers : [...options.servers];
    const nc = await connect({
      servers,
      name: options.name,
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: options.reconnectTimeWaitMs ?? 250,
      reconnectJitter: options.reconnectJitterMs ?? 250,
      pingInterval: options.pingIntervalMs ?? 5_000,
      maxPingOut: options.pingsOutstandingMax ?? 2,
      timeout: options.connectTimeoutMs ?? 5_000,
      waitOnFirstConnect: options.waitOnFirstConnect ?? false,
      // Otherwise every request builds a RequestError and a TimeoutError up front, only for their
      // stacks: 8 % of the gateway's CPU under load (bench --profile). Our BusErrors name the
      // subject, which is what a timeout needs to say.
      noAsyncTraces: true,
      noEcho: options.echo === false,
      ...(options.credentials === undefined
        ? {}
        : { user: options.credentials.user, pass: options.credentials.password }),
      ...(options.tls === undefined ? {} : { tls: { ...options.tls } }),
      ...(options.credentials === undefined ? {} : { inboxPrefix: inboxPrefix(options.credentials.user) }),
    });
    return new NatsBus(nc, options);
  }

  /** True while connected to a server (false between a disconnect and the next reconnect). */
  get isConnected(): boolean {
    return this.#connected && this.#closing === null;
  }

  /** The server currently connected to, as `host:port`. */
  get server(): string {
    return this.#nc.getServer();
  }

  /**
   * Publishes at most once. While disconnected the client buffers the message for the next
   * connection. Throws BusError("closed") once closing, BusError("failed") on a payload the
   * server refuses (above its max_payload) or an invalid subject.
   */
  publish(subject: string, data: Uint8Array, headers?: Record<string, string>): void {
    try {
      const hdrs = toNatsHeaders(headers);
      this.#nc.publish(subject, data, hdrs === undefined ? undefined : { headers: hdrs });
    } catch (error) {
      throw this.#busError(error, `publish on ${subject}`);
    }
  }

  subscribe(subject: string, handler: (m: BusMessage) => void, opts?: { queue?: string }): BusSubscription {
    try {
      const subscription = this.#nc.subscribe(subject, {
        ...(opts?.queue === undefined ? {} : { queue: opts.queue }),
        callback: (error, msg) => {
          if (error !== null) {
            this.#onHandlerError(error, subject);
            return;
          }
          try {
            handler(toBusMessage(msg));
          } catch (thrown) {
            this.#onHandlerError(thrown, msg.subject);
          }
        },
      });
      return { unsubscribe: () => subscription.unsubscribe() };
    } catch (error) {
      throw this.#busError(error, `subscribe to ${subject}`);
    }
  }

  async request(
    subject: string,
    data: Uint8Array,
    opts: { timeoutMs: number; headers?: Record<string, string> },
  ): Promise<BusMessage> {
    try {
      const hdrs = toNatsHeaders(opts.headers);
      const reply = await this.#nc.request(subject, data, {
        timeout: opts.timeoutMs,
        ...(hdrs === undefined ? {} : { headers: hdrs }),
      });
      return toBusMessage(reply);
    } catch (error) {
      throw this.#busError(error, `request on ${subject}`);
    }
  }

  async requestMany(
    subject: string,
    data: Uint8Array,
    opts: { maxWaitMs: number; maxReplies?: number; headers?: Record<string, string> },
  ): Promise<BusMessage[]> {
    const replies: BusMessage[] = [];
    try {
      const hdrs = toNatsHeaders(opts.headers);
      const iterator = await this.#nc.requestMany(subject, data, {
        maxWait: opts.maxWaitMs,
        ...(opts.maxReplies === undefined
          ? { strategy: "timer" }
          : { strategy: "count", maxMessages: opts.maxReplies }),
        ...(hdrs === undefined ? {} : { headers: hdrs }),
      });
      for await (const msg of iterator) replies.push(toBusMessage(msg));
      return replies;
    } catch (error) {
      const busError = this.#busError(error, `request on ${subject}`);
      // Nobody (or nobody else) answering is an answer here: what arrived, possibly nothing.
      if (busError.code === "noResponders" || busError.code === "timeout") return replies;
      throw busError;
    }
  }

  async flush(): Promise<void> {
    try {
      await this.#nc.flush();
    } catch (error) {
      throw this.#busError(error, "flush");
    }
  }

  /** Drains and closes the connection. Idempotent: later calls wait for the same drain. */
  close(): Promise<void> {
    this.#closing ??= this.#nc.isClosed()
      ? Promise.resolve()
      : this.#nc.drain().catch(async () => {
          // Draining fails when the connection is already closing; make sure it is closed.
          await this.#nc.close();
        });
    return this.#closing;
  }

  async #watchStatus(onStatus: ((status: NatsBusStatus) => void) | undefined): Promise<void> {
    for await (const status of this.#nc.status()) {
      let event: NatsBusStatus | null = null;
      switch (status.type) {
        case "disconnect":
          this.#connected = false;
          event = { type: "disconnect", server: status.server };
          break;
        case "reconnect":
          this.#connected = true;
          event = { type: "reconnect", server: status.server };
          break;
        case "reconnecting":
          event = { type: "reconnecting" };
          break;
        case "staleConnection":
          event = { type: "staleConnection" };
          break;
        case "ldm":
          event = { type: "ldm", server: status.server };
          break;
        case "slowConsumer":
          event = { type: "slowConsumer", subject: status.sub.getSubject(), pending: status.pending };
          break;
        case "error":
          event = { type: "error", error: status.error };
          break;
        default:
          break;
      }
      if (event !== null && onStatus !== undefined) {
        try {
          onStatus(event);
        } catch (error) {
          this.#onHandlerError(error, "status");
        }
      }
    }
  }

  /** Maps a NATS client error onto the Bus's closed set of codes. */
  #busError(error: unknown, what: string): BusError {
    if (error instanceof BusError) return error;
    const code = this.#closing !== null || this.#nc.isClosed() ? "closed" : codeOf(error);
    const detail = error instanceof Error ? error.message : String(error);
    return new BusError(code, `${what}: ${detail}`, { cause: error });
  }
}

function codeOf(error: unknown): BusError["code"] {
  for (let cause = error, depth = 0; cause instanceof Error && depth < 5; cause = cause.cause, depth++) {
    if (cause instanceof TimeoutError) return "timeout";
    if (cause instanceof NoRespondersError) return "noResponders";
    if (cause instanceof RequestError && cause.isNoResponders()) return "noResponders";
    if (cause instanceof ClosedConnectionError || cause instanceof DrainingConnectionError) return "closed";
  }
  return "failed";
}

function toNatsHeaders(headers: Record<string, string> | undefined): MsgHdrs | undefined {
  if (headers === undefined) return undefined;
  const entries = Object.entries(headers);
  if (entries.length === 0) return undefined;
  const hdrs = natsHeaders();
  for (const [key, value] of entries) hdrs.set(key, value);
  return hdrs;
}

function toBusMessage(msg: Msg): BusMessage {
  const headers: Record<string, string> = {};
  if (msg.headers !== undefined) {
    for (const [key, values] of msg.headers) {
      const value = values[0];
      if (value !== undefined) headers[key] = value;
    }
  }
  return {
    subject: msg.subject,
    data: msg.data,
    headers,
    respond: (data, replyHeaders) => {
      // Requesters wait on inbox subjects. Any other reply subject would make this process
      // publish where the requester chose: refuse to be that deputy.
      if (msg.reply === undefined || !msg.reply.startsWith("_INBOX")) return false;
      try {
        const hdrs = toNatsHeaders(replyHeaders);
        return msg.respond(data, hdrs === undefined ? undefined : { headers: hdrs });
      } catch {
        // The connection closed under us: the reply is lost, as any message may be.
        return false;
      }
    },
  };
}

function rethrowLater(error: unknown): void {
  setImmediate(() => {
    throw error;
  });
}
