import { randomUUID } from "node:crypto";
import type { JsonValue } from "@paxos/core";
import {
  BusClusterClient,
  DeliveryWaiters,
  type GatewayLimits,
  gatewayLimits,
  GatewayMetrics,
  LeaderTracker,
  type Proposal,
  ProposalService,
  scopedRequestId,
} from "@paxos/gateway-app";
import { NatsBus, type NatsBusStatus } from "@paxos/transport-nats";
import { Subjects } from "@paxos/wire";
import { pino, type Logger } from "pino";
import { Registry } from "prom-client";
import { clientErrorOf, PaxosClientError, type StopReason, stoppedError } from "./client-error.ts";
import { type ClientSettings, clientSettings, type PaxosClientOptions } from "./client-options.ts";
import { checkIdempotencyKey, checkProposalValue } from "./proposal-value.ts";

/** How one `propose` call may be shaped. */
export interface ProposeOptions {
  /**
   * Makes the proposal idempotent: proposing the same key again (from this client name, through
   * any client or gateway) returns the first decision (`replayed` true) instead of deciding the
   * value twice; with another value it fails `conflict`. Without a key, every call is a new
   * proposal under a random request id.
   */
  readonly idempotencyKey?: string;
  /**
   * Stops waiting when it aborts: the call fails `aborted` (and the proposal, when it was sent,
   * may still be decided).
   */
  readonly signal?: AbortSignal;
}

/** A proposal that was decided: where it is in the log. */
export interface DecidedProposal {
  /** Its position (0-based) in the decided log, counting client values only. */
  readonly index: number;
  /**
   * The request id the log knows it by (what log reads and streams show): random without an
   * idempotency key, else derived from the client name and the key.
   */
  readonly requestId: string;
  /** True when the idempotency key had been decided before and this is that first decision. */
  readonly replayed: boolean;
  /** The decided value (equal, as JSON, to the one proposed). */
  readonly value: JsonValue;
}

/**
 * A native NATS client of the cluster: it proposes values straight to the leader, the way the
 * REST gateway does and with the same code (BusClusterClient, LeaderTracker, DeliveryWaiters and
 * ProposalService of @paxos/gateway-app), without HTTP. It follows the leader through "notLeader"
 * hints and failovers, retries with the same request id (which learners deliver once), waits for
 * the learners' delivery, and bounds every proposal by `proposalTimeoutMs`; refusals and
 * backpressure are PaxosClientErrors. Open it with `connect`, `close` it when done.
 */
export class PaxosClient {
  /** Where the client's metrics are (the one passed in `registry`, or its own). */
  readonly registry: Registry;
  readonly #bus: NatsBus;
  readonly #cluster: BusClusterClient;
  readonly #leaders: LeaderTracker;
  readonly #proposals: ProposalService;
  readonly #limits: GatewayLimits;
  readonly #clientName: string;
  readonly #clusterName: string;
  readonly #unsubscribeWaiters: () => void;
  readonly #closing = new AbortController();
  /** Proposals running now, so that `close` lets them end before the bus drains. */
  readonly #running = new Set<Promise<unknown>>();
  #closed: Promise<void> | null = null;

  private constructor(bus: NatsBus, settings: ClientSettings, logger: Logger) {
    this.#bus = bus;
    this.#clientName = settings.clientName;
    this.#clusterName = settings.cluster;
    this.#limits = gatewayLimits({ proposalTimeoutMs: settings.proposalTimeoutMs }, settings.protocolLimits);
    this.registry = settings.registry ?? new Registry();
    const metrics = new GatewayMetrics(this.registry);
    this.#leaders = new LeaderTracker({ staleMs: this.#limits.leaderStaleMs, now: () => Date.now() });
    this.#cluster = new BusClusterClient({
      bus,
      subjects: new Subjects(settings.cluster),
      acceptorIds: settings.acceptorIds,
      protocolLimits: settings.protocolLimits,
      learnerQueryWaitMs: this.#limits.learnerQueryWaitMs,
      onHeartbeat: (ballot) => this.#leaders.heartbeat(ballot),
      // The client shows no cluster status (BusClusterClient subscribes to the statuses anyway).
      onAcceptorStatus: () => undefined,
      onDrop: (reason, subject, detail) => {
        metrics.droppedMessages.inc({ reason });
        logger.debug({ reason, subject, detail }, "dropped a bus message");
      },
    });
    const waiters = new DeliveryWaiters();
    this.#unsubscribeWaiters = this.#cluster.onDelivery((event) => waiters.dispatch(event));
    this.#proposals = new ProposalService({
      cluster: this.#cluster,
      waiters,
      leaders: this.#leaders,
      limits: this.#limits,
      metrics,
      logger,
    });
  }

  /**
   * Checks `options`, connects to NATS as `options.user` and subscribes to proposer heartbeats
   * and learner deliveries; resolves once the server has confirmed the subscriptions. Rejects
   * with PaxosClientError: `invalidOptions`, `unauthorized` (user or password refused),
   * `forbidden` (the user may not subscribe to what a gateway reads) or `unreachable`. A leader
   * may not be known yet: `waitForLeader` waits for one (`propose` also waits, within its timeout).
   */
  static async connect(options: PaxosClientOptions): Promise<PaxosClient> {
    const settings = clientSettings(options);
    const logger = (settings.logger ?? pino({ level: "silent" })).child({ component: "paxos-client" });
    let refused: Error | null = null;
    const onRefused = (error: Error): void => {
      refused ??= error;
      logger.error({ err: error }, "NATS refused an operation: the user's permissions are not a gateway user's");
    };
    let bus: NatsBus;
    try {
      bus = await NatsBus.connect({
        servers: settings.servers,
        name: `paxos-client-${settings.clientName}`.slice(0, 128),
        credentials: { user: settings.user, password: settings.password },
        ...(settings.tls === null ? {} : { tls: settings.tls }),
        connectTimeoutMs: settings.connectTimeoutMs,
        onStatus: (status) => logStatus(logger, status, onRefused),
        onHandlerError: (error, subject) => {
          // A subscription the server refused ends with its error: a configuration problem of
          // this client, not a broken invariant of the process it runs in.
          if (error instanceof Error && error.name === "PermissionViolationError") onRefused(error);
          else rethrowLater(error, subject);
        },
      });
    } catch (error) {
      throw connectError(error, settings);
    }
    const client = new PaxosClient(bus, settings, logger);
    try {
      // The server answers a flush after the subscriptions before it: a refused one shows by then.
      await bus.flush();
      await new Promise((resolve) => setImmediate(resolve));
    } catch (error) {
      await client.close();
      throw connectError(error, settings);
    }
    if (refused !== null) {
      await client.close();
      throw new PaxosClientError(
        "forbidden",
        `NATS user ${settings.user} may not read what a client reads (${(refused as Error).message}): connect as a gateway user of the cluster, such as gateway-g1, on cluster ${settings.cluster}`,
        { cause: refused },
      );
    }
    logger.info({ user: settings.user, cluster: settings.cluster, server: bus.server }, "connected");
    return client;
  }

  /** True while connected to a NATS server (it reconnects by itself) and not closed. */
  get isConnected(): boolean {
    return this.#bus.isConnected && this.#closed === null;
  }

  /** The proposer believed to lead (the highest ballot heard lately), or null. */
  get leader(): string | null {
    return this.#leaders.leader()?.proposerId ?? null;
  }

  /** Proposals this client is waiting on now. */
  get inflight(): number {
    return this.#proposals.inflight;
  }

  /**
   * Resolves with the leading proposer's id once a heartbeat names one (at once when one is known).
   * Rejects with PaxosClientError `unavailable` when none is heard within `timeoutMs`, `aborted`
   * when `signal` aborts, `closed` when the client closes.
   */
  async waitForLeader(timeoutMs: number, signal?: AbortSignal): Promise<string> {
    if (!Number.isFinite(timeoutMs) || timeoutMs < 0) {
      throw new PaxosClientError("invalidOptions", "waitForLeader needs a timeout of 0 ms or more");
    }
    if (this.#closed !== null) throw stoppedError("closed", false, false);
    const stop = signal === undefined ? this.#closing.signal : AbortSignal.any([signal, this.#closing.signal]);
    const leader = await this.#leaders.waitForLeader(timeoutMs, stop);
    if (leader !== null) return leader.proposerId;
    if (this.#closing.signal.aborted) throw new PaxosClientError("closed", "The client was closed");
    if (aborted(signal)) throw new PaxosClientError("aborted", "The caller aborted the wait for a leader");
    throw new PaxosClientError(
      "unavailable",
      `No proposer heartbeat was heard within ${timeoutMs} ms: check that proposers run on cluster ${this.#clusterName} behind this NATS, and that a majority of acceptors is up`,
      { retryAfterSeconds: this.#limits.retryAfterSeconds },
    );
  }

  /**
   * Proposes `value` and resolves once the learners delivered it (or, for an idempotency key
   * decided before, with that decision). Rejects with PaxosClientError: `invalidProposal`,
   * `tooLarge`, `inFlight`, `conflict`, `unavailable` (with `retryAfterSeconds`), `outcomeUnknown`,
   * `aborted` or `closed`. Safe to call concurrently; at most the gateway's `inflightProposalsMax`
   * wait at once, more fail `unavailable`.
   */
  async propose(value: JsonValue, options: ProposeOptions = {}): Promise<DecidedProposal> {
    const checked = checkProposalValue(value, this.#limits.valueDepthMax);
    const key = options.idempotencyKey === undefined ? null : checkIdempotencyKey(options.idempotencyKey);
    const { signal } = options;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new PaxosClientError("invalidProposal", "signal must be an AbortSignal");
    }
    if (this.#closed !== null) throw stoppedError("closed", false, key !== null);
    if (signal?.aborted === true) throw stoppedError("aborted", false, key !== null);
    const proposal: Proposal =
      key === null
        ? { requestId: randomUUID(), value: checked, idempotencyKey: null }
        : { requestId: scopedRequestId(this.#clientName, key), value: checked, idempotencyKey: key };
    const stop = signal === undefined ? this.#closing.signal : AbortSignal.any([signal, this.#closing.signal]);
    const running = this.#proposals.submit(proposal, stop);
    this.#running.add(running);
    try {
      const result = await running;
      return {
        index: result.entry.index,
        requestId: proposal.requestId,
        replayed: result.replayed,
        value: result.entry.value,
      };
    } catch (error) {
      // Read after the await: either signal may have aborted meanwhile.
      const stopped: StopReason = this.#closing.signal.aborted ? "closed" : aborted(signal) ? "aborted" : "none";
      throw (
        clientErrorOf(error, {
          requestId: proposal.requestId,
          keyed: key !== null,
          stopped,
          retryAfterSeconds: this.#limits.retryAfterSeconds,
        }) ?? error
      );
    } finally {
      this.#running.delete(running);
    }
  }

  /**
   * Makes running proposals give up (they fail `closed`, unless decided meanwhile), waits for
   * them to end, unsubscribes, and drains the NATS connection. Later proposals fail `closed`.
   * Idempotent: later calls wait for the same close.
   */
  close(): Promise<void> {
    this.#closed ??= this.#shutdown();
    return this.#closed;
  }

  async #shutdown(): Promise<void> {
    this.#closing.abort();
    await Promise.allSettled([...this.#running]);
    this.#unsubscribeWaiters();
    this.#cluster.close();
    await this.#bus.close();
  }
}

/** True once `signal` (when there is one) has aborted. */
function aborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

/** Logs a connection event; a permission the server refused goes to `onRefused`. */
function logStatus(logger: Logger, status: NatsBusStatus, onRefused: (error: Error) => void): void {
  switch (status.type) {
    case "disconnect":
      logger.warn({ server: status.server }, "disconnected from NATS; reconnecting");
      break;
    case "reconnect":
      logger.info({ server: status.server }, "reconnected to NATS");
      break;
    case "reconnecting":
    case "ldm":
      logger.debug({ status: status.type }, "NATS connection event");
      break;
    case "staleConnection":
      logger.warn("NATS connection stale; reconnecting");
      break;
    case "slowConsumer":
      logger.warn({ subject: status.subject, pending: status.pending }, "slow consumer: NATS drops messages");
      break;
    case "error":
      if (status.error.name === "PermissionViolationError") onRefused(status.error);
      else logger.warn({ err: status.error }, "NATS error");
      break;
  }
}

/** The PaxosClientError of a failed connect: refused credentials, or no server answering. */
function connectError(error: unknown, settings: ClientSettings): PaxosClientError {
  const name = error instanceof Error ? error.name : "";
  const detail = error instanceof Error ? error.message : String(error);
  if (name === "AuthorizationError" || name === "UserAuthenticationExpiredError") {
    return new PaxosClientError(
      "unauthorized",
      `NATS refused user ${settings.user} (${detail}): check the user and password (a gateway user of the cluster, such as gateway-g1)`,
      { cause: error },
    );
  }
  const count = settings.servers.length;
  return new PaxosClientError(
    "unreachable",
    `Cannot connect to ${count === 1 ? "the NATS server" : `any of the ${count} NATS servers`} within ${settings.connectTimeoutMs} ms (${detail}): check the servers option and that NATS runs`,
    { cause: error },
  );
}

/** Throws `error` outside the NATS client's callback, so a broken invariant reaches the process. */
function rethrowLater(error: unknown, subject: string): void {
  setImmediate(() => {
    throw error instanceof Error ? error : new Error(`handler for ${subject} threw ${String(error)}`);
  });
}
