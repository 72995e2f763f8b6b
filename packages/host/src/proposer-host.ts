import { randomBytes } from "node:crypto";
import { DEFAULT_LIMITS, type Limits, type ProposerRole, type Transport } from "@paxos/core";
import { type Clock, DEFAULT_HOST_LIMITS, type HostLimits, ProposerDriver, type ProposerEvent } from "@paxos/drivers";
import { exemplarHistogram, observeTraced } from "@paxos/telemetry";
import type { ProposeReply, ProposeRequest, ServiceContext } from "@paxos/wire";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { Readiness } from "./admin-server.ts";
import { EXIT_CODES } from "./exit-codes.ts";
import type { FatalHandler } from "./fatal.ts";
import { type DropReporter, dropReporter } from "./drops.ts";
import type { Logger } from "./logger.ts";
import { droppedMessagesCounter } from "./metrics.ts";
import { realClock } from "./real-clock.ts";

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
  readonly hostLimits?: Partial<HostLimits>;
  readonly clock?: Clock;
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
 * Runs one ProposerDriver with real timers, prom-client metrics and pino logs. Client requests
 * come in through `propose`, which answers at once whether the leader holds the request.
 */
export class ProposerHost {
  readonly proposerId: string;
  readonly #options: ProposerHostOptions;
  readonly #driver: ProposerDriver;
  readonly #metrics: ProposerMetrics;
  readonly #drops: DropReporter;

  constructor(options: ProposerHostOptions) {
    this.proposerId = options.proposerId;
    this.#options = options;
    this.#metrics = proposerMetrics(options.registry, () => this.#driver.load);
    this.#drops = dropReporter(options.registry, options.logger);
    this.#driver = new ProposerDriver({
      proposerId: options.proposerId,
      acceptorIds: options.acceptorIds,
      clock: options.clock ?? realClock,
      transport: options.transport,
      limits: options.limits ?? DEFAULT_LIMITS,
      hostLimits: { ...DEFAULT_HOST_LIMITS, ...options.hostLimits },
      random: options.random ?? Math.random,
      onEvent: (event) => this.#onEvent(event),
    });
  }

  /** Subscribes to the transport and starts the tick timer. */
  start(): void {
    this.#driver.start();
    this.#options.logger.info({ proposerId: this.proposerId }, "proposer started (following until a leader is heard)");
  }

  /** The proposer believed to lead (this one while leading), or null. */
  get leaderId(): string | null {
    return this.#driver.leaderId;
  }

  get role(): ProposerRole {
    return this.#driver.role;
  }

  /**
   * Hands a client request to the core. Replies "queued" when this proposer (the leader) holds
   * it: the outcome then arrives as a DeliveredEvent from the learners. Otherwise replies with the
   * reason the core gave and where the leader is believed to be.
   */
  propose(request: ProposeRequest, context: ServiceContext = {}): ProposeReply {
    return this.#driver.propose({ id: request.requestId, payload: request.payload }, context);
  }

  /** `propose` for the proposals of one ProposeBatch, in one core step (they share slots). */
  proposeMany(requests: readonly ProposeRequest[], context: ServiceContext = {}): ProposeReply[] {
    return this.#driver.proposeMany(
      requests.map(({ requestId, payload }) => ({ request: { id: requestId, payload }, context })),
    );
  }

  /** What `/readyz` reports: ready once a leader is known (this one or another). */
  readiness(): Readiness {
    const leaderId = this.leaderId;
    return {
      ready: leaderId !== null && !this.#driver.failed,
      detail: { proposerId: this.proposerId, role: this.role, leaderId, ballot: this.#driver.ballot },
    };
  }

  /** Stops the timer and intake. Requests not yet chosen are abandoned; clients retry elsewhere. */
  stop(): void {
    this.#driver.stop();
  }

  #onEvent(event: ProposerEvent): void {
    const metrics = this.#metrics;
    const log = this.#options.logger;
    switch (event.kind) {
      case "proposed":
        metrics.proposals.inc({ outcome: event.status });
        break;
      case "received":
        if (event.type === "nack") metrics.nacks.inc();
        break;
      case "dropped":
        this.#drops(event.reason, event.detail);
        break;
      case "rejected":
        // Includes requests this leader held when it stepped down: their clients retry.
        metrics.abandoned.inc({ reason: event.reason });
        break;
      case "chosen":
        metrics.slotsChosen.inc(event.slots);
        break;
      case "slotProposed":
        metrics.batchRequests.observe(event.requests);
        break;
      case "slotChosen":
        observeTraced(metrics.phase2Seconds, event.latencyMs / 1000, {}, event.traceId);
        break;
      case "retransmitted":
        metrics.retransmissions.inc();
        break;
      case "elected":
        metrics.phase1Seconds.observe(event.durationMs / 1000);
        break;
      case "role":
        log.info({ from: event.from, to: event.to, ballot: event.ballot }, `now ${event.to}`);
        metrics.leading.set(event.to === "leader" ? 1 : 0);
        metrics.ballotRound.set(event.ballot.round);
        break;
      case "leader":
        log.info(
          { leaderId: event.leaderId },
          event.leaderId === null ? "no leader known" : `leader is ${event.leaderId}`,
        );
        metrics.leaderChanges.inc();
        break;
      case "fatal":
        this.#options.onFatal(event.error, EXIT_CODES.invariant);
        break;
    }
  }
}

interface ProposerMetrics {
  readonly phase1Seconds: Histogram;
  readonly phase2Seconds: Histogram;
  readonly batchRequests: Histogram;
  readonly retransmissions: Counter;
  readonly proposals: Counter<"outcome">;
  readonly dropped: Counter<"reason">;
  readonly abandoned: Counter<"reason">;
  readonly nacks: Counter;
  readonly slotsChosen: Counter;
  readonly leaderChanges: Counter;
  readonly leading: Gauge;
  readonly ballotRound: Gauge;
}

function proposerMetrics(
  registry: Registry,
  load: () => { readonly inflightSlots: number; readonly pendingRequests: number },
): ProposerMetrics {
  const registers = [registry];
  new Gauge({
    name: "paxos_proposer_inflight_slots",
    help: "Slots this leader has in phase 2 (at most inflightSlotsMax).",
    registers,
    collect() {
      this.set(load().inflightSlots);
    },
  });
  new Gauge({
    name: "paxos_proposer_pending_requests",
    help: "Client requests this leader holds that wait for a slot.",
    registers,
    collect() {
      this.set(load().pendingRequests);
    },
  });
  return {
    phase1Seconds: new Histogram({
      name: "paxos_proposer_phase1_seconds",
      help: "Time from becoming a candidate to leading: phase 1 over every range of the log.",
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    phase2Seconds: exemplarHistogram(registry, {
      name: "paxos_proposer_phase2_seconds",
      help: "Time from a slot's first accept to a majority's accepted: the phase-2 round trip.",
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
    }),
    batchRequests: new Histogram({
      name: "paxos_proposer_batch_requests",
      help: "Client requests in each slot this leader proposes (0 for a no-op).",
      buckets: [0, 1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers,
    }),
    retransmissions: new Counter({
      name: "paxos_proposer_retransmissions_total",
      help: "Accepts this leader resent because no majority answered in time.",
      registers,
    }),
    dropped: droppedMessagesCounter(registry),
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
