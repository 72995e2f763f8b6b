import {
  type Delivery,
  type Endpoint,
  Learner,
  type LearnerConfig,
  type LearnerStep,
  type Limits,
  type LogEntry,
  type Message,
  type SlotValue,
  type Transport,
} from "@paxos/core";
import type { Span } from "@opentelemetry/api";
import { every, type Clock, type Timer } from "./clock.ts";
import type { HostLimits } from "./host-limits.ts";
import type { DriverLearnerStore } from "./store-ports.ts";
import { childSpan, endFailed, headersOf, sampledTraceId, startSpan, type TraceHeaders } from "./tracing.ts";

/** The part of a core Learner a driver uses; the simulator's broken variants wrap it. */
export interface LearnerCore {
  readonly nextSlot: number;
  readonly nextIndex: number;
  readonly gapSlots: number;
  readonly heldSlots: { readonly votes: number; readonly reports: number };
  entry(index: number): LogEntry | undefined;
  indexOf(requestId: string): number | undefined;
  receive(msg: Message, nowMs: number): LearnerStep;
  tick(nowMs: number): LearnerStep;
}

/** What a learner driver reports; the host turns these into metrics and log lines. */
export type LearnerEvent =
  | { readonly kind: "loaded"; readonly storedSlots: number; readonly nextIndex: number; readonly nextSlot: number }
  | { readonly kind: "dropped"; readonly reason: string; readonly detail: string }
  /** Slots are on disk; `traceId` is the sampled trace that learned them (an exemplar), if any. */
  | { readonly kind: "appended"; readonly slots: number; readonly durationMs: number; readonly traceId: string | null }
  | { readonly kind: "appendFailed"; readonly error: unknown; readonly retryInMs: number }
  | { readonly kind: "appendRecovered" }
  /**
   * Values are delivered (those of one step, in order, as soon as it learned them); `context`
   * continues the trace that chose them (for the delivery message).
   */
  | { readonly kind: "delivered"; readonly deliveries: readonly Delivery[]; readonly context: TraceHeaders }
  /** The learner asked acceptors and peers for `slots` slots it is missing. */
  | { readonly kind: "catchup"; readonly slots: number }
  | { readonly kind: "fatal"; readonly error: unknown };

/** How a LearnerDriver is set up. */
export interface LearnerDriverOptions {
  readonly learnerId: string;
  readonly acceptorIds: readonly string[];
  readonly clock: Clock;
  readonly transport: Transport;
  /**
   * Makes a fresh store over the learner's log. Called at start and after a failed append: a
   * store may refuse every append after an I/O failure until a new one is opened.
   */
  readonly createStore: () => DriverLearnerStore;
  readonly limits: Limits;
  readonly hostLimits: HostLimits;
  readonly onEvent: (event: LearnerEvent) => void;
  /** Builds the core learner from the stored log; the simulator's variants pass their own. */
  readonly createLearner?: (
    config: LearnerConfig,
    restored: readonly (readonly [number, SlotValue])[],
    nowMs: number,
  ) => LearnerCore;
}

type Input =
  { readonly kind: "message"; readonly msg: Message; readonly context: TraceHeaders } | { readonly kind: "tick" };

/**
 * Learned slots that go to the store in one append (one fsync): every step that learned
 * something while the append before was on its way, in order; the span of the first message
 * that completed one (the append's parent); and where the log stands once they are durable.
 */
interface AppendGroup {
  readonly learned: { readonly slot: number; readonly value: SlotValue }[];
  span: Span | null;
  nextIndex: number;
  nextSlot: number;
}

/**
 * Runs one core Learner over a Transport and a store, deterministically. Inputs (messages and
 * ticks) are stepped one at a time; each step's sends go out at once, its deliveries are
 * reported and visible through `entry` at once, and its learned slots are appended to the store
 * behind them. One append is on its way at a time; the slots learned meanwhile go together in
 * the next one (group commit: one fsync for every slot chosen during the last). A failed append
 * is retried on a fresh store with backoff; meanwhile up to `learnerAppendSlotsMax` slots wait
 * for the next append, then inputs wait in a bounded queue and what overflows is dropped
 * (catch-up fetches it again), so deliveries never run further ahead of the disk than that.
 *
 * Delivering before the learner's own append is safe because what it delivers is already
 * durable elsewhere: a slot is learned once a majority of acceptors accepted it, and acceptors
 * answer only once their write is on disk. The learner's log is its copy, for fast restarts: a
 * learner restarted without its last appends learns those slots again (from votes, or by
 * catch-up from acceptors and peers) and delivers them again at the same indices, which follow
 * from the chosen slots alone. Until it has caught up with the chosen watermark of a leader's
 * heartbeat, it cannot tell an index it lost from one not decided, so `caughtUp` is false and
 * readers should not take its "not decided" for an answer. (Issue 11: the append averaged
 * 0.74-0.77 ms at one client, in series after the acceptors' fsync; without it a lone client's
 * median answer came 11-12 % sooner.)
 */
export class LearnerDriver {
  readonly learnerId: string;
  readonly #options: LearnerDriverOptions;
  readonly #endpoint: Endpoint;
  readonly #queue: Input[] = [];
  #learner: LearnerCore | null = null;
  #store: DriverLearnerStore | null = null;
  /** The append on its way, and the one that gathers behind it. */
  #appending: AppendGroup | null = null;
  #gathering: AppendGroup | null = null;
  #tickQueued = false;
  #appendFailing = false;
  /** Entries [0, durableIndex) and slots [0, durableSlot) are on disk. */
  #durableIndex = 0;
  #durableSlot = 0;
  /** Latched once a heartbeat arrived and the learner had every slot below its watermark. */
  #caughtUp = false;
  #heardHeartbeat = false;
  #subscription: { unsubscribe(): void } | null = null;
  #ticker: Timer | null = null;
  #retryTimer: Timer | null = null;
  #failed = false;
  #stopped = false;

  constructor(options: LearnerDriverOptions) {
    this.learnerId = options.learnerId;
    this.#options = options;
    this.#endpoint = { role: "learner", id: options.learnerId };
  }

  /**
   * Loads the log, rebuilds the learner from it (nothing is delivered again), then subscribes and
   * starts ticking. `done` reports a store that cannot be read (the learner does not run then).
   */
  start(done: (error: unknown) => void = () => undefined): void {
    const store = this.#options.createStore();
    this.#store = store;
    store.load((outcome) => {
      if (this.#stopped) return;
      if (!outcome.ok) {
        this.#closeStore();
        return done(outcome.error);
      }
      const config: LearnerConfig = {
        learnerId: this.learnerId,
        acceptorIds: this.#options.acceptorIds,
        limits: this.#options.limits,
      };
      const nowMs = this.#options.clock.now();
      try {
        this.#learner =
          this.#options.createLearner?.(config, outcome.value, nowMs) ?? new Learner(config, outcome.value, nowMs);
      } catch (error) {
        // Two values stored for one slot: the stored log itself breaks an invariant.
        this.#fatal(error);
        return done(error);
      }
      this.#markDurable(this.#learner);
      this.#options.onEvent({
        kind: "loaded",
        storedSlots: outcome.value.length,
        nextIndex: this.#durableIndex,
        nextSlot: this.#durableSlot,
      });
      this.#subscription = this.#options.transport.subscribe(this.#endpoint, (msg, context) =>
        this.#enqueue({ kind: "message", msg, context }),
      );
      this.#ticker = every(this.#options.clock, this.#options.hostLimits.learnerTickIntervalMs, () => {
        if (this.#tickQueued) return;
        this.#tickQueued = true;
        this.#enqueue({ kind: "tick" });
      });
      done(null);
    });
  }

  /** True once the log is loaded and while appends succeed. */
  get ready(): boolean {
    return this.#learner !== null && !this.#appendFailing && !this.#failed;
  }

  get loaded(): boolean {
    return this.#learner !== null;
  }

  get appendFailing(): boolean {
    return this.#appendFailing;
  }

  /** Client values delivered: the next index to be decided. */
  get nextIndex(): number {
    return this.#learner?.nextIndex ?? 0;
  }

  /** First slot not yet learned (all below it are delivered). */
  get nextSlot(): number {
    return this.#learner?.nextSlot ?? 0;
  }

  /** Client values delivered and on disk. */
  get durableIndex(): number {
    return this.#durableIndex;
  }

  /** First slot not yet on disk. */
  get durableSlot(): number {
    return this.#durableSlot;
  }

  /**
   * True once the learner has heard a leader's heartbeat and learned every slot below its chosen
   * watermark since it started: from then on an index it has not delivered is not decided, as far
   * as the leader said. Before, it may have lost appends in a crash, or the cluster may have
   * decided more while it was down. A leader's watermark trails what it counted by at most a
   * heartbeat, and a learner restarts in longer than that; only a new leader that has not yet
   * counted what the old one chose can hold a watermark below what this learner delivered.
   */
  get caughtUp(): boolean {
    return this.#caughtUp;
  }

  get gapSlots(): number {
    return this.#learner?.gapSlots ?? 0;
  }

  /** Slots the core holds votes or catch-up reports for without having learned them. */
  get heldSlots(): { readonly votes: number; readonly reports: number } {
    return this.#learner?.heldSlots ?? { votes: 0, reports: 0 };
  }

  /** The delivered entry at `index`, or undefined while it is not decided (as far as known). */
  entry(index: number): LogEntry | undefined {
    if (!Number.isSafeInteger(index) || index < 0) return undefined;
    return this.#learner?.entry(index);
  }

  /** The delivered entry of `requestId`, or undefined. */
  lookup(requestId: string): LogEntry | undefined {
    const index = this.#learner?.indexOf(requestId);
    return index === undefined ? undefined : this.entry(index);
  }

  /** Stops intake and timers and drops what waits; an append on its way may still land. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#subscription?.unsubscribe();
    this.#ticker?.cancel();
    this.#retryTimer?.cancel();
    this.#queue.length = 0;
    this.#closeStore();
  }

  #enqueue(input: Input): void {
    if (this.#learner === null || this.#failed || this.#stopped) return;
    if (this.#queue.length >= this.#options.hostLimits.learnerQueueMessagesMax) {
      if (input.kind === "tick") this.#tickQueued = false;
      else this.#options.onEvent({ kind: "dropped", reason: "queueFull", detail: input.msg.type });
      return;
    }
    this.#queue.push(input);
    this.#pump();
  }

  /** Steps queued inputs, gathering what they learned for the next append, until none are left. */
  #pump(): void {
    while (!this.#failed && !this.#stopped) {
      const learner = this.#learner;
      if (learner === null) return;
      if ((this.#gathering?.learned.length ?? 0) >= this.#options.hostLimits.learnerAppendSlotsMax) break;
      const input = this.#queue.shift();
      if (input === undefined) break;
      let step: LearnerStep;
      try {
        const nowMs = this.#options.clock.now();
        if (input.kind === "tick") this.#tickQueued = false;
        step = input.kind === "tick" ? learner.tick(nowMs) : learner.receive(input.msg, nowMs);
      } catch (error) {
        return this.#fatal(error);
      }
      for (const msg of step.send) {
        this.#options.transport.publish(this.#endpoint, msg, {});
        if (msg.type === "catchup") this.#options.onEvent({ kind: "catchup", slots: msg.toSlot - msg.fromSlot });
      }
      for (const refusal of step.refused) this.#options.onEvent({ kind: "dropped", ...refusal });
      if (input.kind === "message" && input.msg.type === "heartbeat") this.#heardHeartbeat = true;
      if (!this.#caughtUp && this.#heardHeartbeat && learner.gapSlots === 0) this.#caughtUp = true;
      if (step.learned.length === 0) continue;
      // The message that completed a quorum (or a chosen) continues its trace: learn, deliver, append.
      const span =
        input.kind === "message"
          ? childSpan("paxos.learner.chosen", input.context, {
              "paxos.learner.id": this.learnerId,
              "paxos.slot": step.learned[0]?.slot ?? -1,
              "paxos.slots": step.learned.length,
              "paxos.deliveries": step.delivered.length,
              "paxos.message.type": input.msg.type,
            })
          : null;
      if (step.delivered.length > 0) {
        this.#options.onEvent({ kind: "delivered", deliveries: step.delivered, context: headersOf(span) });
      }
      span?.end();
      const group = (this.#gathering ??= { learned: [], span: null, nextIndex: 0, nextSlot: 0 });
      group.learned.push(...step.learned);
      group.span ??= span;
      group.nextIndex = learner.nextIndex;
      group.nextSlot = learner.nextSlot;
    }
    this.#startAppend();
  }

  /** Starts appending what gathered, unless an append is on its way (it starts the next when done). */
  #startAppend(): void {
    const group = this.#gathering;
    if (this.#appending !== null || group === null || this.#failed || this.#stopped) return;
    this.#gathering = null;
    this.#appending = group;
    this.#append(group, this.#options.hostLimits.learnerAppendRetryMinMs);
  }

  #append(group: AppendGroup, retryInMs: number): void {
    const store = (this.#store ??= this.#options.createStore());
    const startedMs = this.#options.clock.now();
    const span = group.span;
    const append =
      span === null
        ? null
        : startSpan("paxos.learner.append", { "paxos.slots": group.learned.length }, { parent: span });
    store.append(group.learned, (outcome) => {
      if (this.#stopped) {
        endFailed(append, "learner stopped");
        return;
      }
      if (!outcome.ok) {
        endFailed(
          append,
          `append failed: ${outcome.error instanceof Error ? outcome.error.message : String(outcome.error)}`,
        );
        span?.addEvent("append retry", { "paxos.retry_in_ms": retryInMs });
        this.#appendFailing = true;
        this.#options.onEvent({ kind: "appendFailed", error: outcome.error, retryInMs });
        // The failed store may refuse every later append; the next attempt opens a fresh one.
        this.#closeStore();
        this.#retryTimer = this.#options.clock.setTimer(retryInMs, () => {
          this.#retryTimer = null;
          const nextMs = Math.min(this.#options.hostLimits.learnerAppendRetryMaxMs, retryInMs * 2);
          this.#append(group, nextMs);
        });
        return;
      }
      append?.end();
      this.#options.onEvent({
        kind: "appended",
        slots: group.learned.length,
        durationMs: this.#options.clock.now() - startedMs,
        traceId: sampledTraceId(span),
      });
      if (this.#appendFailing) this.#options.onEvent({ kind: "appendRecovered" });
      this.#appendFailing = false;
      this.#durableIndex = group.nextIndex;
      this.#durableSlot = group.nextSlot;
      this.#appending = null;
      // Inputs held back while the gathered group was full, then whatever gathered meanwhile.
      this.#pump();
    });
  }

  #markDurable(learner: LearnerCore): void {
    this.#durableIndex = learner.nextIndex;
    this.#durableSlot = learner.nextSlot;
  }

  #closeStore(): void {
    const store = this.#store;
    this.#store = null;
    store?.close();
  }

  #fatal(error: unknown): void {
    this.#failed = true;
    this.#queue.length = 0;
    this.#options.onEvent({ kind: "fatal", error });
  }
}
