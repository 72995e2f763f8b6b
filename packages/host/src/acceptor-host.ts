import { performance } from "node:perf_hooks";
import {
  Acceptor,
  AcceptorStoreError,
  type AcceptorStore,
  type Ballot,
  type Endpoint,
  InvariantViolation,
  type Message,
  type Transport,
  ZERO_BALLOT,
} from "@paxos/core";
import type { AcceptorStatus } from "@paxos/wire";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { Readiness } from "./admin-server.ts";
import { EXIT_CODES } from "./exit-codes.ts";
import type { FatalHandler } from "./fatal.ts";
import type { Logger } from "./logger.ts";
import { droppedMessagesCounter, STORAGE_SECONDS_BUCKETS } from "./metrics.ts";
import { SerialQueue } from "./serial-queue.ts";
import { sleep, withTimeout } from "./timing.ts";

/** How an AcceptorHost is set up. */
export interface AcceptorHostOptions {
  readonly acceptorId: string;
  /**
   * Makes a fresh, unopened store. Called at start and again after every failed write: a store
   * is opened once (RedisAcceptorStore refuses a second open), and the host rebuilds the
   * acceptor from what a new one loads. `firstOpen` is false once a store has opened in this
   * process: from then on the store must NOT initialise an empty storage (PAXOS_ACCEPTOR_INIT),
   * since storage that was ours and is now empty was wiped, and voting from it is amnesia.
   */
  readonly createStore: (options: { readonly firstOpen: boolean }) => AcceptorStore;
  readonly transport: Transport;
  readonly logger: Logger;
  readonly registry: Registry;
  /** Called with this acceptor's status every `statusIntervalMs` (and must not throw). */
  readonly publishStatus: (status: AcceptorStatus) => void;
  /** Called on a broken invariant or a storage refusal; the default in services exits. */
  readonly onFatal: FatalHandler;
  /** Inbound messages waiting to be stepped; more are dropped and counted. Default 10,000. */
  readonly queueMessagesMax?: number;
  /** Default 1,000. */
  readonly statusIntervalMs?: number;
  /** A write that has not finished after this long counts as failed. Default 5,000. */
  readonly writeTimeoutMs?: number;
  /** First and last wait between attempts to re-open an unavailable store. Defaults 200 and 5,000. */
  readonly reopenBackoffMinMs?: number;
  readonly reopenBackoffMaxMs?: number;
}

/** Store failures that no retry can fix: the acceptor must not vote until an operator looks. */
const REFUSALS: ReadonlySet<string> = new Set(["amnesia", "notDurable", "corrupt"]);

/**
 * Runs one core Acceptor over a Transport and an AcceptorStore. Messages are handled one at a
 * time through a bounded serial queue: step the acceptor, await the store write when the step has
 * one, and only then publish the replies. If a write fails or times out nothing is sent (not even
 * a nack), the acceptor stops voting, and the host re-opens the store and rebuilds the acceptor
 * from what is on disk before voting again: the in-memory state may be ahead of the disk.
 */
export class AcceptorHost {
  readonly acceptorId: string;
  readonly #options: AcceptorHostOptions;
  readonly #endpoint: Endpoint;
  readonly #log: Logger;
  readonly #queue: SerialQueue;
  readonly #metrics: AcceptorMetrics;

  /** The acceptor while voting; null while the store is not open (or failed). */
  #acceptor: Acceptor | null = null;
  /** The store the acceptor writes to; replaced by a fresh one on every re-open. */
  #store: AcceptorStore | null = null;
  /** The promise known to be on disk: what status reports. */
  #durablePromised: Ballot = ZERO_BALLOT;
  /**
   * Slots with an accepted value on disk, for status. Kept here because the core's `state` copies
   * its whole map, too costly to call every second on a long log.
   */
  #durableSlots = new Set<number>();
  #storage: "ok" | "unavailable" = "unavailable";
  /** Why the acceptor does not vote, for /readyz and logs; null while voting. */
  #notVotingReason: string | null = "store not opened yet";
  #subscription: { unsubscribe(): void } | null = null;
  #statusTimer: NodeJS.Timeout | null = null;
  #reopening = false;
  /** True once a store has opened: later stores may not initialise an empty storage. */
  #openedOnce = false;
  #stopped = false;

  constructor(options: AcceptorHostOptions) {
    this.acceptorId = options.acceptorId;
    this.#options = options;
    this.#endpoint = { role: "acceptor", id: options.acceptorId };
    this.#log = options.logger;
    this.#queue = new SerialQueue(options.queueMessagesMax ?? 10_000, (error) => this.#fatal(error));
    this.#metrics = acceptorMetrics(options.registry);
  }

  /**
   * Opens the store and starts voting, subscribes to the transport and starts publishing status.
   * A store that is unavailable is retried in the background (not ready meanwhile); a refusal
   * (amnesia, notDurable, corrupt) goes to `onFatal` with exit code 78.
   */
  async start(): Promise<void> {
    this.#subscription = this.#options.transport.subscribe(this.#endpoint, (msg, context) =>
      this.#enqueue(msg, context),
    );
    this.#statusTimer = setInterval(() => this.#publishStatus(), this.#options.statusIntervalMs ?? 1_000);
    this.#statusTimer.unref();
    if (!(await this.#open())) this.#reopenInBackground();
    this.#publishStatus();
  }

  /** True while the acceptor votes (store open, last write succeeded). */
  get voting(): boolean {
    return this.#acceptor !== null;
  }

  /** What `/readyz` reports: ready while voting. */
  readiness(): Readiness {
    return {
      ready: this.voting,
      detail: {
        acceptorId: this.acceptorId,
        storage: this.#storage,
        voting: this.voting,
        ...(this.#notVotingReason === null ? {} : { reason: this.#notVotingReason }),
      },
    };
  }

  /** This acceptor's status as published on the bus. `promised` is what is on disk. */
  status(): AcceptorStatus {
    return {
      acceptorId: this.acceptorId,
      promised: this.#durablePromised,
      acceptedSlots: this.#durableSlots.size,
      storage: this.#storage,
    };
  }

  /** Stops intake, lets the message being handled finish, drops the rest and closes the store. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#subscription?.unsubscribe();
    if (this.#statusTimer !== null) clearInterval(this.#statusTimer);
    this.#queue.clear();
    await this.#queue.drain();
    this.#acceptor = null;
    await this.#closeStore();
  }

  #enqueue(msg: Message, context: Readonly<Record<string, string>>): void {
    if (this.#acceptor === null) {
      this.#metrics.dropped.inc({ reason: "notVoting" });
      return;
    }
    if (!this.#queue.push(() => this.#handle(msg, context))) this.#metrics.dropped.inc({ reason: "queueFull" });
  }

  async #handle(msg: Message, context: Readonly<Record<string, string>>): Promise<void> {
    const acceptor = this.#acceptor;
    const store = this.#store;
    if (acceptor === null || store === null || this.#stopped) {
      this.#metrics.dropped.inc({ reason: "notVoting" });
      return;
    }
    this.#metrics.messages.inc({ type: msg.type });
    // A throw here is an InvariantViolation (or a core bug): the queue hands it to #fatal.
    const step = acceptor.receive(msg, performance.now());
    if (step.refused !== null) this.#metrics.dropped.inc({ reason: step.refused.reason });
    if (step.persist !== null) {
      const endTimer = this.#metrics.writeSeconds.startTimer();
      try {
        await withTimeout(store.write(step.persist), this.#options.writeTimeoutMs ?? 5_000, "store write");
      } catch (error) {
        // A write the store finds malformed is a bug here or in the core, not an outage.
        if (error instanceof InvariantViolation) throw error;
        this.#storageFailed(error);
        return;
      } finally {
        endTimer();
      }
      this.#durablePromised = step.persist.promised;
      if (step.persist.accept !== null) this.#durableSlots.add(step.persist.accept.slot);
      this.#metrics.promisedRound.set(step.persist.promised.round);
    }
    for (const out of step.send) this.#options.transport.publish(this.#endpoint, out, context);
  }

  /** A write failed: say nothing, stop voting, and rebuild from the store before voting again. */
  #storageFailed(error: unknown): void {
    this.#metrics.storageFailures.inc();
    this.#acceptor = null;
    this.#storage = "unavailable";
    this.#notVotingReason = `store write failed: ${errorText(error)}`;
    this.#metrics.voting.set(0);
    const dropped = this.#queue.clear();
    if (dropped > 0) this.#metrics.dropped.inc({ reason: "notVoting" }, dropped);
    this.#log.error(
      { err: error, droppedMessages: dropped },
      "store write failed: not voting until the store is re-opened",
    );
    this.#publishStatus();
    this.#reopenInBackground();
  }

  /** Opens the store and builds the acceptor from it. Returns false when it should be retried. */
  async #open(): Promise<boolean> {
    if (this.#stopped) return true;
    let acceptor: Acceptor;
    let slots: Set<number>;
    await this.#closeStore();
    const store = this.#options.createStore({ firstOpen: !this.#openedOnce });
    this.#store = store;
    try {
      const state = await store.open();
      this.#openedOnce = true;
      acceptor = new Acceptor(this.acceptorId, state);
      slots = new Set(state.accepted.keys());
    } catch (error) {
      await this.#closeStore();
      if (error instanceof AcceptorStoreError && REFUSALS.has(error.code)) {
        this.#storage = "unavailable";
        this.#notVotingReason = `storage refused (${error.code}): ${error.message}`;
        this.#options.onFatal(error, EXIT_CODES.storageRefused);
        return true; // nothing to retry
      }
      if (!(error instanceof AcceptorStoreError)) {
        // The Acceptor constructor's invariant (a restored accept above the promise) or a bug.
        this.#fatal(error);
        return true;
      }
      this.#notVotingReason = `store unavailable: ${error.message}`;
      this.#log.warn({ err: error }, "store unavailable: not voting; will retry");
      return false;
    }
    if (this.#stopped) {
      await this.#closeStore();
      return true;
    }
    this.#acceptor = acceptor;
    this.#durablePromised = acceptor.promised;
    this.#durableSlots = slots;
    this.#storage = "ok";
    this.#notVotingReason = null;
    this.#metrics.voting.set(1);
    this.#metrics.promisedRound.set(acceptor.promised.round);
    this.#log.info({ promised: acceptor.promised, acceptedSlots: slots.size }, "store open: voting");
    return true;
  }

  #reopenInBackground(): void {
    if (this.#reopening || this.#stopped) return;
    this.#reopening = true;
    void (async () => {
      let waitMs = this.#options.reopenBackoffMinMs ?? 200;
      const waitMaxMs = this.#options.reopenBackoffMaxMs ?? 5_000;
      try {
        while (!this.#stopped) {
          await sleep(waitMs);
          if (this.#stopped || (await this.#open())) return;
          waitMs = Math.min(waitMaxMs, waitMs * 2);
        }
      } finally {
        this.#reopening = false;
      }
    })();
  }

  async #closeStore(): Promise<void> {
    const store = this.#store;
    this.#store = null;
    if (store === null) return;
    try {
      await store.close();
    } catch (error) {
      this.#log.warn({ err: error }, "closing the store failed");
    }
  }

  #publishStatus(): void {
    if (this.#stopped) return;
    try {
      this.#options.publishStatus(this.status());
    } catch (error) {
      this.#log.warn({ err: error }, "status publish failed");
    }
  }

  #fatal(error: unknown): void {
    this.#acceptor = null;
    this.#notVotingReason = `stopped: ${errorText(error)}`;
    this.#queue.clear();
    this.#options.onFatal(error, EXIT_CODES.invariant);
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

interface AcceptorMetrics {
  readonly messages: Counter<"type">;
  readonly dropped: Counter<"reason">;
  readonly writeSeconds: Histogram;
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
    writeSeconds: new Histogram({
      name: "paxos_acceptor_storage_write_seconds",
      help: "Time to make one promise or accept durable (the acceptor's fsync latency).",
      buckets: [...STORAGE_SECONDS_BUCKETS],
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
