import {
  Acceptor,
  type AcceptorStep,
  type AcceptorWrite,
  type AcceptedEntry,
  type Ballot,
  ballotKey,
  type ClientRequest,
  compareBallots,
  destinationOf,
  InvariantViolation,
  Learner,
  type LearnerStep,
  type Message,
  Proposer,
  type ProposerStep,
  QuorumConfig,
  type SlotValue,
  ZERO_BALLOT,
} from "@paxos/core";
import { describe, SafetyChecker, type Violation, ViolationError } from "./checkers.ts";
import { EventQueue } from "./event-queue.ts";
import { drawPlan, type RunPlan } from "./plan.ts";
import { Rng } from "./rng.ts";
import type { VariantName } from "./variants.ts";

/** Every kind of fault the simulator injects, as counted in a run's result. */
export const FAULT_KINDS = [
  "drop",
  "duplicate",
  "reorder",
  "partitionSymmetric",
  "partitionOneWay",
  "slowNode",
  "crashAcceptor",
  "crashProposer",
  "crashLearner",
  "crashBeforePersist",
  "crashAfterPersist",
  "learnerCrashBeforePersist",
] as const;

export type FaultKind = (typeof FAULT_KINDS)[number];

/** How to run one seed. */
export interface RunOptions {
  readonly seed: number;
  readonly variant?: VariantName;
  /** Receives a readable line for every event, when given (slow; for replaying one seed). */
  readonly trace?: (line: string) => void;
}

/** What one run did and found. */
export interface RunResult {
  readonly seed: number;
  readonly variant: VariantName;
  readonly plan: RunPlan;
  readonly steps: number;
  readonly virtualMs: number;
  readonly faults: Readonly<Record<FaultKind, number>>;
  readonly requests: number;
  /** Requests delivered at every learner by the end. */
  readonly requestsDecided: number;
  readonly slotsChosen: number;
  /** Deliveries of a request chosen again after a retry, which learners suppressed. */
  readonly duplicatesSuppressed: number;
  readonly violation: Violation | null;
}

/** A client's note from a proposer that turned its request away; not a protocol message. */
interface RejectNote {
  readonly type: "reject";
  readonly requestId: string;
  readonly leaderHint: string | null;
}

type SimMessage = Message | RejectNote;

interface AcceptorNode {
  readonly kind: "acceptor";
  readonly index: number;
  readonly name: string;
  core: Acceptor | null;
  readonly disk: { promised: Ballot; readonly accepted: Map<number, AcceptedEntry>; chosenBelow: number };
}

interface ProposerNode {
  readonly kind: "proposer";
  readonly index: number;
  readonly name: string;
  core: Proposer | null;
  proposerId: string;
  incarnation: number;
  lastRound: number;
  readonly rng: Rng;
}

interface LearnerNode {
  readonly kind: "learner";
  readonly index: number;
  readonly name: string;
  core: Learner | null;
  readonly disk: Map<number, SlotValue>;
  readonly decided: Set<string>;
}

interface ClientNode {
  readonly kind: "client";
  readonly index: number;
  readonly name: string;
  readonly queue: ClientRequest[];
  readonly outstanding: Map<string, { sentMs: number; target: number }>;
  hint: number | null;
}

type Node = AcceptorNode | ProposerNode | LearnerNode | ClientNode;

type SimEvent =
  | { readonly kind: "deliver"; readonly from: number; readonly to: number; readonly msg: SimMessage }
  | { readonly kind: "tick" }
  | { readonly kind: "chaos" }
  | { readonly kind: "restart"; readonly node: number }
  | { readonly kind: "partitionEnd"; readonly id: number }
  | { readonly kind: "slowEnd"; readonly node: number }
  | { readonly kind: "heal" }
  | { readonly kind: "client"; readonly node: number };

/** Runs one seed to its end: the fault phase, healing, then the liveness check. */
export function runSeed(options: RunOptions): RunResult {
  return new Simulation(options).run();
}

class Simulation {
  readonly #seed: number;
  readonly #variant: VariantName;
  readonly #trace: ((line: string) => void) | undefined;
  readonly #rng: Rng;
  #plan: RunPlan;
  readonly #queue = new EventQueue<SimEvent>();
  readonly #nodes: Node[] = [];
  readonly #acceptors: AcceptorNode[] = [];
  readonly #proposers: ProposerNode[] = [];
  readonly #learners: LearnerNode[] = [];
  readonly #clients: ClientNode[] = [];
  readonly #acceptorIds: string[];
  readonly #quorum: QuorumConfig;
  readonly #checker: SafetyChecker;
  readonly #proposerById = new Map<string, ProposerNode>();
  readonly #clientOf = new Map<string, ClientNode>();
  readonly #requestById = new Map<string, ClientRequest>();
  readonly #decided = new Set<string>();
  readonly #faults: Record<FaultKind, number>;
  /** blocked[from * n + to] counts the partitions that block messages from → to. */
  #blocked: Uint8Array = new Uint8Array(0);
  readonly #partitions = new Map<number, readonly (readonly [number, number])[]>();
  #partitionSeq = 0;
  /** Per node: until when everything it sends is held back (0: not slow). */
  #slowUntil: number[] = [];
  #requests = 0;
  #duplicates = 0;
  #nowMs = 0;
  #steps = 0;
  #healed = false;
  #done = false;

  constructor(options: RunOptions) {
    this.#seed = options.seed;
    this.#variant = options.variant ?? "none";
    this.#trace = options.trace;
    this.#rng = new Rng(options.seed);
    this.#plan = drawPlan(this.#rng);
    this.#faults = Object.fromEntries(FAULT_KINDS.map((kind) => [kind, 0])) as Record<FaultKind, number>;
    const plan = this.#plan;
    this.#acceptorIds = Array.from({ length: plan.acceptors }, (_, i) => `a${i + 1}`);
    this.#quorum = new QuorumConfig(this.#acceptorIds);
    this.#checker = new SafetyChecker(this.#quorum);
    for (const name of this.#acceptorIds) {
      const node: AcceptorNode = {
        kind: "acceptor",
        index: this.#nodes.length,
        name,
        core: null,
        disk: { promised: ZERO_BALLOT, accepted: new Map(), chosenBelow: 0 },
      };
      this.#nodes.push(node);
      this.#acceptors.push(node);
    }
    for (let i = 1; i <= plan.proposers; i++) {
      const node: ProposerNode = {
        kind: "proposer",
        index: this.#nodes.length,
        name: `p${i}`,
        core: null,
        proposerId: "",
        incarnation: -1,
        lastRound: 0,
        rng: this.#rng.fork(),
      };
      this.#nodes.push(node);
      this.#proposers.push(node);
    }
    for (let i = 1; i <= plan.learners; i++) {
      const node: LearnerNode = {
        kind: "learner",
        index: this.#nodes.length,
        name: `l${i}`,
        core: null,
        disk: new Map(),
        decided: new Set(),
      };
      this.#nodes.push(node);
      this.#learners.push(node);
    }
    for (let i = 1; i <= plan.clients; i++) {
      const node: ClientNode = {
        kind: "client",
        index: this.#nodes.length,
        name: `c${i}`,
        queue: [],
        outstanding: new Map(),
        hint: null,
      };
      for (let r = 1; r <= plan.requestsPerClient; r++) {
        const payload = this.#rng.chance(0.5) ? this.#rng.int(1000) : `v${this.#rng.int(1000)}`;
        const request: ClientRequest = { id: `${node.name}-r${r}`, payload };
        node.queue.push(request);
        this.#clientOf.set(request.id, node);
        this.#requestById.set(request.id, request);
        this.#requests++;
      }
      this.#nodes.push(node);
      this.#clients.push(node);
    }
    this.#blocked = new Uint8Array(this.#nodes.length * this.#nodes.length);
    this.#slowUntil = this.#nodes.map(() => 0);
  }

  run(): RunResult {
    const plan = this.#plan;
    this.#log(
      `seed ${this.#seed}: ${plan.acceptors} acceptors, ${plan.proposers} proposers, ${plan.learners} learners, ` +
        `${plan.clients} clients × ${plan.requestsPerClient} requests; drop ${pct(plan.dropProbability)}, ` +
        `duplicate ${pct(plan.duplicateProbability)}, reorder ${pct(plan.reorderProbability)}, delay ${plan.delayMinMs}-${plan.delayMaxMs}ms, ` +
        `crash ${pct(plan.crashProbability)}/chaos tick, partition ${pct(plan.partitionProbability)}/chaos tick; ` +
        `heal at ${plan.faultPhaseMs}ms${this.#variant === "none" ? "" : `; variant ${this.#variant}`}`,
    );
    for (const node of this.#nodes) if (node.kind !== "client") this.#restart(node);
    this.#queue.push(0, { kind: "tick" });
    this.#queue.push(plan.chaosIntervalMs, { kind: "chaos" });
    this.#queue.push(plan.faultPhaseMs, { kind: "heal" });
    for (const client of this.#clients) this.#queue.push(this.#rng.int(50), { kind: "client", node: client.index });

    let violation: Violation | null = null;
    try {
      while (!this.#done && this.#queue.size > 0) {
        this.#nowMs = this.#queue.peekTime() ?? this.#nowMs;
        const event = this.#queue.pop();
        this.#steps++;
        this.#handle(event);
      }
      if (!this.#done) violation = { kind: "liveness", message: "the simulation ran out of events" };
    } catch (error) {
      if (error instanceof ViolationError) violation = error.violation;
      else if (error instanceof InvariantViolation) violation = { kind: "assertion", message: error.message };
      else throw error;
    }
    if (violation !== null) this.#log(`VIOLATION ${violation.kind}: ${violation.message}`);
    else this.#log(`done: ${this.#requests} requests decided at every learner`);
    const decidedEverywhere = [...this.#decided].filter((id) => this.#learners.every((l) => l.decided.has(id))).length;
    return {
      seed: this.#seed,
      variant: this.#variant,
      plan,
      steps: this.#steps,
      virtualMs: this.#nowMs,
      faults: this.#faults,
      requests: this.#requests,
      requestsDecided: decidedEverywhere,
      slotsChosen: this.#checker.slotsChosen,
      duplicatesSuppressed: this.#duplicates,
      violation,
    };
  }

  #handle(event: SimEvent): void {
    switch (event.kind) {
      case "deliver":
        this.#deliver(event.from, event.to, event.msg);
        break;
      case "tick":
        this.#tickAll();
        break;
      case "chaos":
        this.#chaos();
        break;
      case "restart": {
        const node = this.#nodes[event.node];
        if (node !== undefined && node.kind !== "client" && node.core === null) this.#restart(node);
        break;
      }
      case "partitionEnd":
        this.#endPartition(event.id);
        break;
      case "slowEnd":
        this.#slowUntil[event.node] = 0;
        break;
      case "heal":
        this.#heal();
        break;
      case "client":
        this.#clientWake(event.node);
        break;
    }
  }

  // ---- network -------------------------------------------------------------------------------

  #send(from: number, msg: Message): void {
    const destination = destinationOf(msg);
    switch (destination.to) {
      case "acceptors":
        for (const node of this.#acceptors) this.#transmit(from, node.index, msg);
        break;
      case "proposer": {
        const node = this.#proposerById.get(destination.proposerId);
        if (node !== undefined) this.#transmit(from, node.index, msg);
        break;
      }
      case "proposersAndLearners":
        for (const node of this.#proposers) if (node.index !== from) this.#transmit(from, node.index, msg);
        for (const node of this.#learners) if (node.index !== from) this.#transmit(from, node.index, msg);
        break;
      case "learner": {
        const node = this.#learners.find((l) => l.name === destination.learnerId);
        if (node !== undefined) this.#transmit(from, node.index, msg);
        break;
      }
      case "acceptorsAndLearners":
        for (const node of this.#acceptors) this.#transmit(from, node.index, msg);
        for (const node of this.#learners) if (node.index !== from) this.#transmit(from, node.index, msg);
        break;
      case "everyone":
        for (const node of this.#acceptors) this.#transmit(from, node.index, msg);
        for (const node of this.#proposers) if (node.index !== from) this.#transmit(from, node.index, msg);
        for (const node of this.#learners) if (node.index !== from) this.#transmit(from, node.index, msg);
        break;
    }
  }

  /** One message on one link: partitions, loss, duplication, delay and reordering apply here. */
  #transmit(from: number, to: number, msg: SimMessage): void {
    const plan = this.#plan;
    const rng = this.#rng;
    if (this.#blocked[from * this.#nodes.length + to] !== 0) {
      if (this.#trace) this.#log(`${this.#name(from)} → ${this.#name(to)} ${describeMessage(msg)} BLOCKED`);
      return;
    }
    if (rng.chance(plan.dropProbability)) {
      this.#faults.drop++;
      if (this.#trace) this.#log(`${this.#name(from)} → ${this.#name(to)} ${describeMessage(msg)} DROPPED`);
      return;
    }
    const copies = rng.chance(plan.duplicateProbability) ? 2 : 1;
    if (copies === 2) this.#faults.duplicate++;
    for (let copy = 0; copy < copies; copy++) {
      let delayMs = rng.between(plan.delayMinMs, plan.delayMaxMs);
      if (rng.chance(plan.reorderProbability)) {
        this.#faults.reorder++;
        delayMs += rng.between(50, 1000);
      }
      if ((this.#slowUntil[from] ?? 0) > this.#nowMs) delayMs += rng.between(100, 600);
      this.#queue.push(this.#nowMs + delayMs, { kind: "deliver", from, to, msg });
    }
  }

  #deliver(from: number, to: number, msg: SimMessage): void {
    const node = this.#nodes[to];
    if (node === undefined) return;
    if (this.#trace)
      this.#log(
        `${this.#name(from)} → ${this.#name(to)} ${describeMessage(msg)}${this.#isDown(node) ? " (down)" : ""}`,
      );
    if (msg.type === "reject") {
      if (node.kind === "client") this.#onReject(node, msg);
      return;
    }
    switch (node.kind) {
      case "acceptor":
        if (node.core !== null) this.#acceptorReceive(node, node.core, msg);
        break;
      case "proposer":
        if (node.core !== null) this.#proposerReceive(node, node.core, msg);
        break;
      case "learner":
        if (node.core !== null) this.#learnerReceive(node, node.core, msg);
        break;
      case "client":
        break;
    }
  }

  // ---- acceptors -----------------------------------------------------------------------------

  #acceptorReceive(node: AcceptorNode, core: Acceptor, msg: Message): void {
    let step: AcceptorStep;
    if (
      this.#variant === "acceptor-accepts-below-promise" &&
      msg.type === "accept" &&
      compareBallots(msg.ballot, core.promised) < 0
    ) {
      // The bug: the acceptor accepts, and keeps its higher promise.
      const promised = core.promised;
      const lowered = new Acceptor(node.name, { ...core.state, promised: msg.ballot }, this.#plan.limits);
      const inner = lowered.receive(msg, this.#nowMs);
      node.core = new Acceptor(node.name, { ...lowered.state, promised }, this.#plan.limits);
      step = { persist: inner.persist && { ...inner.persist, promised }, send: inner.send, refused: null };
    } else {
      step = core.receive(msg, this.#nowMs);
    }
    let write = step.persist;
    if (write !== null && this.#variant === "accept-keeps-promise" && write.accept !== null) {
      write = { ...write, promised: node.disk.promised };
    }
    if (write !== null) {
      if (!this.#healed && this.#rng.chance(this.#plan.crashBeforePersistProbability)) {
        this.#crash(node, "crashBeforePersist");
        return;
      }
      this.#persistAcceptor(node, write);
      if (!this.#healed && this.#rng.chance(this.#plan.crashAfterPersistProbability)) {
        this.#crash(node, "crashAfterPersist");
        return;
      }
    }
    if (node.core !== null) this.#checker.acceptorPromise(node.name, node.core.promised, "after a step");
    for (const out of step.send) this.#send(node.index, out);
  }

  #persistAcceptor(node: AcceptorNode, write: AcceptorWrite): void {
    this.#checker.acceptorWrote(node.name, write);
    node.disk.promised = write.promised;
    if (write.accept !== null) node.disk.accepted.set(write.accept.slot, write.accept);
    node.disk.chosenBelow = Math.max(node.disk.chosenBelow, write.chosenBelow);
  }

  // ---- proposers -----------------------------------------------------------------------------

  #proposerReceive(node: ProposerNode, core: Proposer, msg: Message): void {
    let input = msg;
    if (this.#variant === "proposer-ignores-phase1" && msg.type === "promise") input = { ...msg, accepted: [] };
    this.#afterProposerStep(node, core, core.receive(input, this.#nowMs));
  }

  #afterProposerStep(node: ProposerNode, core: Proposer, step: ProposerStep): void {
    node.lastRound = Math.max(node.lastRound, core.ballot.round);
    for (const out of step.send) this.#send(node.index, out);
    for (const rejection of step.rejected) {
      const client = this.#clientOf.get(rejection.requestId);
      if (client === undefined) continue;
      this.#transmit(node.index, client.index, {
        type: "reject",
        requestId: rejection.requestId,
        leaderHint: rejection.leaderHint,
      });
    }
  }

  // ---- learners ------------------------------------------------------------------------------

  #learnerReceive(node: LearnerNode, core: Learner, msg: Message): void {
    this.#afterLearnerStep(node, core.receive(msg, this.#nowMs));
    if (this.#variant === "learner-double-counts" && msg.type === "accepted" && node.core === core) {
      // The bug: the same acceptor's vote is counted again, as if from another acceptor.
      const ids = this.#acceptorIds;
      const other = ids[(ids.indexOf(msg.acceptorId) + 1) % ids.length] ?? msg.acceptorId;
      this.#afterLearnerStep(node, core.receive({ ...msg, acceptorId: other }, this.#nowMs));
    }
  }

  #afterLearnerStep(node: LearnerNode, step: LearnerStep): void {
    if (step.learned.length > 0) {
      if (!this.#healed && this.#rng.chance(this.#plan.learnerCrashBeforePersistProbability)) {
        this.#crash(node, "learnerCrashBeforePersist");
        return;
      }
      for (const { slot, value } of step.learned) {
        this.#checker.learned(node.name, slot, value);
        node.disk.set(slot, value);
        if (this.#trace) this.#log(`${node.name} learned slot ${slot} = ${describe(value)}`);
      }
    }
    for (const delivery of step.delivered) {
      this.#checker.delivered(node.name, delivery);
      const id = delivery.kind === "delivered" ? delivery.request.id : delivery.requestId;
      if (delivery.kind === "duplicate") this.#duplicates++;
      node.decided.add(id);
      this.#decided.add(id);
      this.#clientOf.get(id)?.outstanding.delete(id);
      if (this.#trace)
        this.#log(`${node.name} ${delivery.kind} ${id} at index ${delivery.index} (slot ${delivery.slot})`);
    }
    for (const out of step.send) this.#send(node.index, out);
  }

  // ---- clients -------------------------------------------------------------------------------

  #clientWake(index: number): void {
    const client = this.#nodes[index];
    if (client?.kind !== "client") return;
    const plan = this.#plan;
    for (const [id, outstanding] of client.outstanding) {
      if (this.#decided.has(id)) {
        client.outstanding.delete(id);
      } else if (this.#nowMs - outstanding.sentMs >= plan.clientRetryMs) {
        // Retry elsewhere: the proposer we tried may be down, deposed or cut off.
        const others = this.#proposers.filter((p) => p.index !== outstanding.target);
        const target = client.hint ?? (others.length > 0 ? this.#rng.pick(others).index : outstanding.target);
        client.hint = null;
        this.#propose(client, id, target);
      }
    }
    while (client.outstanding.size < plan.clientConcurrency && client.queue.length > 0) {
      const request = client.queue.shift();
      if (request === undefined) break;
      this.#checker.submitted(request.id, request.payload);
      this.#propose(client, request.id, client.hint ?? this.#rng.pick(this.#proposers).index);
    }
    if (client.outstanding.size > 0 || client.queue.length > 0) {
      this.#queue.push(this.#nowMs + this.#rng.between(10, 40), { kind: "client", node: index });
    }
  }

  #propose(client: ClientNode, requestId: string, target: number): void {
    const proposer = this.#nodes[target];
    const request = this.#requestById.get(requestId);
    if (proposer?.kind !== "proposer" || request === undefined) return;
    client.outstanding.set(requestId, { sentMs: this.#nowMs, target });
    this.#transmit(client.index, target, { type: "propose", proposerId: proposer.proposerId, request });
  }

  #onReject(client: ClientNode, note: RejectNote): void {
    if (this.#decided.has(note.requestId)) return;
    const hinted = note.leaderHint === null ? undefined : this.#proposerById.get(note.leaderHint);
    client.hint = hinted?.index ?? null;
    const outstanding = client.outstanding.get(note.requestId);
    // Retry at the next wake-up, towards the hinted leader.
    if (outstanding !== undefined) outstanding.sentMs = -Infinity;
  }

  // ---- time, faults, healing -----------------------------------------------------------------

  #tickAll(): void {
    for (const node of this.#proposers) {
      if (node.core !== null) this.#afterProposerStep(node, node.core, node.core.tick(this.#nowMs));
    }
    for (const node of this.#learners) {
      if (node.core !== null) this.#afterLearnerStep(node, node.core.tick(this.#nowMs));
    }
    if (this.#healed) {
      if (this.#learners.every((l) => l.decided.size === this.#requests)) {
        this.#done = true;
        return;
      }
      if (this.#nowMs > this.#plan.faultPhaseMs + this.#plan.livenessBoundMs) {
        const missing = this.#learners
          .map((l) => `${l.name} has ${l.decided.size}/${this.#requests} (next slot ${l.core?.nextSlot ?? "down"})`)
          .join("; ");
        throw new ViolationError(
          "liveness",
          `not every request was decided ${this.#plan.livenessBoundMs}ms after healing: ${missing}`,
        );
      }
    }
    this.#queue.push(this.#nowMs + this.#plan.tickIntervalMs, { kind: "tick" });
  }

  #chaos(): void {
    if (this.#healed) return;
    const plan = this.#plan;
    const rng = this.#rng;
    if (rng.chance(plan.crashProbability)) {
      const candidates = this.#nodes.filter((n) => n.kind !== "client" && n.core !== null);
      if (candidates.length > 0) {
        const node = rng.pick(candidates);
        if (node.kind !== "client") {
          this.#crash(
            node,
            node.kind === "acceptor" ? "crashAcceptor" : node.kind === "proposer" ? "crashProposer" : "crashLearner",
          );
        }
      }
    }
    if (this.#partitions.size === 0 && rng.chance(plan.partitionProbability)) this.#startPartition();
    if (rng.chance(plan.slowNodeProbability)) {
      const node = rng.pick(this.#nodes);
      if ((this.#slowUntil[node.index] ?? 0) <= this.#nowMs) {
        this.#faults.slowNode++;
        const untilMs = this.#nowMs + rng.between(100, 800);
        this.#slowUntil[node.index] = untilMs;
        this.#log(`SLOW ${this.#name(node.index)} until ${untilMs}ms`);
        this.#queue.push(untilMs, { kind: "slowEnd", node: node.index });
      }
    }
    this.#queue.push(this.#nowMs + plan.chaosIntervalMs, { kind: "chaos" });
  }

  #crash(node: AcceptorNode | ProposerNode | LearnerNode, kind: FaultKind): void {
    this.#faults[kind]++;
    node.core = null;
    this.#log(`CRASH ${node.name} (${kind})`);
    this.#queue.push(this.#nowMs + this.#rng.between(50, 600), { kind: "restart", node: node.index });
  }

  #restart(node: AcceptorNode | ProposerNode | LearnerNode): void {
    const limits = this.#plan.limits;
    switch (node.kind) {
      case "acceptor": {
        let promised = node.disk.promised;
        if (this.#variant === "acceptor-forgets-promise") {
          promised = ZERO_BALLOT;
          for (const entry of node.disk.accepted.values())
            if (compareBallots(entry.ballot, promised) > 0) promised = entry.ballot;
        }
        node.core = new Acceptor(
          node.name,
          { promised, accepted: new Map(node.disk.accepted), chosenBelow: node.disk.chosenBelow },
          limits,
        );
        this.#checker.acceptorPromise(node.name, node.core.promised, "after a restart");
        break;
      }
      case "proposer": {
        const reuse = this.#variant === "proposer-reuses-ballot" && node.incarnation >= 0;
        if (!reuse) {
          this.#proposerById.delete(node.proposerId);
          node.incarnation++;
          node.proposerId = `${node.name}-${node.incarnation}`;
        }
        this.#proposerById.set(node.proposerId, node);
        node.core = new Proposer({
          proposerId: node.proposerId,
          acceptorIds: this.#acceptorIds,
          limits,
          random: () => node.rng.next(),
          nowMs: this.#nowMs,
          startRound: reuse ? Math.max(0, node.lastRound - 1) : 0,
        });
        break;
      }
      case "learner": {
        const log = [...node.disk.entries()].sort((a, b) => a[0] - b[0]);
        node.core = new Learner({ learnerId: node.name, acceptorIds: this.#acceptorIds, limits }, log, this.#nowMs);
        this.#checker.learnerRestarted(node.name, node.core.nextIndex);
        break;
      }
    }
    if (this.#steps > 0) this.#log(`RESTART ${node.kind === "proposer" ? node.proposerId : node.name}`);
  }

  #startPartition(): void {
    const rng = this.#rng;
    const n = this.#nodes.length;
    const side = this.#nodes.map(() => rng.chance(0.5));
    const oneWay = rng.chance(this.#plan.oneWayShare);
    const links: (readonly [number, number])[] = [];
    for (let a = 0; a < n; a++) {
      for (let b = 0; b < n; b++) {
        if (a === b || side[a] === side[b]) continue;
        if (oneWay && !side[a]) continue; // only messages from the "true" side to the other are lost
        links.push([a, b]);
      }
    }
    if (links.length === 0) return;
    this.#faults[oneWay ? "partitionOneWay" : "partitionSymmetric"]++;
    for (const [a, b] of links) this.#blocked[a * n + b]!++;
    const id = this.#partitionSeq++;
    this.#partitions.set(id, links);
    const group = (flag: boolean): string =>
      this.#nodes
        .filter((_, i) => side[i] === flag)
        .map((x) => x.name)
        .join(",");
    this.#log(`PARTITION ${oneWay ? "one-way" : "symmetric"} {${group(true)}} ${oneWay ? "→" : "↮"} {${group(false)}}`);
    this.#queue.push(this.#nowMs + rng.between(100, 600), { kind: "partitionEnd", id });
  }

  #endPartition(id: number): void {
    const links = this.#partitions.get(id);
    if (links === undefined) return;
    const n = this.#nodes.length;
    for (const [a, b] of links) this.#blocked[a * n + b]!--;
    this.#partitions.delete(id);
    this.#log(`PARTITION healed`);
  }

  /** Ends the fault phase: no more loss, duplication, reordering, partitions or crashes. */
  #heal(): void {
    this.#healed = true;
    for (const id of [...this.#partitions.keys()]) this.#endPartition(id);
    this.#slowUntil.fill(0);
    this.#plan = { ...this.#plan, dropProbability: 0, duplicateProbability: 0, reorderProbability: 0 };
    for (const node of this.#nodes) if (node.kind !== "client" && node.core === null) this.#restart(node);
    this.#log("HEAL: faults stop; every request must now be decided");
  }

  #isDown(node: Node): boolean {
    return node.kind !== "client" && node.core === null;
  }

  #name(index: number): string {
    const node = this.#nodes[index];
    if (node === undefined) return `#${index}`;
    return node.kind === "proposer" ? node.proposerId : node.name;
  }

  #log(line: string): void {
    if (this.#trace) this.#trace(`${String(this.#nowMs).padStart(6)}ms  ${line}`);
  }
}

function pct(p: number): string {
  return `${(p * 100).toFixed(1)}%`;
}

/** A compact readable form of a message, for traces. */
export function describeMessage(msg: SimMessage): string {
  const b = (ballot: Ballot): string => ballotKey(ballot);
  switch (msg.type) {
    case "prepare":
      return `prepare ${b(msg.ballot)} from slot ${msg.fromSlot}`;
    case "promise":
      return `promise ${msg.acceptorId} ${b(msg.ballot)} [${msg.accepted.map((e) => `${e.slot}@${b(e.ballot)}=${describe(e.value)}`).join(" ")}]`;
    case "accept":
      return `accept ${b(msg.ballot)} slot ${msg.slot} = ${describe(msg.value)}`;
    case "accepted":
      return `accepted ${msg.acceptorId} ${b(msg.ballot)} slot ${msg.slot}`;
    case "nack":
      return `nack ${msg.acceptorId} ${b(msg.ballot)} promised ${b(msg.promised)}`;
    case "chosen":
      return `chosen slot ${msg.slot} = ${describe(msg.value)}`;
    case "heartbeat":
      return `heartbeat ${b(msg.ballot)} next ${msg.nextSlot} chosen below ${msg.chosenBelow}`;
    case "catchup":
      return `catchup ${msg.learnerId} slots [${msg.fromSlot}, ${msg.toSlot})`;
    case "catchupReply":
      return `catchupReply ${msg.acceptorId} → ${msg.learnerId} [${msg.fromSlot}, ${msg.toSlot}) ${msg.accepted.length} entries`;
    case "propose":
      return `propose ${msg.request.id}=${JSON.stringify(msg.request.payload)}`;
    case "reject":
      return `reject ${msg.requestId} hint ${msg.leaderHint ?? "none"}`;
  }
}
