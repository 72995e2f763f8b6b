import {
  Acceptor,
  type AcceptorState,
  type AcceptorStep,
  AcceptorStoreError,
  type AcceptorWrite,
  type Ballot,
  compareBallots,
  type Endpoint,
  InvariantViolation,
  type Limits,
  type Message,
  type Transport,
  ZERO_BALLOT,
} from "@paxos/core";
import type { Attributes, Span } from "@opentelemetry/api";
import type { Clock, Timer } from "./clock.ts";
import type { HostLimits } from "./host-limits.ts";
import type { DriverAcceptorStore, Outcome } from "./store-ports.ts";
import {
  ballotAttributes,
  childSpan,
  endFailed,
  headersOf,
  sampledTraceId,
  type TraceHeaders,
  withSpan,
} from "./tracing.ts";

/** The part of a core Acceptor a driver uses; the simulator's broken variants wrap it. */
export interface AcceptorCore {
  readonly promised: Ballot;
  receive(msg: Message, nowMs: number): AcceptorStep;
}

/** What an acceptor driver reports; the host turns these into metrics and log lines. */
export type AcceptorEvent =
  | { readonly kind: "stepped"; readonly type: Message["type"] }
  /** The acceptor sent a vote (after its write, if it needed one). */
  | { readonly kind: "voted"; readonly vote: "promise" | "accepted" | "nack" }
  | { readonly kind: "dropped"; readonly reason: string; readonly detail: string }
  /** A write is on disk; `traceId` is the sampled trace it served (an exemplar), if any. */
  | {
      readonly kind: "written";
      readonly write: AcceptorWrite;
      readonly durationMs: number;
      readonly traceId: string | null;
    }
  | { readonly kind: "writeFailed"; readonly error: unknown; readonly droppedMessages: number }
  | { readonly kind: "openFailed"; readonly error: unknown; readonly retryInMs: number }
  | { readonly kind: "voting"; readonly promised: Ballot; readonly acceptedSlots: number }
  | { readonly kind: "fatal"; readonly error: unknown; readonly cause: "invariant" | "storageRefused" };

/** How an AcceptorDriver is set up. */
export interface AcceptorDriverOptions {
  readonly acceptorId: string;
  readonly clock: Clock;
  readonly transport: Transport;
  /**
   * Makes a fresh, unopened store. Called at start and after every failed write, since the
   * acceptor must be rebuilt from what is on disk. `firstOpen` is false once a store has opened
   * in this process: from then on an empty storage is a wiped one, never to be initialised.
   */
  readonly createStore: (options: { readonly firstOpen: boolean }) => DriverAcceptorStore;
  readonly limits: Limits;
  readonly hostLimits: HostLimits;
  readonly onEvent: (event: AcceptorEvent) => void;
  /** Builds the core acceptor from a loaded state; the simulator's variants pass their own. */
  readonly createAcceptor?: (state: AcceptorState) => AcceptorCore;
}

/** Store failures no retry can fix: the acceptor must not vote until an operator looks. */
const REFUSALS: ReadonlySet<string> = new Set(["amnesia", "notDurable", "corrupt"]);

interface Queued {
  readonly msg: Message;
  readonly context: TraceHeaders;
}

/**
 * A stepped message whose replies wait: for its own write (when it needed one) and for every
 * earlier one, since a reply may reveal state that only those writes make durable (a repeated
 * prepare is answered from a promise that may still be on its way to disk).
 */
interface Pending {
  readonly write: AcceptorWrite | null;
  readonly send: readonly Message[];
  readonly context: TraceHeaders;
  readonly span: Span | null;
  readonly startedMs: number;
  timer: Timer | null;
  /** The write is on disk (always true without a write). */
  durable: boolean;
  /** Done with, one way or the other: a late answer of the store is ignored. */
  settled: boolean;
}

/**
 * Runs one core Acceptor over a Transport and a store, deterministically: messages are stepped one
 * at a time, in arrival order; a step's write must be on disk before its replies are published,
 * and replies go out in the order their messages were stepped. Writes are pipelined: up to
 * `acceptorWritesInFlightMax` are on their way at once, and the store applies them in the order
 * issued (its contract), so a burst of accepts shares the store's fsyncs. If a write fails or
 * does not finish within `storeWriteTimeoutMs`, nothing more is sent (not even a nack, nor the
 * replies of later writes that did land), the acceptor stops voting, and it is rebuilt from a
 * fresh store's open before it votes again, since its memory may be ahead of the disk. A write
 * that timed out may still land later: the store's fencing epoch (raised by the new open) refuses
 * it. Inbound messages wait in a bounded queue while the pipeline is full.
 */
export class AcceptorDriver {
  readonly acceptorId: string;
  readonly #options: AcceptorDriverOptions;
  readonly #endpoint: Endpoint;
  readonly #queue: Queued[] = [];
  #acceptor: AcceptorCore | null = null;
  #store: DriverAcceptorStore | null = null;
  /** Stepped messages whose replies wait for writes, in step order. */
  readonly #pending: Pending[] = [];
  #writesInFlight = 0;
  #reopenTimer: Timer | null = null;
  #reopenWaitMs = 0;
  #openedOnce = false;
  #subscription: { unsubscribe(): void } | null = null;
  #durablePromised: Ballot = ZERO_BALLOT;
  #durableSlots = new Set<number>();
  #notVotingReason: string | null = "store not opened yet";
  #storageOk = false;
  #stopped = false;

  constructor(options: AcceptorDriverOptions) {
    this.acceptorId = options.acceptorId;
    this.#options = options;
    this.#endpoint = { role: "acceptor", id: options.acceptorId };
  }

  /** Subscribes and opens the store; until it opens the acceptor does not vote. */
  start(): void {
    this.#subscription = this.#options.transport.subscribe(this.#endpoint, (msg, context) =>
      this.#enqueue(msg, context),
    );
    this.#open();
  }

  /** True while the acceptor votes (store open, last write succeeded). */
  get voting(): boolean {
    return this.#acceptor !== null;
  }

  /** Why the acceptor does not vote, or null while it does. */
  get notVotingReason(): string | null {
    return this.#notVotingReason;
  }

  /** The promise known to be on disk. */
  get promised(): Ballot {
    return this.#durablePromised;
  }

  /** Slots with an accepted value known to be on disk. */
  get acceptedSlots(): number {
    return this.#durableSlots.size;
  }

  /** "ok" while the last open or write succeeded. */
  get storage(): "ok" | "unavailable" {
    return this.#storageOk ? "ok" : "unavailable";
  }

  /** Stops intake and timers and drops what waits; the write on its way is left to land or not. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#subscription?.unsubscribe();
    this.#reopenTimer?.cancel();
    this.#queue.length = 0;
    this.#settlePending("acceptor stopped");
    this.#acceptor = null;
    this.#closeStore();
  }

  #enqueue(msg: Message, context: Readonly<Record<string, string>>): void {
    if (this.#stopped) return;
    if (this.#acceptor === null) return this.#drop("notVoting", msg.type);
    if (this.#queue.length + this.#pending.length >= this.#options.hostLimits.acceptorQueueMessagesMax)
      return this.#drop("queueFull", msg.type);
    this.#queue.push({ msg, context });
    this.#pump();
  }

  /** Steps queued messages until the queue is empty or the write pipeline is full. */
  #pump(): void {
    while (this.#writesInFlight < this.#options.hostLimits.acceptorWritesInFlightMax && !this.#stopped) {
      const acceptor = this.#acceptor;
      const store = this.#store;
      const next = this.#queue.shift();
      if (next === undefined || acceptor === null || store === null) return;
      this.#options.onEvent({ kind: "stepped", type: next.msg.type });
      // One span per traced message, from the step to its replies (after the write, if any).
      const span = childSpan(`paxos.acceptor.${next.msg.type}`, next.context, {
        ...messageAttributes(next.msg),
        "paxos.acceptor.id": this.acceptorId,
      });
      let step: AcceptorStep;
      try {
        step = acceptor.receive(next.msg, this.#options.clock.now());
      } catch (error) {
        endFailed(span, "invariant violated");
        return this.#fatal(error, "invariant");
      }
      if (step.refused !== null) {
        span?.addEvent("refused", { "paxos.refusal.reason": step.refused.reason });
        this.#drop(step.refused.reason, step.refused.detail);
      }
      for (const msg of step.send) {
        if (msg.type === "nack") span?.addEvent("nack", { "paxos.promised.round": msg.promised.round });
      }
      const context = headersOf(span, next.context);
      if (step.persist === null && this.#pending.length === 0) {
        this.#send(step.send, context);
        span?.end();
        continue;
      }
      if (step.persist === null && step.send.length === 0) {
        span?.end();
        continue;
      }
      const pending: Pending = {
        write: step.persist,
        send: step.send,
        context,
        span,
        startedMs: this.#options.clock.now(),
        timer: null,
        durable: step.persist === null,
        settled: false,
      };
      this.#pending.push(pending);
      if (step.persist !== null) this.#write(store, step.persist, pending);
    }
  }

  #write(store: DriverAcceptorStore, write: AcceptorWrite, pending: Pending): void {
    const timeoutMs = this.#options.hostLimits.storeWriteTimeoutMs;
    this.#writesInFlight++;
    pending.timer = this.#options.clock.setTimer(timeoutMs, () => {
      if (pending.settled) return;
      endFailed(pending.span, `store write took longer than ${timeoutMs} ms`);
      this.#writeFailed(new Error(`store write took longer than ${timeoutMs} ms`));
    });
    const done = (outcome: Outcome<void>): void => {
      // Timed out, failed behind an earlier write, or stopped: the store's fence refuses it if it
      // lands late, and whatever it would have answered stays unsaid.
      if (pending.settled) return;
      if (!outcome.ok) {
        endFailed(pending.span, `store write failed: ${errorText(outcome.error)}`);
        // A write the store finds malformed is a bug here or in the core, not an outage.
        if (outcome.error instanceof InvariantViolation) return this.#fatal(outcome.error, "invariant");
        return this.#writeFailed(outcome.error);
      }
      pending.timer?.cancel();
      pending.durable = true;
      this.#writesInFlight--;
      if (compareBallots(write.promised, this.#durablePromised) > 0) this.#durablePromised = write.promised;
      if (write.accept !== null) this.#durableSlots.add(write.accept.slot);
      const durationMs = this.#options.clock.now() - pending.startedMs;
      this.#options.onEvent({ kind: "written", write, durationMs, traceId: sampledTraceId(pending.span) });
      this.#release();
      this.#pump();
    };
    // The store's own client span (a Redis call) becomes a child of this message's span.
    withSpan(pending.span, () => store.write(write, done));
  }

  /** Sends the replies of the stepped messages whose write, and every earlier one, is on disk. */
  #release(): void {
    while (this.#pending[0]?.durable === true) {
      const pending = this.#pending.shift() as Pending;
      pending.settled = true;
      this.#send(pending.send, pending.context);
      pending.span?.end();
    }
  }

  /** Gives up every message waiting for a write: none of their replies may be sent. */
  #settlePending(why: string): number {
    const dropped = this.#pending.splice(0);
    for (const pending of dropped) {
      if (pending.settled) continue;
      pending.settled = true;
      pending.timer?.cancel();
      endFailed(pending.span, why);
    }
    this.#writesInFlight = 0;
    return dropped.length;
  }

  /** A write failed or timed out: say nothing, stop voting, rebuild from a fresh store. */
  #writeFailed(error: unknown): void {
    this.#acceptor = null;
    this.#storageOk = false;
    this.#notVotingReason = `store write failed: ${errorText(error)}`;
    const dropped = this.#queue.splice(0).length + this.#settlePending(`store write failed: ${errorText(error)}`);
    this.#options.onEvent({ kind: "writeFailed", error, droppedMessages: dropped });
    this.#closeStore();
    this.#reopenWaitMs = this.#options.hostLimits.storeReopenBackoffMinMs;
    this.#scheduleReopen();
  }

  #open(): void {
    if (this.#stopped) return;
    const store = this.#options.createStore({ firstOpen: !this.#openedOnce });
    this.#store = store;
    store.open((outcome) => {
      if (this.#stopped || this.#store !== store) return;
      if (!outcome.ok) return this.#openFailed(outcome.error);
      this.#openedOnce = true;
      let acceptor: AcceptorCore;
      try {
        acceptor = this.#createAcceptor(outcome.value);
      } catch (error) {
        // The Acceptor's own check of the restored state (an accept above the promise).
        return this.#fatal(error, "invariant");
      }
      this.#acceptor = acceptor;
      this.#reopenWaitMs = 0;
      this.#storageOk = true;
      this.#notVotingReason = null;
      this.#durablePromised = outcome.value.promised;
      this.#durableSlots = new Set(outcome.value.accepted.keys());
      this.#options.onEvent({ kind: "voting", promised: acceptor.promised, acceptedSlots: this.#durableSlots.size });
    });
  }

  #openFailed(error: unknown): void {
    this.#closeStore();
    if (error instanceof AcceptorStoreError && REFUSALS.has(error.code)) {
      this.#notVotingReason = `storage refused (${error.code}): ${error.message}`;
      return this.#fatal(error, "storageRefused");
    }
    if (!(error instanceof AcceptorStoreError)) return this.#fatal(error, "invariant");
    this.#notVotingReason = `store unavailable: ${error.message}`;
    if (this.#reopenWaitMs === 0) this.#reopenWaitMs = this.#options.hostLimits.storeReopenBackoffMinMs;
    this.#options.onEvent({ kind: "openFailed", error, retryInMs: this.#reopenWaitMs });
    this.#scheduleReopen();
  }

  #scheduleReopen(): void {
    if (this.#stopped) return;
    const waitMs = this.#reopenWaitMs;
    this.#reopenWaitMs = Math.min(this.#options.hostLimits.storeReopenBackoffMaxMs, waitMs * 2);
    this.#reopenTimer = this.#options.clock.setTimer(waitMs, () => {
      this.#reopenTimer = null;
      this.#open();
    });
  }

  #createAcceptor(state: AcceptorState): AcceptorCore {
    return this.#options.createAcceptor?.(state) ?? new Acceptor(this.acceptorId, state, this.#options.limits);
  }

  #send(messages: readonly Message[], context: TraceHeaders): void {
    for (const msg of messages) {
      this.#options.transport.publish(this.#endpoint, msg, context);
      if (msg.type === "promise" || msg.type === "accepted" || msg.type === "nack") {
        this.#options.onEvent({ kind: "voted", vote: msg.type });
      }
    }
  }

  #drop(reason: string, detail: string): void {
    this.#options.onEvent({ kind: "dropped", reason, detail });
  }

  #closeStore(): void {
    const store = this.#store;
    this.#store = null;
    store?.close();
  }

  #fatal(error: unknown, cause: "invariant" | "storageRefused"): void {
    this.#acceptor = null;
    this.#queue.length = 0;
    this.#settlePending(`stopped: ${errorText(error)}`);
    if (cause === "invariant") this.#notVotingReason = `stopped: ${errorText(error)}`;
    this.#options.onEvent({ kind: "fatal", error, cause });
  }
}

/** What a span says about the message it handles: slots and ballots as attributes, never names. */
function messageAttributes(msg: Message): Attributes {
  switch (msg.type) {
    case "prepare":
      return { ...ballotAttributes(msg.ballot), "paxos.slot.from": msg.fromSlot };
    case "accept":
      return { ...ballotAttributes(msg.ballot), "paxos.slot": msg.slot, "paxos.chosen_below": msg.chosenBelow };
    case "catchup":
      return { "paxos.learner.id": msg.learnerId, "paxos.slot.from": msg.fromSlot, "paxos.slot.to": msg.toSlot };
    default:
      return {};
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
