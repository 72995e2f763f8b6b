import {
  type Ballot,
  type ClientRequest,
  type Endpoint,
  type Limits,
  type Message,
  Proposer,
  type ProposerConfig,
  type ProposerRole,
  type ProposerStep,
  type RejectionReason,
  type Transport,
} from "@paxos/core";
import { every, type Clock, type Timer } from "./clock.ts";
import type { HostLimits } from "./host-limits.ts";

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
  /** This leader saw a slot chosen `latencyMs` after its first accept (a phase-2 round trip). */
  | { readonly kind: "slotChosen"; readonly latencyMs: number }
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
  /** While leading: the slots in phase 2 and when their first accept went out (window-bounded). */
  readonly #firstSentMs = new Map<number, number>();
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
  propose(request: ClientRequest): ProposeOutcome {
    let outcome: ProposeOutcome = { status: "notLeader", leaderHint: null };
    if (!this.#failed && !this.#stopped) {
      const step = this.#step(() => this.#proposer.propose(request, this.#options.clock.now()));
      const rejection = step?.rejected.find((r) => r.requestId === request.id);
      if (step !== null) {
        outcome =
          rejection === undefined
            ? { status: "queued", leaderHint: this.proposerId }
            : { status: rejection.reason, leaderHint: rejection.leaderHint };
      }
    }
    this.#options.onEvent({ kind: "proposed", status: outcome.status });
    return outcome;
  }

  /** Stops ticking and intake. Requests not yet chosen are abandoned; clients retry elsewhere. */
  stop(): void {
    this.#stopped = true;
    this.#subscription?.unsubscribe();
    this.#ticker?.cancel();
  }

  #receive(msg: Message, context: Readonly<Record<string, string>>): void {
    if (this.#failed || this.#stopped) return;
    this.#options.onEvent({ kind: "received", type: msg.type });
    this.#step(() => this.#proposer.receive(msg, this.#options.clock.now()), context);
  }

  #tick(): void {
    if (this.#failed || this.#stopped) return;
    this.#step(() => this.#proposer.tick(this.#options.clock.now()));
  }

  /**
   * Runs one core step and sends its messages, with the context (trace headers) of the message
   * that caused them; a throw is fatal (the core's state is suspect).
   */
  #step(run: () => ProposerStep, context?: Readonly<Record<string, string>>): ProposerStep | null {
    let step: ProposerStep;
    try {
      step = run();
    } catch (error) {
      this.#failed = true;
      this.stop();
      this.#options.onEvent({ kind: "fatal", error });
      return null;
    }
    for (const msg of step.send) this.#options.transport.publish(this.#endpoint, msg, context);
    for (const refusal of step.refused) this.#options.onEvent({ kind: "dropped", ...refusal });
    for (const rejection of step.rejected) this.#options.onEvent({ kind: "rejected", reason: rejection.reason });
    if (step.chosen.length > 0) this.#options.onEvent({ kind: "chosen", slots: step.chosen.length });
    this.#observeRole();
    this.#observeSlots(step);
    return step;
  }

  /** Phase-2 timings of this leader's slots, from the accepts it sends and the slots it sees chosen. */
  #observeSlots(step: ProposerStep): void {
    if (this.#proposer.role !== "leader") {
      this.#firstSentMs.clear();
      return;
    }
    const nowMs = this.#options.clock.now();
    for (const msg of step.send) {
      if (msg.type !== "accept") continue;
      if (this.#firstSentMs.has(msg.slot)) {
        this.#options.onEvent({ kind: "retransmitted" });
        continue;
      }
      this.#firstSentMs.set(msg.slot, nowMs);
      const requests = msg.value.kind === "batch" ? msg.value.requests.length : 0;
      this.#options.onEvent({ kind: "slotProposed", requests });
    }
    for (const { slot } of step.chosen) {
      const sentMs = this.#firstSentMs.get(slot);
      if (sentMs === undefined) continue;
      this.#firstSentMs.delete(slot);
      this.#options.onEvent({ kind: "slotChosen", latencyMs: nowMs - sentMs });
    }
    // Slots chosen without this leader counting their votes (a chosen message) end here too.
    const chosenBelow = this.#proposer.chosenBelow;
    for (const slot of this.#firstSentMs.keys()) if (slot < chosenBelow) this.#firstSentMs.delete(slot);
  }

  #observeRole(): void {
    const role = this.#proposer.role;
    const leader = this.#proposer.leaderId;
    if (role !== this.#lastRole) {
      const nowMs = this.#options.clock.now();
      if (role === "candidate") this.#candidateSinceMs = nowMs;
      if (role === "leader" && this.#lastRole === "candidate") {
        this.#options.onEvent({ kind: "elected", durationMs: nowMs - this.#candidateSinceMs });
      }
      this.#options.onEvent({ kind: "role", from: this.#lastRole, to: role, ballot: this.#proposer.ballot });
      this.#lastRole = role;
    }
    if (leader !== this.#lastLeader) {
      this.#lastLeader = leader;
      this.#options.onEvent({ kind: "leader", leaderId: leader });
    }
  }
}
