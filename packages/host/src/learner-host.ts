import {
  DEFAULT_LIMITS,
  type Delivery,
  InvariantViolation,
  type LearnerStore,
  type Limits,
  type LogEntry,
  type Transport,
  utf8Bytes,
} from "@paxos/core";
import {
  type Clock,
  DEFAULT_HOST_LIMITS,
  drivenLearnerStore,
  type HostLimits,
  LearnerDriver,
  type LearnerEvent,
} from "@paxos/drivers";
import {
  type Delivered,
  LEARNER_RANGE_LIMIT_MAX,
  type LearnerQuery,
  type LearnerReply,
  type LogEntryWire,
} from "@paxos/wire";
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
  /** Called for every delivery as soon as it is learned, in log order (and must not throw). */
  readonly publishDelivered: (deliveries: readonly Delivered[], context: Readonly<Record<string, string>>) => void;
  /** Called when a core step throws (a broken invariant); the default in services exits 70. */
  readonly onFatal: FatalHandler;
  readonly limits?: Limits;
  readonly hostLimits?: Partial<HostLimits>;
  readonly clock?: Clock;
}

/**
 * Runs one LearnerDriver (step, deliver, append behind) with real timers, a Promise-based store,
 * prom-client metrics and pino logs, publishes every delivery and answers LearnerQueries from
 * what it delivered.
 */
export class LearnerHost {
  readonly learnerId: string;
  readonly #options: LearnerHostOptions;
  readonly #log: Logger;
  readonly #metrics: LearnerMetrics;
  readonly #drops: DropReporter;
  readonly #limits: Limits;
  readonly #hostLimits: HostLimits;
  readonly #driver: LearnerDriver;
  #stopped = false;

  constructor(options: LearnerHostOptions) {
    this.learnerId = options.learnerId;
    this.#options = options;
    this.#log = options.logger;
    this.#metrics = learnerMetrics(options.registry, () => this.#driver.heldSlots);
    this.#drops = dropReporter(options.registry, options.logger);
    this.#limits = options.limits ?? DEFAULT_LIMITS;
    this.#hostLimits = { ...DEFAULT_HOST_LIMITS, ...options.hostLimits };
    this.#driver = new LearnerDriver({
      learnerId: options.learnerId,
      acceptorIds: options.acceptorIds,
      clock: options.clock ?? realClock,
      transport: options.transport,
      createStore: () =>
        drivenLearnerStore(options.createStore(), (error) =>
          this.#log.warn({ err: error }, "closing the store failed"),
        ),
      limits: this.#limits,
      hostLimits: this.#hostLimits,
      onEvent: (event) => this.#onEvent(event),
    });
  }

  /**
   * Loads the log from the store, rebuilds the learner from it (nothing is delivered again),
   * subscribes to the transport and starts the tick timer. Rejects when the store cannot be read.
   */
  start(): Promise<void> {
    return new Promise((resolve, reject) =>
      this.#driver.start((error) => {
        if (error === null) resolve();
        else reject(error instanceof Error ? error : new Error("learner store load failed", { cause: error }));
      }),
    );
  }

  /** What `/readyz` reports: ready once the log is loaded and appends succeed. */
  readiness(): Readiness {
    const driver = this.#driver;
    return {
      ready: driver.ready,
      detail: {
        learnerId: this.learnerId,
        loaded: driver.loaded,
        appendFailing: driver.appendFailing,
        caughtUp: driver.caughtUp,
        nextIndex: driver.nextIndex,
        nextSlot: driver.nextSlot,
        durableIndex: driver.durableIndex,
      },
    };
  }

  /**
   * Answers a LearnerQuery from what the learner delivered. Range reads are capped at
   * LEARNER_RANGE_LIMIT_MAX entries and one message. Null (no answer) for an entry the learner
   * does not have while it is not caught up since its start (LearnerDriver.caughtUp): it may
   * have delivered that index before a crash, so "not decided" would not be an answer; the
   * reader hears from another learner, or from none (the gateway's 503 with Retry-After).
   */
  query(query: LearnerQuery): LearnerReply | null {
    const driver = this.#driver;
    switch (query.op) {
      case "entry": {
        const entry = driver.entry(query.index);
        if (entry === undefined && !driver.caughtUp) return null;
        return { op: "entry", entry: wireEntry(entry) };
      }
      case "range": {
        // The answer must fit one message: stop early when the next entry would not, and let
        // `next` tell the reader where to go on.
        const entries: LogEntryWire[] = [];
        const end = Math.min(query.from + Math.min(query.limit, LEARNER_RANGE_LIMIT_MAX), driver.nextIndex);
        let bytesLeft = this.#limits.messageBytesMax - this.#hostLimits.rangeReplyOverheadBytes;
        for (let index = query.from; index < end; index++) {
          const entry = wireEntry(driver.entry(index));
          if (entry === null) break;
          bytesLeft -= utf8Bytes(JSON.stringify(entry)) + 1;
          if (bytesLeft < 0) break;
          entries.push(entry);
        }
        return { op: "range", entries, next: query.from + entries.length };
      }
      case "lookup":
        return { op: "lookup", entry: wireEntry(driver.lookup(query.requestId)) };
      case "status":
        return {
          op: "status",
          learnerId: this.learnerId,
          nextIndex: driver.nextIndex,
          nextSlot: driver.nextSlot,
          gapSlots: driver.gapSlots,
        };
    }
  }

  /** Stops intake and the timer, drops what waits and closes the store. */
  stop(): Promise<void> {
    this.#stopped = true;
    this.#driver.stop();
    return Promise.resolve();
  }

  #onEvent(event: LearnerEvent): void {
    const metrics = this.#metrics;
    switch (event.kind) {
      case "loaded":
        this.#log.info(
          { storedSlots: event.storedSlots, nextIndex: event.nextIndex, nextSlot: event.nextSlot },
          "log loaded",
        );
        this.#observeProgress();
        break;
      case "dropped":
        this.#drops(event.reason, event.detail);
        break;
      case "appended":
        observeTraced(metrics.appendSeconds, event.durationMs / 1000, {}, event.traceId);
        this.#observeProgress();
        break;
      case "appendFailed":
        metrics.appendFailures.inc();
        this.#log.error(
          { err: event.error, retryInMs: event.retryInMs },
          "store append failed: retrying on a new store",
        );
        break;
      case "catchup":
        metrics.catchupRequests.inc();
        metrics.catchupSlots.inc(event.slots);
        break;
      case "appendRecovered":
        this.#log.info("store append works again");
        break;
      case "delivered":
        for (const delivery of event.deliveries) metrics.delivered.inc({ kind: delivery.kind });
        try {
          this.#options.publishDelivered(event.deliveries.map(delivered), event.context);
        } catch (error) {
          this.#log.warn({ err: error }, "publishing a delivery failed");
        }
        break;
      case "fatal":
        if (this.#stopped && !(event.error instanceof InvariantViolation)) {
          this.#log.warn({ err: event.error }, "step abandoned at shutdown");
          return;
        }
        this.#options.onFatal(event.error, EXIT_CODES.invariant);
        break;
    }
  }

  #observeProgress(): void {
    this.#metrics.decidedIndex.set(this.#driver.nextIndex);
    this.#metrics.nextSlot.set(this.#driver.nextSlot);
    this.#metrics.gapSlots.set(this.#driver.gapSlots);
  }
}

function wireEntry(entry: LogEntry | undefined): LogEntryWire | null {
  return entry === undefined ? null : logEntryWire(entry);
}

function logEntryWire(entry: LogEntry): LogEntryWire {
  return { index: entry.index, slot: entry.slot, requestId: entry.request.id, value: entry.request.payload };
}

function delivered(delivery: Delivery): Delivered {
  switch (delivery.kind) {
    case "delivered":
      return {
        kind: "delivered",
        index: delivery.index,
        slot: delivery.slot,
        requestId: delivery.request.id,
        value: delivery.request.payload,
      };
    case "duplicate":
      return {
        kind: "duplicate",
        index: delivery.index,
        slot: delivery.slot,
        requestId: delivery.requestId,
      };
  }
}

interface LearnerMetrics {
  readonly catchupRequests: Counter;
  readonly catchupSlots: Counter;
  readonly delivered: Counter<"kind">;
  readonly dropped: Counter<"reason">;
  readonly appendSeconds: Histogram;
  readonly appendFailures: Counter;
  readonly decidedIndex: Gauge;
  readonly nextSlot: Gauge;
  readonly gapSlots: Gauge;
  readonly heldSlots: Gauge<"kind">;
}

function learnerMetrics(
  registry: Registry,
  heldSlots: () => { readonly votes: number; readonly reports: number },
): LearnerMetrics {
  const registers = [registry];
  return {
    catchupRequests: new Counter({
      name: "paxos_learner_catchup_requests_total",
      help: "Catch-up requests this learner sent for slots it missed.",
      registers,
    }),
    catchupSlots: new Counter({
      name: "paxos_learner_catchup_slots_total",
      help: "Slots asked for in catch-up requests.",
      registers,
    }),
    delivered: new Counter({
      name: "paxos_learner_deliveries_total",
      help: "Client requests delivered (kind=delivered) or seen again (kind=duplicate).",
      labelNames: ["kind"],
      registers,
    }),
    dropped: droppedMessagesCounter(registry),
    appendSeconds: exemplarHistogram(registry, {
      name: "paxos_learner_append_seconds",
      help: "Time to make learned slots durable.",
      buckets: [...STORAGE_SECONDS_BUCKETS],
    }),
    appendFailures: new Counter({
      name: "paxos_learner_append_failures_total",
      help: "Failed appends to the learner's store (retried).",
      registers,
    }),
    decidedIndex: new Gauge({
      name: "paxos_learner_decided_index",
      help: "Client values delivered: the next index to be decided.",
      registers,
    }),
    nextSlot: new Gauge({ name: "paxos_learner_next_slot", help: "First slot not yet delivered.", registers }),
    gapSlots: new Gauge({
      name: "paxos_learner_gap_slots",
      help: "Slots known chosen that this learner has not delivered yet.",
      registers,
    }),
    heldSlots: new Gauge({
      name: "paxos_learner_held_slots",
      help: "Slots held in memory with votes or catch-up reports but not learned, by kind; bounded by slotsAheadMax.",
      labelNames: ["kind"],
      registers,
      collect() {
        const held = heldSlots();
        this.set({ kind: "votes" }, held.votes);
        this.set({ kind: "reports" }, held.reports);
      },
    }),
  };
}
