import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import {
  type Endpoint,
  type Limits,
  type Message,
  Proposer,
  type ProposerRole,
  type ProposerStep,
  type Transport,
} from "@paxos/core";
import type { ProposeReply, ProposeRequest } from "@paxos/wire";
import { Counter, Gauge, type Registry } from "prom-client";
import type { Readiness } from "./admin-server.ts";
import { EXIT_CODES } from "./exit-codes.ts";
import type { FatalHandler } from "./fatal.ts";
import type { Logger } from "./logger.ts";

/** How a ProposerHost is set up. */
export interface ProposerHostOptions {
  /** `<name>-<nonce>`, fresh at every process start: see `newProposerId`. */
  readonly proposerId: string;
  readonly acceptorIds: readonly string[];
  readonly transport: Transport;
  readonly logger: Logger;
  readonly registry: Registry;
  /** Called when a core step throws (a broken invariant); the default in services exits 70. */
  readonly onFatal: FatalHandler;
  readonly limits?: Limits;
  /** How often the core's timers are advanced. Default 10 ms. */
  readonly tickIntervalMs?: number;
  /** A monotonic clock in ms. Default `performance.now()`. */
  readonly now?: () => number;
  /** Uniform in [0, 1). Default Math.random: the core's only source of randomness. */
  readonly random?: () => number;
}

/**
 * A proposer id for this process start: the configured name, a dash and 8 random hex digits.
 * The fresh nonce is what keeps a restarted proposer from ever reusing a ballot (see Ballot).
 */
export function newProposerId(name: string): string {
  return `${name}-${randomBytes(4).toString("hex")}`;
}

/**
 * Runs one core Proposer: steps it with every message addressed to it and with a tick timer, and
 * sends what each step returns at once (a proposer keeps nothing on stable storage). Client
 * requests come in through `propose`, which answers at once whether the leader holds the request.
 */
export class ProposerHost {
  readonly proposerId: string;
  readonly #options: ProposerHostOptions;
  readonly #proposer: Proposer;
  readonly #endpoint: Endpoint;
  readonly #now: () => number;
  readonly #metrics: ProposerMetrics;
  #subscription: { unsubscribe(): void } | null = null;
  #tickTimer: NodeJS.Timeout | null = null;
  #lastRole: ProposerRole = "follower";
  #lastLeader: string | null = null;
  #failed = false;
  #stopped = false;

  constructor(options: ProposerHostOptions) {
    this.proposerId = options.proposerId;
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
    this.#endpoint = { role: "proposer", id: options.proposerId };
    this.#metrics = proposerMetrics(options.registry);
    this.#proposer = new Proposer({
      proposerId: options.proposerId,
      acceptorIds: options.acceptorIds,
      random: options.random ?? Math.random,
      nowMs: this.#now(),
      ...(options.limits === undefined ? {} : { limits: options.limits }),
    });
  }

  /** Subscribes to the transport and starts the tick timer. */
  start(): void {
    this.#subscription = this.#options.transport.subscribe(this.#endpoint, (msg, context) =>
      this.#receive(msg, context),
    );
    this.#tickTimer = setInterval(() => this.#tick(), this.#options.tickIntervalMs ?? 10);
    this.#tickTimer.unref();
    this.#options.logger.info({ proposerId: this.proposerId }, "proposer started (following until a leader is heard)");
  }

  /** The proposer believed to lead (this one while leading), or null. */
  get leaderId(): string | null {
    return this.#proposer.leaderId;
  }

  get role(): ProposerRole {
    return this.#proposer.role;
  }

  /**
   * Hands a client request to the core. Replies "queued" when this proposer (the leader) holds
   * it: the outcome then arrives as a DeliveredEvent from the learners. Otherwise replies with the
   * reason the core gave and where the leader is believed to be.
   */
  propose(request: ProposeRequest): ProposeReply {
    if (this.#failed || this.#stopped) return { status: "notLeader", leaderHint: null };
    const step = this.#step(() =>
      this.#proposer.propose({ id: request.requestId, payload: request.payload }, this.#now()),
    );
    const rejection = step?.rejected.find((r) => r.requestId === request.requestId);
    const reply: ProposeReply =
      step === null
        ? { status: "notLeader", leaderHint: null }
        : rejection === undefined
          ? { status: "queued", leaderHint: this.proposerId }
          : { status: rejection.reason, leaderHint: rejection.leaderHint };
    this.#metrics.proposals.inc({ outcome: reply.status });
    return reply;
  }

  /** What `/readyz` reports: ready once a leader is known (this one or another). */
  readiness(): Readiness {
    const leaderId = this.leaderId;
    return {
      ready: leaderId !== null && !this.#failed,
      detail: { proposerId: this.proposerId, role: this.role, leaderId, ballot: this.#proposer.ballot },
    };
  }

  /** Stops the timer and intake. Requests not yet chosen are abandoned; clients retry elsewhere. */
  stop(): void {
    this.#stopped = true;
    this.#subscription?.unsubscribe();
    if (this.#tickTimer !== null) clearInterval(this.#tickTimer);
  }

  #receive(msg: Message, context: Readonly<Record<string, string>>): void {
    if (this.#failed || this.#stopped) return;
    if (msg.type === "nack") this.#metrics.nacks.inc();
    this.#step(() => this.#proposer.receive(msg, this.#now()), context);
  }

  #tick(): void {
    if (this.#failed || this.#stopped) return;
    this.#step(() => this.#proposer.tick(this.#now()));
  }

  /** Runs one core step and sends its messages; a throw is fatal (the core's state is suspect). */
  #step(run: () => ProposerStep, context?: Readonly<Record<string, string>>): ProposerStep | null {
    let step: ProposerStep;
    try {
      step = run();
    } catch (error) {
      this.#failed = true;
      this.stop();
      this.#options.onFatal(error, EXIT_CODES.invariant);
      return null;
    }
    for (const out of step.send) this.#options.transport.publish(this.#endpoint, out, context);
    if (step.chosen.length > 0) this.#metrics.slotsChosen.inc(step.chosen.length);
    for (const rejection of step.rejected) {
      // Requests this leader held when it stepped down: their clients hear nothing more and retry.
      this.#metrics.abandoned.inc({ reason: rejection.reason });
    }
    this.#observeRole();
    return step;
  }

  #observeRole(): void {
    const role = this.#proposer.role;
    const leader = this.#proposer.leaderId;
    if (role !== this.#lastRole) {
      this.#options.logger.info({ from: this.#lastRole, to: role, ballot: this.#proposer.ballot }, `now ${role}`);
      this.#lastRole = role;
      this.#metrics.leading.set(role === "leader" ? 1 : 0);
      this.#metrics.ballotRound.set(this.#proposer.ballot.round);
    }
    if (leader !== this.#lastLeader) {
      this.#options.logger.info({ leaderId: leader }, leader === null ? "no leader known" : `leader is ${leader}`);
      this.#lastLeader = leader;
      this.#metrics.leaderChanges.inc();
    }
  }
}

interface ProposerMetrics {
  readonly proposals: Counter<"outcome">;
  readonly abandoned: Counter<"reason">;
  readonly nacks: Counter;
  readonly slotsChosen: Counter;
  readonly leaderChanges: Counter;
  readonly leading: Gauge;
  readonly ballotRound: Gauge;
}

function proposerMetrics(registry: Registry): ProposerMetrics {
  const registers = [registry];
  return {
    proposals: new Counter({
      name: "paxos_proposals_total",
      help: "Client requests handed to this proposer, by its answer (queued, notLeader, overloaded, tooLarge).",
      labelNames: ["outcome"],
      registers,
    }),
    abandoned: new Counter({
      name: "paxos_proposer_rejected_total",
      help: "Client requests the core turned away, by reason (includes requests dropped on stepping down).",
      labelNames: ["reason"],
      registers,
    }),
    nacks: new Counter({ name: "paxos_proposer_nacks_total", help: "Nacks received.", registers }),
    slotsChosen: new Counter({
      name: "paxos_proposer_slots_chosen_total",
      help: "Slots this proposer, leading, saw chosen.",
      registers,
    }),
    leaderChanges: new Counter({
      name: "paxos_leader_changes_total",
      help: "Times the leader this proposer believes in changed.",
      registers,
    }),
    leading: new Gauge({ name: "paxos_proposer_leader", help: "1 while this proposer leads.", registers }),
    ballotRound: new Gauge({
      name: "paxos_proposer_ballot_round",
      help: "Round of this proposer's current ballot.",
      registers,
    }),
  };
}
