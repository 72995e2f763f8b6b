import { performance } from "node:perf_hooks";
import {
  DEFAULT_LIMITS,
  type Delivery,
  type Endpoint,
  InvariantViolation,
  Learner,
  type LearnerStep,
  type LearnerStore,
  type Limits,
  type LogEntry,
  type Message,
  type Transport,
} from "@paxos/core";
import {
  type DeliveredEvent,
  LEARNER_RANGE_LIMIT_MAX,
  type LearnerQuery,
  type LearnerReply,
  type LogEntryWire,
} from "@paxos/wire";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { Readiness } from "./admin-server.ts";
import { EXIT_CODES } from "./exit-codes.ts";
import type { FatalHandler } from "./fatal.ts";
import type { Logger } from "./logger.ts";
import { droppedMessagesCounter, STORAGE_SECONDS_BUCKETS } from "./metrics.ts";
import { SerialQueue } from "./serial-queue.ts";
import { sleep } from "./timing.ts";

/** Room kept in a range answer for its envelope (op, next, version, cluster). */
const RANGE_REPLY_OVERHEAD_BYTES = 4_096;

/** How a LearnerHost is set up. */
export interface LearnerHostOptions {
  readonly learnerId: string;
  readonly acceptorIds: readonly string[];
  /**
   * Makes a fresh store over the learner's log. Called at start and again after a failed append:
   * a file store refuses every append after an I/O failure until a new one is opened.
   */
  readonly createStore: () => LearnerStore;
  readonly transport: Transport;
  readonly logger: Logger;
  readonly registry: Registry;
  /** Called for every delivery, after it is durable, in log order (and must not throw). */
  readonly publishDelivered: (event: DeliveredEvent) => void;
  /** Called when a core step throws (a broken invariant); the default in services exits 70. */
  readonly onFatal: FatalHandler;
  readonly limits?: Limits;
  /** How often the core's timers are advanced. Default 20 ms. */
  readonly tickIntervalMs?: number;
  /** Inbound messages waiting to be stepped; more are dropped (catch-up refetches). Default 10,000. */
  readonly queueMessagesMax?: number;
  /** A monotonic clock in ms. Default `performance.now()`. */
  readonly now?: () => number;
  /** Longest wait between retries of a failed append. Default 2,000. */
  readonly appendRetryMaxMs?: number;
}

/**
 * Runs one core Learner over a Transport and a LearnerStore. Inputs (messages and ticks) are
 * stepped one at a time through a bounded serial queue; each step's sends go out at once, its
 * learned slots are appended to the store, and only once they are durable are its deliveries
 * published and visible to queries. A restarted learner therefore never un-delivers anything.
 */
export class LearnerHost {
  readonly learnerId: string;
  readonly #options: LearnerHostOptions;
  readonly #endpoint: Endpoint;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #queue: SerialQueue;
  readonly #metrics: LearnerMetrics;
  readonly #limits: Limits;
  #learner: Learner | null = null;
  #store: LearnerStore | null = null;
  /** Entries [0, durableIndex) and slots [0, durableSlot) are on disk: all that queries reveal. */
  #durableIndex = 0;
  #durableSlot = 0;
  #appendFailing = false;
  #tickQueued = false;
  #subscription: { unsubscribe(): void } | null = null;
  #tickTimer: NodeJS.Timeout | null = null;
  #failed = false;
  #stopped = false;

  constructor(options: LearnerHostOptions) {
    this.learnerId = options.learnerId;
    this.#options = options;
    this.#endpoint = { role: "learner", id: options.learnerId };
    this.#log = options.logger;
    this.#now = options.now ?? (() => performance.now());
    this.#queue = new SerialQueue(options.queueMessagesMax ?? 10_000, (error) => this.#fatal(error));
    this.#metrics = learnerMetrics(options.registry);
    this.#limits = options.limits ?? DEFAULT_LIMITS;
  }

  /**
   * Loads the log from the store, rebuilds the learner from it (nothing is delivered again),
   * subscribes to the transport and starts the tick timer. Rejects when the store cannot be read.
   */
  async start(): Promise<void> {
    const store = this.#options.createStore();
    this.#store = store;
    let restored: Awaited<ReturnType<LearnerStore["load"]>>;
    try {
      restored = await store.load();
    } catch (error) {
      await this.#closeStore();
      throw error;
    }
    try {
      this.#learner = new Learner(
        {
          learnerId: this.learnerId,
          acceptorIds: this.#options.acceptorIds,
          ...(this.#options.limits === undefined ? {} : { limits: this.#options.limits }),
        },
        restored,
        this.#now(),
      );
    } catch (error) {
      // Two values stored for one slot: the stored log itself breaks an invariant.
      this.#fatal(error);
      return;
    }
    this.#markDurable(this.#learner);
    this.#log.info(
      { storedSlots: restored.length, nextIndex: this.#durableIndex, nextSlot: this.#durableSlot },
      "log loaded",
    );
    this.#subscription = this.#options.transport.subscribe(this.#endpoint, (msg) => this.#enqueue(msg));
    this.#tickTimer = setInterval(() => this.#enqueueTick(), this.#options.tickIntervalMs ?? 20);
    this.#tickTimer.unref();
  }

  /** What `/readyz` reports: ready once the log is loaded and appends succeed. */
  readiness(): Readiness {
    return {
      ready: this.#learner !== null && !this.#appendFailing && !this.#failed,
      detail: {
        learnerId: this.learnerId,
        loaded: this.#learner !== null,
        appendFailing: this.#appendFailing,
        nextIndex: this.#durableIndex,
        nextSlot: this.#durableSlot,
      },
    };
  }

  /**
   * Answers a LearnerQuery from the durable part of the log: an entry not yet on disk reads as
   * not decided. Range reads are capped at LEARNER_RANGE_LIMIT_MAX entries.
   */
  query(query: LearnerQuery): LearnerReply {
    const learner = this.#learner;
    switch (query.op) {
      case "entry":
        return { op: "entry", entry: this.#durableEntry(query.index) };
      case "range": {
        // The answer must fit one message: stop early when the next entry would not, and let
        // `next` tell the reader where to go on.
        const entries: LogEntryWire[] = [];
        const end = Math.min(query.from + Math.min(query.limit, LEARNER_RANGE_LIMIT_MAX), this.#durableIndex);
        let bytesLeft = this.#limits.messageBytesMax - RANGE_REPLY_OVERHEAD_BYTES;
        for (let index = query.from; index < end; index++) {
          const entry = this.#durableEntry(index);
          if (entry === null) break;
          bytesLeft -= Buffer.byteLength(JSON.stringify(entry)) + 1;
          if (bytesLeft < 0) break;
          entries.push(entry);
        }
        return { op: "range", entries, next: query.from + entries.length };
      }
      case "lookup": {
        const index = learner?.indexOf(query.requestId);
        return { op: "lookup", entry: index === undefined ? null : this.#durableEntry(index) };
      }
      case "status":
        return {
          op: "status",
          learnerId: this.learnerId,
          nextIndex: this.#durableIndex,
          nextSlot: this.#durableSlot,
          gapSlots: learner?.gapSlots ?? 0,
        };
    }
  }

  /** Stops intake and the timer, finishes the step in progress, drops the rest, closes the store. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#subscription?.unsubscribe();
    if (this.#tickTimer !== null) clearInterval(this.#tickTimer);
    this.#queue.clear();
    await this.#queue.drain();
    await this.#closeStore();
  }

  #enqueue(msg: Message): void {
    const learner = this.#learner;
    if (learner === null || this.#failed || this.#stopped) return;
    const queued = this.#queue.push(() => this.#handle(() => learner.receive(msg, this.#now())));
    if (!queued) this.#metrics.dropped.inc({ reason: "queueFull" });
  }

  #enqueueTick(): void {
    const learner = this.#learner;
    if (learner === null || this.#tickQueued || this.#failed || this.#stopped) return;
    this.#tickQueued = true;
    const queued = this.#queue.push(async () => {
      this.#tickQueued = false;
      await this.#handle(() => learner.tick(this.#now()));
    });
    if (!queued) this.#tickQueued = false;
  }

  /** One step: send at once, make `learned` durable, then publish the deliveries. */
  async #handle(run: () => LearnerStep): Promise<void> {
    const learner = this.#learner;
    if (learner === null || this.#failed || this.#stopped) return;
    // A throw here is an InvariantViolation (two values for one slot): the queue hands it to #fatal.
    const step = run();
    for (const out of step.send) this.#options.transport.publish(this.#endpoint, out);
    if (step.learned.length === 0) return;
    await this.#appendDurably(step.learned);
    this.#markDurable(learner);
    for (const delivery of step.delivered) {
      this.#metrics.delivered.inc({ kind: delivery.kind });
      try {
        this.#options.publishDelivered(deliveredEvent(this.learnerId, delivery));
      } catch (error) {
        this.#log.warn({ err: error }, "publishing a delivery failed");
      }
    }
  }

  /**
   * Appends until the store takes it, backing off; meanwhile the learner is not ready and the
   * queue fills and drops (catch-up fetches what was dropped). Gives up only when stopped.
   */
  async #appendDurably(learned: LearnerStep["learned"]): Promise<void> {
    let waitMs = 50;
    for (;;) {
      const endTimer = this.#metrics.appendSeconds.startTimer();
      try {
        this.#store ??= this.#options.createStore();
        await this.#store.append(learned);
        endTimer();
        if (this.#appendFailing) this.#log.info("store append works again");
        this.#appendFailing = false;
        return;
      } catch (error) {
        endTimer();
        this.#metrics.appendFailures.inc();
        this.#appendFailing = true;
        this.#log.error({ err: error, retryInMs: waitMs }, "store append failed: retrying on a new store");
        // The failed store may refuse every later append; the next attempt opens a fresh one.
        await this.#closeStore();
      }
      if (this.#stopped) throw new Error("learner stopped while its store append was failing");
      await sleep(waitMs);
      waitMs = Math.min(this.#options.appendRetryMaxMs ?? 2_000, waitMs * 2);
    }
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

  #markDurable(learner: Learner): void {
    this.#durableIndex = learner.nextIndex;
    this.#durableSlot = learner.nextSlot;
    this.#metrics.decidedIndex.set(this.#durableIndex);
    this.#metrics.nextSlot.set(this.#durableSlot);
    this.#metrics.gapSlots.set(learner.gapSlots);
  }

  #durableEntry(index: number): LogEntryWire | null {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.#durableIndex) return null;
    const entry = this.#learner?.entry(index);
    return entry === undefined ? null : logEntryWire(entry);
  }

  #fatal(error: unknown): void {
    if (this.#stopped && !(error instanceof InvariantViolation)) {
      this.#log.warn({ err: error }, "step abandoned at shutdown");
      return;
    }
    this.#failed = true;
    this.#queue.clear();
    this.#options.onFatal(error, EXIT_CODES.invariant);
  }
}

function logEntryWire(entry: LogEntry): LogEntryWire {
  return { index: entry.index, slot: entry.slot, requestId: entry.request.id, value: entry.request.payload };
}

function deliveredEvent(learnerId: string, delivery: Delivery): DeliveredEvent {
  switch (delivery.kind) {
    case "delivered":
      return {
        learnerId,
        kind: "delivered",
        index: delivery.index,
        slot: delivery.slot,
        requestId: delivery.request.id,
        value: delivery.request.payload,
      };
    case "duplicate":
      return {
        learnerId,
        kind: "duplicate",
        index: delivery.index,
        slot: delivery.slot,
        requestId: delivery.requestId,
      };
  }
}

interface LearnerMetrics {
  readonly delivered: Counter<"kind">;
  readonly dropped: Counter<"reason">;
  readonly appendSeconds: Histogram;
  readonly appendFailures: Counter;
  readonly decidedIndex: Gauge;
  readonly nextSlot: Gauge;
  readonly gapSlots: Gauge;
}

function learnerMetrics(registry: Registry): LearnerMetrics {
  const registers = [registry];
  return {
    delivered: new Counter({
      name: "paxos_learner_deliveries_total",
      help: "Client requests delivered (kind=delivered) or seen again (kind=duplicate).",
      labelNames: ["kind"],
      registers,
    }),
    dropped: droppedMessagesCounter(registry),
    appendSeconds: new Histogram({
      name: "paxos_learner_append_seconds",
      help: "Time to make learned slots durable.",
      buckets: [...STORAGE_SECONDS_BUCKETS],
      registers,
    }),
    appendFailures: new Counter({
      name: "paxos_learner_append_failures_total",
      help: "Failed appends to the learner's store (retried).",
      registers,
    }),
    decidedIndex: new Gauge({
      name: "paxos_learner_decided_index",
      help: "Client values delivered and durable: the next index to be decided.",
      registers,
    }),
    nextSlot: new Gauge({ name: "paxos_learner_next_slot", help: "First slot not yet delivered.", registers }),
    gapSlots: new Gauge({
      name: "paxos_learner_gap_slots",
      help: "Slots known chosen that this learner has not delivered yet.",
      registers,
    }),
  };
}
