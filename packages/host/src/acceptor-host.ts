import { type AcceptorStore, DEFAULT_LIMITS, InvariantViolation, type Limits, type Transport } from "@paxos/core";
import {
  AcceptorDriver,
  type AcceptorEvent,
  type Clock,
  DEFAULT_HOST_LIMITS,
  drivenAcceptorStore,
  type HostLimits,
} from "@paxos/drivers";
import type { AcceptorStatus } from "@paxos/wire";
import type { Histogram } from "prom-client";
import { Counter, Gauge, type Registry } from "prom-client";
import type { Readiness } from "./admin-server.ts";
import { EXIT_CODES } from "./exit-codes.ts";
import type { FatalHandler } from "./fatal.ts";
import { type DropReporter, dropReporter } from "./drops.ts";
import type { Logger } from "./logger.ts";
import { exemplarHistogram, observeTraced } from "@paxos/telemetry";
import { droppedMessagesCounter, STORAGE_SECONDS_BUCKETS } from "./metrics.ts";
import { realClock } from "./real-clock.ts";

/** How an AcceptorHost is set up. */
export interface AcceptorHostOptions {
  readonly acceptorId: string;
  /**
   * Makes a fresh, unopened store. Called at start and again after every failed write: a store
   * is opened once (RedisAcceptorStore refuses a second open), and the acceptor is rebuilt from
   * what a new one loads. `firstOpen` is false once a store has opened in this process: from then
   * on the store must NOT initialise an empty storage (PAXOS_ACCEPTOR_INIT), since storage that
   * was ours and is now empty was wiped, and voting from it is amnesia.
   */
  readonly createStore: (options: { readonly firstOpen: boolean }) => AcceptorStore;
  readonly transport: Transport;
  readonly logger: Logger;
  readonly registry: Registry;
  /** Called with this acceptor's status every `statusIntervalMs` (and must not throw). */
  readonly publishStatus: (status: AcceptorStatus) => void;
  /** Called on a broken invariant or a storage refusal; the default in services exits. */
  readonly onFatal: FatalHandler;
  readonly limits?: Limits;
  readonly hostLimits?: Partial<HostLimits>;
  /** Default 1,000. */
  readonly statusIntervalMs?: number;
  readonly clock?: Clock;
}

/**
 * Runs one AcceptorDriver (the deterministic step, persist, then send loop around the core
 * Acceptor) with real timers, a Promise-based store, prom-client metrics and pino logs, and
 * publishes its status every second. See AcceptorDriver for the durability contract.
 */
export class AcceptorHost {
  readonly acceptorId: string;
  readonly #options: AcceptorHostOptions;
  readonly #log: Logger;
  readonly #metrics: AcceptorMetrics;
  readonly #drops: DropReporter;
  readonly #driver: AcceptorDriver;
  readonly #clock: Clock;
  #statusTimer: { cancel(): void } | null = null;
  /** Resolves `start` once the first open has settled one way or the other. */
  #firstOpenSettled: (() => void) | null = null;
  #stopped = false;

  constructor(options: AcceptorHostOptions) {
    this.acceptorId = options.acceptorId;
    this.#options = options;
    this.#log = options.logger;
    this.#metrics = acceptorMetrics(options.registry);
    this.#drops = dropReporter(options.registry, options.logger);
    this.#clock = options.clock ?? realClock;
    this.#driver = new AcceptorDriver({
      acceptorId: options.acceptorId,
      clock: this.#clock,
      transport: options.transport,
      createStore: (open) =>
        drivenAcceptorStore(options.createStore(open), (error) =>
          this.#log.warn({ err: error }, "closing the store failed"),
        ),
      limits: options.limits ?? DEFAULT_LIMITS,
      hostLimits: { ...DEFAULT_HOST_LIMITS, ...options.hostLimits },
      onEvent: (event) => this.#onEvent(event),
    });
  }

  /**
   * Subscribes, opens the store and starts publishing status. Resolves once the first open has
   * settled: voting, retrying an unavailable store in the background (not ready meanwhile), or
   * refused (amnesia, notDurable, corrupt: `onFatal` with exit code 78).
   */
  async start(): Promise<void> {
    const settled = new Promise<void>((resolve) => (this.#firstOpenSettled = resolve));
    this.#driver.start();
    const intervalMs = this.#options.statusIntervalMs ?? 1_000;
    const publish = (): void => {
      this.#publishStatus();
      this.#statusTimer = this.#clock.setTimer(intervalMs, publish);
    };
    this.#statusTimer = this.#clock.setTimer(intervalMs, publish);
    await settled;
    this.#publishStatus();
  }

  /** True while the acceptor votes (store open, last write succeeded). */
  get voting(): boolean {
    return this.#driver.voting;
  }

  /** What `/readyz` reports: ready while voting. */
  readiness(): Readiness {
    const reason = this.#driver.notVotingReason;
    return {
      ready: this.voting,
      detail: {
        acceptorId: this.acceptorId,
        storage: this.#driver.storage,
        voting: this.voting,
        ...(reason === null ? {} : { reason }),
      },
    };
  }

  /** This acceptor's status as published on the bus. `promised` is what is on disk. */
  status(): AcceptorStatus {
    return {
      acceptorId: this.acceptorId,
      promised: this.#driver.promised,
      acceptedSlots: this.#driver.acceptedSlots,
      storage: this.#driver.storage,
    };
  }

  /** Stops intake and the status timer, drops what waits and closes the store. */
  stop(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    this.#stopped = true;
    this.#statusTimer?.cancel();
    this.#driver.stop();
    this.#settleFirstOpen();
    return Promise.resolve();
  }

  #onEvent(event: AcceptorEvent): void {
    const metrics = this.#metrics;
    switch (event.kind) {
      case "stepped":
        metrics.messages.inc({ type: event.type });
        break;
      case "voted":
        metrics.votes.inc({ vote: event.vote });
        break;
      case "dropped":
        this.#drops(event.reason, event.detail);
        break;
      case "written":
        observeTraced(metrics.writeSeconds, event.durationMs / 1000, {}, event.traceId);
        metrics.promisedRound.set(event.write.promised.round);
        break;
      case "writeFailed":
        metrics.storageFailures.inc();
        metrics.voting.set(0);
        if (event.droppedMessages > 0) metrics.dropped.inc({ reason: "notVoting" }, event.droppedMessages);
        this.#log.error(
          { err: event.error, droppedMessages: event.droppedMessages },
          "store write failed: not voting until the store is re-opened",
        );
        this.#publishStatus();
        break;
      case "openFailed":
        this.#log.warn({ err: event.error, retryInMs: event.retryInMs }, "store unavailable: not voting; will retry");
        this.#settleFirstOpen();
        break;
      case "voting":
        metrics.voting.set(1);
        metrics.promisedRound.set(event.promised.round);
        this.#log.info({ promised: event.promised, acceptedSlots: event.acceptedSlots }, "store open: voting");
        this.#settleFirstOpen();
        break;
      case "fatal":
        metrics.voting.set(0);
        this.#settleFirstOpen();
        this.#options.onFatal(
          event.error,
          event.cause === "storageRefused" && !(event.error instanceof InvariantViolation)
            ? EXIT_CODES.storageRefused
            : EXIT_CODES.invariant,
        );
        break;
    }
  }

  #settleFirstOpen(): void {
    this.#firstOpenSettled?.();
    this.#firstOpenSettled = null;
  }

  #publishStatus(): void {
    if (this.#stopped) return;
    try {
      this.#options.publishStatus(this.status());
    } catch (error) {
      this.#log.warn({ err: error }, "status publish failed");
    }
  }
}

interface AcceptorMetrics {
  readonly messages: Counter<"type">;
  readonly dropped: Counter<"reason">;
  readonly writeSeconds: Histogram;
  readonly votes: Counter<"vote">;
  readonly storageFailures: Counter;
  readonly promisedRound: Gauge;
  readonly voting: Gauge;
}

function acceptorMetrics(registry: Registry): AcceptorMetrics {
  const registers = [registry];
  return {
    messages: new Counter({
      name: "paxos_acceptor_messages_total",
      help: "Messages the acceptor stepped, by type.",
      labelNames: ["type"],
      registers,
    }),
    dropped: droppedMessagesCounter(registry),
    writeSeconds: exemplarHistogram(registry, {
      name: "paxos_acceptor_storage_write_seconds",
      help: "Time to make one promise or accept durable (the acceptor's fsync latency).",
      buckets: [...STORAGE_SECONDS_BUCKETS],
    }),
    votes: new Counter({
      name: "paxos_acceptor_votes_total",
      help: "Votes this acceptor sent, by kind (promise, accepted, nack), each after its write was durable.",
      labelNames: ["vote"],
      registers,
    }),
    storageFailures: new Counter({
      name: "paxos_acceptor_storage_failures_total",
      help: "Store writes that failed or timed out (the acceptor then stops voting and re-opens).",
      registers,
    }),
    promisedRound: new Gauge({
      name: "paxos_acceptor_promised_round",
      help: "Round of the highest ballot this acceptor has promised, as on disk.",
      registers,
    }),
    voting: new Gauge({
      name: "paxos_acceptor_voting",
      help: "1 while the acceptor votes (store open), 0 otherwise.",
      registers,
    }),
  };
}
