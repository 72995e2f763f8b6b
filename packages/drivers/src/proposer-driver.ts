import {
  type Ballot,
  type ClientRequest,
  type Endpoint,
  invariant,
  type Limits,
  type Message,
  Proposer,
  type ProposerConfig,
  type ProposerRole,
  type ProposerStep,
  type RejectionReason,
  type Transport,
} from "@paxos/core";
import type { Span } from "@opentelemetry/api";
import { every, type Clock, type Timer } from "./clock.ts";
import type { HostLimits } from "./host-limits.ts";
import {
  ballotAttributes,
  childSpan,
  endFailed,
  headersOf,
  sampledTraceId,
  startSpan,
  type TraceHeaders,
} from "./tracing.ts";

/** The part of a core Proposer a driver uses; the simulator's broken variants wrap it. */
export interface ProposerCore {
  readonly role: ProposerRole;
  readonly ballot: Ballot;
  readonly leaderId: string | null;
  readonly chosenBelow: number;
  readonly load: { readonly inflightSlots: number; readonly pendingRequests: number };
  tick(nowMs: number): ProposerStep;
  receive(msg: Message, nowMs: number): ProposerStep;
  propose(request: ClientRequest, nowMs: number): ProposerStep;
  proposeMany(requests: readonly ClientRequest[], nowMs: number): ProposerStep;
}

/** A proposer's answer to a client request: "queued" when this leader holds it. */
export interface ProposeOutcome {
  readonly status: "queued" | RejectionReason;
  readonly leaderHint: string | null;
}

/** What a proposer driver reports; the host turns these into metrics and log lines. */
export type ProposerEvent =
  | { readonly kind: "proposed"; readonly status: ProposeOutcome["status"] }
  | { readonly kind: "received"; readonly type: Message["type"] }
  | { readonly kind: "dropped"; readonly reason: string; readonly detail: string }
  | { readonly kind: "rejected"; readonly reason: RejectionReason }
  | { readonly kind: "chosen"; readonly slots: number }
  /** This leader sent a slot's first accept, carrying `requests` client requests (0: a no-op). */
  | { readonly kind: "slotProposed"; readonly requests: number }
  /**
   * This leader saw a slot chosen `latencyMs` after its first accept (a phase-2 round trip);
   * `traceId` is the slot's sampled trace (an exemplar), if any.
   */
  | { readonly kind: "slotChosen"; readonly latencyMs: number; readonly traceId: string | null }
  /** This leader resent an accept that no majority had answered. */
  | { readonly kind: "retransmitted" }
  /** Phase 1 succeeded `durationMs` after this proposer became a candidate. */
  | { readonly kind: "elected"; readonly durationMs: number }
  | { readonly kind: "role"; readonly from: ProposerRole; readonly to: ProposerRole; readonly ballot: Ballot }
  | { readonly kind: "leader"; readonly leaderId: string | null }
  | { readonly kind: "fatal"; readonly error: unknown };

/** How a ProposerDriver is set up. */
export interface ProposerDriverOptions {
  /** Unique per process start: a stable name plus a fresh nonce (see core's Ballot). */
  readonly proposerId: string;
  readonly acceptorIds: readonly string[];
  readonly clock: Clock;
  readonly transport: Transport;
  readonly limits: Limits;
  readonly hostLimits: HostLimits;
  /** Uniform in [0, 1): the core's only source of randomness. */
  readonly random: () => number;
  readonly onEvent: (event: ProposerEvent) => void;
  /** Builds the core proposer; the simulator's variants pass their own. */
  readonly createProposer?: (config: ProposerConfig) => ProposerCore;
}

/**
 * Runs one core Proposer: steps it with every message addressed to it and with a tick every
 * `proposerTickIntervalMs`, and sends what each step returns at once (a proposer keeps nothing on
 * stable storage: a restart takes a new nonce). A step that throws is a broken invariant: the
 * driver stops and reports it.
 */
export class ProposerDriver {
  readonly proposerId: string;
  readonly #options: ProposerDriverOptions;
  readonly #proposer: ProposerCore;
  readonly #endpoint: Endpoint;
  #subscription: { unsubscribe(): void } | null = null;
  #ticker: Timer | null = null;
  #lastRole: ProposerRole = "follower";
  #lastLeader: string | null = null;
  /** When this proposer last became a candidate. */
  #candidateSinceMs = 0;
  /**
   * While leading, the slots in phase 2 (window-bounded): when their first accept went out, the
   * requests they carry and their phase-2 span.
   */
  readonly #slots = new Map<
    number,
    { readonly sentMs: number; readonly requestIds: readonly string[]; readonly span: Span }
  >();
  /**
   * While leading, the span of each traced request this leader holds, until its slot is chosen or
   * the core turns it away (bounded by the core's pending and in-flight limits).
   */
  readonly #proposeSpans = new Map<string, Span>();
  /** While a candidate: the span of this election (phase 1 over every range). */
  #phase1Span: Span | null = null;
  #failed = false;
  #stopped = false;

  constructor(options: ProposerDriverOptions) {
    this.proposerId = options.proposerId;
    this.#options = options;
    this.#endpoint = { role: "proposer", id: options.proposerId };
    const config: ProposerConfig = {
      proposerId: options.proposerId,
      acceptorIds: options.acceptorIds,
      limits: options.limits,
      random: options.random,
      nowMs: options.clock.now(),
    };
    this.#proposer = options.createProposer?.(config) ?? new Proposer(config);
  }

  /** Subscribes to the transport and starts ticking. */
  start(): void {
    this.#subscription = this.#options.transport.subscribe(this.#endpoint, (msg, context) =>
      this.#receive(msg, context),
    );
    this.#ticker = every(this.#options.clock, this.#options.hostLimits.proposerTickIntervalMs, () => this.#tick());
  }

  get role(): ProposerRole {
    return this.#proposer.role;
  }

  get ballot(): Ballot {
    return this.#proposer.ballot;
  }

  /** The proposer believed to lead (this one while leading), or null. */
  get leaderId(): string | null {
    return this.#proposer.leaderId;
  }

  get load(): { readonly inflightSlots: number; readonly pendingRequests: number } {
    return this.#proposer.load;
  }

  /** True once a step threw: the driver no longer steps its proposer. */
  get failed(): boolean {
    return this.#failed;
  }

  /**
   * Hands a client request to the core and answers at once: "queued" when this leader holds it
   * (the outcome then arrives as a delivery from the learners), otherwise why not and where the
   * leader is believed to be.
   */
  propose(request: ClientRequest, context: TraceHeaders = {}): ProposeOutcome {
    const [outcome] = this.proposeMany([{ request, context }]);
    invariant(outcome !== undefined, "one outcome per request");
    return outcome;
  }

  /**
   * `propose` for requests that arrived together (one propose request carries many), in one core
   * step, so that they share slot values; the outcomes are in the order of `requests`. Each
   * request continues the trace of its own context.
   */
  proposeMany(
    requests: readonly { readonly request: ClientRequest; readonly context?: TraceHeaders }[],
  ): ProposeOutcome[] {
    const spans = requests.map(({ request, context = {} }) => {
      // Lives until the request's slot is chosen: the wait for a slot, then phase 2.
      const span = childSpan("paxos.propose", context, {
        "paxos.request.id": request.id,
        "paxos.proposer.id": this.proposerId,
      });
      const duplicate = this.#proposeSpans.has(request.id);
      if (span !== null && !duplicate) this.#proposeSpans.set(request.id, span);
      return { span, duplicate };
    });
    let step: ProposerStep | null = null;
    if (!this.#failed && !this.#stopped) {
      const now = this.#options.clock.now();
      // The messages of the step continue the first traced request's context, as one request's did.
      const context = requests.find((r) => r.context !== undefined && Object.keys(r.context).length > 0)?.context;
      step = this.#step(
        () =>
          this.#proposer.proposeMany(
            requests.map((r) => r.request),
            now,
          ),
        context,
      );
    }
    const rejections = new Map(step?.rejected.map((r) => [r.requestId, r]));
    return requests.map(({ request }, i) => {
      const rejection = rejections.get(request.id);
      const outcome: ProposeOutcome =
        step === null
          ? { status: "notLeader", leaderHint: null }
          : rejection === undefined
            ? { status: "queued", leaderHint: this.proposerId }
            : { status: rejection.reason, leaderHint: rejection.leaderHint };
      const { span, duplicate } = spans[i] ?? { span: null, duplicate: false };
      span?.setAttribute("paxos.propose.outcome", outcome.status);
      if (outcome.status !== "queued" || duplicate) {
        if (this.#proposeSpans.get(request.id) === span) this.#proposeSpans.delete(request.id);
        span?.end(); // a redirect (notLeader) or a refusal ends here; the gateway retries
      }
      this.#options.onEvent({ kind: "proposed", status: outcome.status });
      return outcome;
    });
  }

  /** Stops ticking and intake. Requests not yet chosen are abandoned; clients retry elsewhere. */
  stop(): void {
    this.#stopped = true;
    this.#subscription?.unsubscribe();
    this.#ticker?.cancel();
    this.#endSpans("proposer stopped");
  }

  #receive(msg: Message, context: Readonly<Record<string, string>>): void {
    if (this.#failed || this.#stopped) return;
    this.#options.onEvent({ kind: "received", type: msg.type });
    if (msg.type === "nack") this.#nacked(msg.acceptorId, msg.promised.round);
    this.#step(() => this.#proposer.receive(msg, this.#options.clock.now()), context);
  }

  #tick(): void {
    if (this.#failed || this.#stopped) return;
    this.#step(() => this.#proposer.tick(this.#options.clock.now()));
  }

  /**
   * Runs one core step and sends its messages, each with the trace context it continues (see
   * #contextOf); a throw is fatal (the core's state is suspect).
   */
  #step(run: () => ProposerStep, context: TraceHeaders = {}): ProposerStep | null {
    let step: ProposerStep;
    try {
      step = run();
    } catch (error) {
      this.#failed = true;
      this.stop();
      this.#options.onEvent({ kind: "fatal", error });
      return null;
    }
    this.#observeRole();
    this.#observeSlots(step);
    for (const msg of step.send) this.#options.transport.publish(this.#endpoint, msg, this.#contextOf(msg, context));
    this.#observeChosen(step);
    for (const refusal of step.refused) this.#options.onEvent({ kind: "dropped", ...refusal });
    for (const rejection of step.rejected) {
      this.#options.onEvent({ kind: "rejected", reason: rejection.reason });
      const span = this.#proposeSpans.get(rejection.requestId);
      this.#proposeSpans.delete(rejection.requestId);
      endFailed(span ?? null, `rejected: ${rejection.reason}`);
    }
    if (step.chosen.length > 0) this.#options.onEvent({ kind: "chosen", slots: step.chosen.length });
    return step;
  }

  /**
   * The trace a sent message continues: a slot's accepts and chosen its phase-2 span, prepares
   * the election's span, heartbeats none (they belong to no request), anything else the context
   * of the message that caused it.
   */
  #contextOf(msg: Message, context: TraceHeaders): TraceHeaders {
    switch (msg.type) {
      case "accept":
      case "chosen":
        return headersOf(this.#slots.get(msg.slot)?.span ?? null, context);
      case "prepare":
        return headersOf(this.#phase1Span, context);
      case "heartbeat":
        return {};
      default:
        return context;
    }
  }

  /**
   * Follows this leader's slots through the accepts it sends: a slot's first accept opens its
   * phase-2 span (a child of the first traced request it carries, linked to all of them), a
   * later one is a retransmission.
   */
  #observeSlots(step: ProposerStep): void {
    if (this.#proposer.role !== "leader") return;
    const nowMs = this.#options.clock.now();
    for (const msg of step.send) {
      if (msg.type !== "accept") continue;
      const known = this.#slots.get(msg.slot);
      if (known !== undefined) {
        known.span.addEvent("retransmit", { "paxos.waited_ms": nowMs - known.sentMs });
        this.#options.onEvent({ kind: "retransmitted" });
        continue;
      }
      const requestIds = msg.value.kind === "batch" ? msg.value.requests.map((request) => request.id) : [];
      const requestSpans = requestIds.flatMap((id) => this.#proposeSpans.get(id) ?? []);
      const span = startSpan(
        "paxos.phase2",
        {
          ...ballotAttributes(msg.ballot),
          "paxos.slot": msg.slot,
          "paxos.batch.requests": requestIds.length,
          "paxos.value.kind": msg.value.kind,
        },
        { parent: requestSpans[0] ?? null, links: requestSpans },
      );
      this.#slots.set(msg.slot, { sentMs: nowMs, requestIds, span });
      this.#options.onEvent({ kind: "slotProposed", requests: requestIds.length });
    }
  }

  /** Ends the phase 2 of every slot this leader saw chosen, and the spans of their requests. */
  #observeChosen(step: ProposerStep): void {
    const nowMs = this.#options.clock.now();
    const chosen = (slot: number): void => {
      const entry = this.#slots.get(slot);
      if (entry === undefined) return;
      this.#slots.delete(slot);
      this.#options.onEvent({
        kind: "slotChosen",
        latencyMs: nowMs - entry.sentMs,
        traceId: sampledTraceId(entry.span),
      });
      entry.span.end();
      for (const id of entry.requestIds) {
        const span = this.#proposeSpans.get(id);
        if (span === undefined) continue;
        this.#proposeSpans.delete(id);
        span.addEvent("chosen", { "paxos.slot": slot });
        span.end();
      }
    };
    for (const { slot } of step.chosen) chosen(slot);
    // Slots chosen without this leader counting their votes (a chosen message) end here too.
    const chosenBelow = this.#proposer.chosenBelow;
    for (const slot of [...this.#slots.keys()]) if (slot < chosenBelow) chosen(slot);
  }

  /** A nack is an event of the election, or while leading of every slot in phase 2. */
  #nacked(acceptorId: string, promisedRound: number): void {
    const attributes = { "paxos.acceptor.id": acceptorId, "paxos.promised.round": promisedRound };
    if (this.#phase1Span !== null) return void this.#phase1Span.addEvent("nack", attributes);
    for (const { span } of this.#slots.values()) span.addEvent("nack", attributes);
  }

  /** Ends every open span as failed: this proposer no longer leads (or no longer runs). */
  #endSpans(why: string): void {
    for (const { span } of this.#slots.values()) endFailed(span, why);
    for (const span of this.#proposeSpans.values()) endFailed(span, why);
    this.#slots.clear();
    this.#proposeSpans.clear();
    endFailed(this.#phase1Span, why);
    this.#phase1Span = null;
  }

  #observeRole(): void {
    const role = this.#proposer.role;
    const leader = this.#proposer.leaderId;
    if (role !== this.#lastRole) {
      const nowMs = this.#options.clock.now();
      const ballot = this.#proposer.ballot;
      if (this.#lastRole === "leader") this.#endSpans(`stepped down: now ${role} at round ${ballot.round}`);
      if (role === "candidate") {
        this.#candidateSinceMs = nowMs;
        endFailed(this.#phase1Span, "election restarted");
        this.#phase1Span = startSpan("paxos.phase1", {
          ...ballotAttributes(ballot),
          "paxos.proposer.id": this.proposerId,
          "paxos.chosen_below": this.#proposer.chosenBelow,
        });
      }
      if (role === "leader" && this.#lastRole === "candidate") {
        this.#options.onEvent({ kind: "elected", durationMs: nowMs - this.#candidateSinceMs });
        this.#phase1Span?.addEvent("elected");
        this.#phase1Span?.end();
        this.#phase1Span = null;
      }
      if (role === "follower") {
        endFailed(this.#phase1Span, `lost the election to ${leader ?? "a higher ballot"}`);
        this.#phase1Span = null;
      }
      this.#options.onEvent({ kind: "role", from: this.#lastRole, to: role, ballot });
      this.#lastRole = role;
    }
    if (leader !== this.#lastLeader) {
      this.#phase1Span?.addEvent("leader changed", { "paxos.leader.id": leader ?? "none" });
      this.#lastLeader = leader;
      this.#options.onEvent({ kind: "leader", leaderId: leader });
    }
  }
}
