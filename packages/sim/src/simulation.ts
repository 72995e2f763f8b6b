import {
  Acceptor,
  type Ballot,
  ballotKey,
  type ClientRequest,
  type Delivery,
  invariant,
  InvariantViolation,
  type Message,
  NOOP,
  QuorumConfig,
  type SlotValue,
} from "@paxos/core";
import {
  type AcceptorCore,
  AcceptorDriver,
  type AcceptorEvent,
  type Clock,
  LearnerDriver,
  type LearnerEvent,
  type ProposeOutcome,
  ProposerDriver,
  type ProposerEvent,
} from "@paxos/drivers";
import { BusTransport, type BusMessage, Subjects } from "@paxos/wire";
import { describe, SafetyChecker, type Violation, ViolationError } from "./checkers.ts";
import { EventQueue } from "./event-queue.ts";
import { drawPlan, type RunPlan } from "./plan.ts";
import { Rng } from "./rng.ts";
import { SimBus, SimNetwork, type SimSubscription } from "./sim-bus.ts";
import { SimAcceptorDisk, SimAcceptorStore, SimLearnerStore, type StoreWorld } from "./sim-stores.ts";
import { type VariantName, variantCores } from "./variants.ts";

/** Every kind of fault the simulator injects, as counted in a run's result. */
export const FAULT_KINDS = [
  "drop",
  "duplicate",
  "reorder",
  "partitionSymmetric",
  "partitionOneWay",
  "slowNode",
  "pause",
  "crashAcceptor",
  "crashProposer",
  "crashLearner",
  "crashBeforePersist",
  "crashAfterPersist",
  "lateWriteAfterCrash",
  "learnerCrashBeforePersist",
  "storeSlow",
  "storeFailure",
  "storeLostReply",
  "largeRequest",
  "idlePeriod",
  "farSlot",
  "pauseInIdle",
  "minorityDown",
] as const;

export type FaultKind = (typeof FAULT_KINDS)[number];

/** What the checkers saw the protocol do about the faults, as counted in a run's result. */
export const OUTCOME_KINDS = [
  /** Writes that landed after a newer open and were refused by the fencing epoch. */
  "fencedWrite",
  /** Messages the transport refused to send or receive (too large, malformed, unknown sender). */
  "transportDrop",
  /** Inputs a role dropped unused (far slots, far rounds, prepares while a leader lives). */
  "refused",
  /** Leader changes once the cluster had settled after healing. */
  "leaderChangeAfterSettle",
  /** Promises that reported a range short of the log's end, and catch-up answers cut short. */
  "rangedPromise",
  "shortCatchupReply",
] as const;

export type OutcomeKind = (typeof OUTCOME_KINDS)[number];

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
  readonly outcomes: Readonly<Record<OutcomeKind, number>>;
  readonly requests: number;
  /** Requests delivered at every learner by the end. */
  readonly requestsDecided: number;
  readonly slotsChosen: number;
  /** Deliveries of a request chosen again after a retry, which learners suppressed. */
  readonly duplicatesSuppressed: number;
  /** The longest time a request took to be decided everywhere, counted after healing. */
  readonly decisionMsMax: number;
  readonly violation: Violation | null;
}

/** What a client and a proposer say to each other (the service API, not the protocol). */
type ClientNote =
  /** The requests a client had for one proposer in one wake-up, as a gateway batches them. */
  | { readonly type: "propose"; readonly requests: readonly ClientRequest[] }
  | {
      readonly type: "replies";
      readonly replies: readonly { readonly requestId: string; readonly outcome: ProposeOutcome }[];
    };

interface ProcessBase {
  readonly index: number;
  readonly name: string;
  up: boolean;
  /** Bumped at every crash: events of an earlier incarnation are lost. */
  incarnation: number;
  pausedUntilMs: number;
  /** What arrived while paused: timers run first on resume, then the rest, each in order. */
  readonly pausedTimers: (() => void)[];
  readonly pausedOther: (() => void)[];
  readonly timers: Map<number, () => void>;
  transport: BusTransport | null;
}

interface AcceptorNode extends ProcessBase {
  readonly kind: "acceptor";
  driver: AcceptorDriver | null;
  readonly disk: SimAcceptorDisk;
  /** Stays down after healing (one of a minority). */
  downAfterHeal: boolean;
}

interface ProposerNode extends ProcessBase {
  readonly kind: "proposer";
  driver: ProposerDriver | null;
  proposerId: string;
  starts: number;
  lastRound: number;
  readonly rng: Rng;
}

interface LearnerNode extends ProcessBase {
  readonly kind: "learner";
  driver: LearnerDriver | null;
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

type ProcessNode = AcceptorNode | ProposerNode | LearnerNode;
type Node = ProcessNode | ClientNode;

type SimEvent =
  | {
      readonly kind: "process";
      readonly node: number;
      readonly incarnation: number;
      readonly timer: boolean;
      readonly run: () => void;
    }
  | { readonly kind: "disk"; readonly run: () => void }
  | { readonly kind: "note"; readonly from: number; readonly to: number; readonly note: ClientNote }
  | { readonly kind: "check" }
  | { readonly kind: "chaos" }
  | { readonly kind: "restart"; readonly node: number }
  | { readonly kind: "resume"; readonly node: number }
  | { readonly kind: "partitionEnd"; readonly id: number }
  | { readonly kind: "slowEnd"; readonly node: number }
  | { readonly kind: "heal" }
  | { readonly kind: "burst"; readonly number: number }
  | { readonly kind: "pauseFollower"; readonly forMs: number }
  | { readonly kind: "client"; readonly node: number };

const CLUSTER = "sim";

/** Runs one seed to its end: the fault phase, healing, idle bursts, then the liveness checks. */
export function runSeed(options: RunOptions): RunResult {
  return new Simulation(options).run();
}

/**
 * One simulated run. Every acceptor, proposer and learner is the driver that ships
 * (@paxos/drivers) over a BusTransport (@paxos/wire: the codec with its size and depth limits,
 * the schemas, the production subjects and subscriptions) on a simulated NATS; stores are
 * simulated with latency, failures, timeouts, late writes and fencing; time is virtual. Faults
 * are drawn from the seed, so a run replays exactly.
 */
class Simulation {
  readonly #seed: number;
  readonly #variant: VariantName;
  readonly #trace: ((line: string) => void) | undefined;
  readonly #rng: Rng;
  #plan: RunPlan;
  readonly #queue = new EventQueue<SimEvent>();
  readonly #network: SimNetwork;
  readonly #subjects = new Subjects(CLUSTER);
  readonly #nodes: Node[] = [];
  readonly #acceptors: AcceptorNode[] = [];
  readonly #proposers: ProposerNode[] = [];
  readonly #learners: LearnerNode[] = [];
  readonly #clients: ClientNode[] = [];
  readonly #acceptorIds: string[];
  readonly #checker: SafetyChecker;
  readonly #proposerById = new Map<string, ProposerNode>();
  readonly #clientOf = new Map<string, ClientNode>();
  readonly #requestById = new Map<string, ClientRequest>();
  /** When each request was first sent, and when it was decided at every learner. */
  readonly #sentMs = new Map<string, number>();
  readonly #decidedEverywhere = new Set<string>();
  readonly #burstRequests: ClientRequest[][] = [];
  readonly #faults: Record<FaultKind, number>;
  readonly #outcomes: Record<OutcomeKind, number>;
  /** blocked[from * n + to] counts the partitions that block messages from → to. */
  #blocked: Uint8Array = new Uint8Array(0);
  readonly #partitions = new Map<number, readonly (readonly [number, number])[]>();
  #partitionSeq = 0;
  #slowUntil: number[] = [];
  #timerSeq = 0;
  /** Messages each process published in the current event, and which processes did. */
  #publishedThisStep: number[] = [];
  readonly #publishers: number[] = [];
  #requests = 0;
  #duplicates = 0;
  #decisionMsMax = 0;
  #nowMs = 0;
  #steps = 0;
  #healed = false;
  #healMs = 0;
  /** Once every request sent before healing is decided: bursts follow, leader changes count. */
  #settledMs: number | null = null;
  #burstsSent = 0;
  #burstsDone = 0;
  /** Idle periods with their bursts in which the leader changed, and whether the current one did. */
  #burstsWithLeaderChange = 0;
  #leaderChangedThisBurst = false;
  /** When the burst scheduled last goes out (bursts wait for the one before to be decided). */
  #burstDueMs = 0;
  #done = false;

  constructor(options: RunOptions) {
    this.#seed = options.seed;
    this.#variant = options.variant ?? "none";
    this.#trace = options.trace;
    this.#rng = new Rng(options.seed);
    this.#plan = drawPlan(this.#rng);
    this.#faults = Object.fromEntries(FAULT_KINDS.map((kind) => [kind, 0])) as Record<FaultKind, number>;
    this.#outcomes = Object.fromEntries(OUTCOME_KINDS.map((kind) => [kind, 0])) as Record<OutcomeKind, number>;
    this.#network = new SimNetwork(
      (from, to, subject, data) => this.#transmitBus(from, to, subject, data),
      (from) => this.#countPublish(from),
    );
    const plan = this.#plan;
    this.#acceptorIds = Array.from({ length: plan.acceptors }, (_, i) => `a${i + 1}`);
    this.#checker = new SafetyChecker(new QuorumConfig(this.#acceptorIds));
    const base = (name: string): ProcessBase => ({
      index: this.#nodes.length,
      name,
      up: false,
      incarnation: 0,
      pausedUntilMs: 0,
      pausedTimers: [],
      pausedOther: [],
      timers: new Map(),
      transport: null,
    });
    for (const name of this.#acceptorIds) {
      const node: AcceptorNode = {
        ...base(name),
        kind: "acceptor",
        driver: null,
        disk: new SimAcceptorDisk(),
        downAfterHeal: false,
      };
      this.#nodes.push(node);
      this.#acceptors.push(node);
    }
    for (let i = 1; i <= plan.proposers; i++) {
      const node: ProposerNode = {
        ...base(`p${i}`),
        kind: "proposer",
        driver: null,
        proposerId: "",
        starts: 0,
        lastRound: 0,
        rng: this.#rng.fork(),
      };
      this.#nodes.push(node);
      this.#proposers.push(node);
    }
    for (let i = 1; i <= plan.learners; i++) {
      const node: LearnerNode = {
        ...base(`l${i}`),
        kind: "learner",
        driver: null,
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
      for (let r = 1; r <= plan.requestsPerClient; r++) node.queue.push(this.#newRequest(node, `r${r}`));
      this.#nodes.push(node);
      this.#clients.push(node);
    }
    for (let burst = 1; burst <= plan.idleBursts; burst++) {
      const requests: ClientRequest[] = [];
      for (const client of this.#clients) {
        for (let r = 1; r <= plan.requestsPerBurst; r++) requests.push(this.#newRequest(client, `b${burst}-${r}`));
      }
      this.#burstRequests.push(requests);
    }
    this.#blocked = new Uint8Array(this.#nodes.length * this.#nodes.length);
    this.#slowUntil = this.#nodes.map(() => 0);
    this.#publishedThisStep = this.#nodes.map(() => 0);
    const stale = this.#acceptors[this.#rng.int(this.#acceptors.length)];
    if (plan.farSlot !== null && stale !== undefined) {
      // An older version's leftover: one vote for a no-op far ahead, at a ballot below every new one.
      this.#faults.farSlot++;
      const ballot = { round: 1, proposerId: "old-0" };
      stale.disk.promised = ballot;
      stale.disk.accepted.set(plan.farSlot, { slot: plan.farSlot, ballot, value: NOOP });
    }
  }

  /**
   * Every input is bounded: one step of a proposer sends at most a window of accepts, with a few
   * more messages. A step that sends more is doing unbounded work in one go (issue 7, hole 5: a
   * million accepts in one step). (Acceptors and learners drain a queue in one event, one step
   * per queued input, so a count per event says nothing about them.)
   */
  #countPublish(from: number): void {
    if (this.#nodes[from]?.kind !== "proposer") return;
    const count = (this.#publishedThisStep[from] ?? 0) + 1;
    this.#publishedThisStep[from] = count;
    if (count === 1) this.#publishers.push(from);
    const limits = this.#plan.limits;
    const bound = 2 * Math.max(limits.inflightSlotsMax, limits.catchupSlotsMax) + 8;
    if (count > bound) {
      throw new ViolationError("boundedness", `${this.#name(from)} sent more than ${bound} messages in one step`);
    }
  }

  run(): RunResult {
    const plan = this.#plan;
    this.#log(
      `seed ${this.#seed}: ${plan.acceptors} acceptors, ${plan.proposers} proposers, ${plan.learners} learners, ` +
        `${plan.clients} clients × ${plan.requestsPerClient} requests (${pct(plan.largeRequestShare)} large), ` +
        `then ${plan.idleBursts} bursts after ${plan.idlePeriodMs}ms idle; drop ${pct(plan.dropProbability)}, ` +
        `duplicate ${pct(plan.duplicateProbability)}, reorder ${pct(plan.reorderProbability)}, delay ${plan.delayMinMs}-${plan.delayMaxMs}ms, ` +
        `crash ${pct(plan.crashProbability)}/chaos tick, partition ${pct(plan.partitionProbability)}/chaos tick, ` +
        `pause ${pct(plan.pauseProbability)}/chaos tick; heal at ${plan.faultPhaseMs}ms` +
        `${plan.acceptorsDownAfterHeal > 0 ? `, ${plan.acceptorsDownAfterHeal} acceptor(s) stay down` : ""}` +
        `${this.#variant === "none" ? "" : `; variant ${this.#variant}`}`,
    );
    for (const node of this.#nodes) if (node.kind !== "client") this.#start(node);
    this.#queue.push(plan.checkIntervalMs, { kind: "check" });
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
        for (const node of this.#publishers) this.#publishedThisStep[node] = 0;
        this.#publishers.length = 0;
      }
      if (!this.#done) violation = { kind: "liveness", message: "the simulation ran out of events" };
    } catch (error) {
      if (error instanceof ViolationError) violation = error.violation;
      else if (error instanceof InvariantViolation) violation = { kind: "assertion", message: error.message };
      else throw error;
    }
    if (violation !== null) this.#log(`VIOLATION ${violation.kind}: ${violation.message}`);
    else this.#log(`done: ${this.#requests} requests decided at every learner`);
    return {
      seed: this.#seed,
      variant: this.#variant,
      plan,
      steps: this.#steps,
      virtualMs: this.#nowMs,
      faults: this.#faults,
      outcomes: this.#outcomes,
      requests: this.#requests,
      requestsDecided: this.#decidedEverywhere.size,
      slotsChosen: this.#checker.slotsChosen,
      duplicatesSuppressed: this.#duplicates,
      decisionMsMax: this.#decisionMsMax,
      violation,
    };
  }

  #newRequest(client: ClientNode, suffix: string): ClientRequest {
    const rng = this.#rng;
    const id = `${client.name}-${suffix}`;
    let payload: string | number;
    if (rng.chance(this.#plan.largeRequestShare)) {
      // Multi-byte text close to requestBytesMax: 3 UTF-8 bytes per character, 1 UTF-16 unit.
      this.#faults.largeRequest++;
      const charsMax = Math.floor((this.#plan.limits.requestBytesMax - 64) / 3);
      payload = "漢字かな".repeat(charsMax).slice(0, rng.between(Math.floor(charsMax / 2), charsMax));
    } else {
      payload = rng.chance(0.5) ? rng.int(1000) : `v${rng.int(1000)}`;
    }
    const request: ClientRequest = { id, payload };
    this.#clientOf.set(id, client);
    this.#requestById.set(id, request);
    this.#requests++;
    return request;
  }

  #handle(event: SimEvent): void {
    switch (event.kind) {
      case "process":
        this.#inProcess(event.node, event.incarnation, event.timer, event.run);
        break;
      case "disk":
        event.run();
        break;
      case "note":
        this.#deliverNote(event.from, event.to, event.note);
        break;
      case "check":
        this.#check();
        break;
      case "chaos":
        this.#chaos();
        break;
      case "restart": {
        const node = this.#nodes[event.node];
        if (node === undefined || node.kind === "client" || node.up) break;
        if (node.kind === "acceptor" && node.downAfterHeal) break;
        this.#start(node);
        break;
      }
      case "resume":
        this.#resume(event.node);
        break;
      case "partitionEnd":
        this.#endPartition(event.id);
        break;
      case "slowEnd":
        this.#slowUntil[event.node] = 0;
        break;
      case "heal":
        this.#heal();
        break;
      case "burst":
        this.#burst(event.number);
        break;
      case "pauseFollower": {
        const followers = this.#proposers.filter((p) => p.up && p.driver?.role !== "leader");
        if (followers.length > 0) this.#pause(this.#rng.pick(followers), "pauseInIdle", event.forMs);
        break;
      }
      case "client":
        this.#clientWake(event.node);
        break;
    }
  }

  // ---- processes -----------------------------------------------------------------------------

  /** Runs `run` in a process, unless it crashed since (`incarnation`); defers it while paused. */
  #inProcess(index: number, incarnation: number, timer: boolean, run: () => void): void {
    const node = this.#nodes[index];
    if (node === undefined || node.kind === "client" || !node.up || node.incarnation !== incarnation) return;
    if (node.pausedUntilMs > this.#nowMs) {
      (timer ? node.pausedTimers : node.pausedOther).push(run);
      return;
    }
    run();
  }

  #schedule(node: ProcessNode, delayMs: number, run: () => void, timer = false): void {
    this.#queue.push(this.#nowMs + delayMs, {
      kind: "process",
      node: node.index,
      incarnation: node.incarnation,
      timer,
      run,
    });
  }

  #clockOf(node: ProcessNode): Clock {
    return {
      now: () => this.#nowMs,
      setTimer: (delayMs, fn) => {
        const id = ++this.#timerSeq;
        node.timers.set(id, fn);
        this.#schedule(
          node,
          delayMs,
          () => {
            const due = node.timers.get(id);
            node.timers.delete(id);
            due?.();
          },
          true,
        );
        return { cancel: () => node.timers.delete(id) };
      },
    };
  }

  #storeWorld(node: ProcessNode): StoreWorld {
    const rng = this.#rng;
    return {
      healed: () => this.#healed,
      chance: (p) => rng.chance(p),
      between: (min, max) => rng.between(min, max),
      nowMs: () => this.#nowMs,
      atDisk: (delayMs, fn) => this.#queue.push(this.#nowMs + delayMs, { kind: "disk", run: fn }),
      inProcess: (delayMs, fn) => this.#schedule(node, delayMs, fn),
      crash: (kind) => {
        if (node.up) this.#crash(node, kind);
      },
      count: (kind) => {
        if (kind === "fencedWrite") this.#outcomes.fencedWrite++;
        else this.#faults[kind]++;
      },
    };
  }

  #transport(node: ProcessNode): BusTransport {
    return new BusTransport({
      bus: new SimBus(this.#network, node.index),
      subjects: this.#subjects,
      acceptorIds: this.#acceptorIds,
      limits: this.#plan.limits,
      onDrop: (reason, subject, detail) => {
        this.#outcomes.transportDrop++;
        if (this.#trace) this.#log(`${node.name} transport dropped ${reason} on ${subject}: ${detail}`);
      },
      onHandlerError: (error) => {
        throw error;
      },
    });
  }

  #start(node: ProcessNode): void {
    node.up = true;
    node.pausedUntilMs = 0;
    node.transport = this.#transport(node);
    const cores = variantCores(this.#variant, this.#plan.limits);
    const common = {
      clock: this.#clockOf(node),
      transport: node.transport,
      limits: this.#plan.limits,
      hostLimits: this.#plan.hostLimits,
    };
    const world = this.#storeWorld(node);
    switch (node.kind) {
      case "acceptor": {
        const driver = new AcceptorDriver({
          ...common,
          acceptorId: node.name,
          createStore: () =>
            new SimAcceptorStore(node.disk, world, this.#plan.storeFaults, cores.disk, (write) =>
              this.#checker.acceptorWrote(node.name, write),
            ),
          onEvent: (event) => this.#onAcceptorEvent(node, event),
          createAcceptor: (state) =>
            this.#observedAcceptor(
              cores.createAcceptor?.(node.name)(state) ?? new Acceptor(node.name, state, this.#plan.limits),
            ),
        });
        node.driver = driver;
        driver.start();
        break;
      }
      case "proposer": {
        const reuse = this.#variant === "proposer-reuses-ballot" && node.starts > 0;
        if (!reuse) {
          this.#proposerById.delete(node.proposerId);
          node.proposerId = `${node.name}-${node.starts}`;
        }
        node.starts++;
        this.#proposerById.set(node.proposerId, node);
        const createProposer = cores.createProposer(reuse ? Math.max(0, node.lastRound - 1) : 0);
        const driver = new ProposerDriver({
          ...common,
          proposerId: node.proposerId,
          acceptorIds: this.#acceptorIds,
          random: () => node.rng.next(),
          onEvent: (event) => this.#onProposerEvent(node, event),
          ...(createProposer === undefined ? {} : { createProposer }),
        });
        node.driver = driver;
        driver.start();
        break;
      }
      case "learner": {
        const driver = new LearnerDriver({
          ...common,
          learnerId: node.name,
          acceptorIds: this.#acceptorIds,
          createStore: () =>
            new SimLearnerStore(node.disk, world, this.#plan.storeFaults, (slot, value) => {
              this.#checker.learned(node.name, slot, value);
              if (this.#trace) this.#log(`${node.name} stored slot ${slot} = ${describe(value)}`);
            }),
          onEvent: (event) => this.#onLearnerEvent(node, event),
          ...(cores.createLearner === undefined ? {} : { createLearner: cores.createLearner }),
        });
        node.driver = driver;
        driver.start();
        break;
      }
    }
    if (this.#steps > 0) this.#log(`START ${node.kind === "proposer" ? node.proposerId : node.name}`);
  }

  #crash(node: ProcessNode, kind: FaultKind, restart = true): void {
    this.#faults[kind]++;
    if (node.kind === "proposer" && node.driver !== null)
      node.lastRound = Math.max(node.lastRound, node.driver.ballot.round);
    node.up = false;
    node.incarnation++;
    node.timers.clear();
    node.pausedTimers.length = 0;
    node.pausedOther.length = 0;
    node.driver = null;
    node.transport = null;
    this.#network.disconnect(node.index);
    this.#log(`CRASH ${node.name} (${kind})`);
    if (restart) this.#queue.push(this.#nowMs + this.#rng.between(50, 600), { kind: "restart", node: node.index });
  }

  #pause(node: ProcessNode, kind: "pause" | "pauseInIdle", forMs: number): void {
    if (!node.up || node.pausedUntilMs > this.#nowMs) return;
    this.#faults[kind]++;
    node.pausedUntilMs = this.#nowMs + forMs;
    this.#log(`PAUSE ${node.name} for ${forMs}ms`);
    this.#queue.push(node.pausedUntilMs, { kind: "resume", node: node.index });
  }

  /** Ends a pause: overdue timers run first, then what arrived, as Node's event loop orders them. */
  #resume(index: number): void {
    const node = this.#nodes[index];
    if (node === undefined || node.kind === "client" || !node.up || node.pausedUntilMs > this.#nowMs) return;
    node.pausedUntilMs = 0;
    const incarnation = node.incarnation;
    const waiting = [...node.pausedTimers.splice(0), ...node.pausedOther.splice(0)];
    this.#log(`RESUME ${node.name} (${waiting.length} waiting)`);
    for (const run of waiting) {
      if (!node.up || node.incarnation !== incarnation) break;
      run();
      this.#publishedThisStep[node.index] = 0; // each input that waited is a step of its own
    }
  }

  /** Counts the answers that were cut to fit one message, on their way out of `core`. */
  #observedAcceptor(core: AcceptorCore): AcceptorCore {
    return {
      get promised() {
        return core.promised;
      },
      receive: (msg, nowMs) => {
        const step = core.receive(msg, nowMs);
        for (const out of step.send) {
          if (out.type === "promise" && out.toSlot !== null) this.#outcomes.rangedPromise++;
          if (out.type === "catchupReply" && msg.type === "catchup" && out.toSlot < msg.toSlot) {
            this.#outcomes.shortCatchupReply++;
          }
        }
        return step;
      },
    };
  }

  /**
   * What every driver reports alike: an input a role refused (not one the host dropped for want
   * of a store or queue room), and a broken invariant, which in production exits the process 70.
   */
  #onCommonEvent(node: ProcessNode, event: AcceptorEvent | ProposerEvent | LearnerEvent): void {
    if (event.kind === "fatal") this.#fatal(node, event.error);
    // Every simulated process is correct, so a conflict (which hosts only count and log, since
    // in production it may be a forgery) is a broken protocol here.
    if (event.kind === "dropped" && event.reason === "conflict") {
      throw new ViolationError("assertion", `${node.name} refused a conflicting value: ${event.detail}`);
    }
    if (event.kind === "dropped" && event.reason !== "notVoting" && event.reason !== "queueFull") {
      this.#outcomes.refused++;
    }
  }

  #onAcceptorEvent(node: AcceptorNode, event: AcceptorEvent): void {
    this.#onCommonEvent(node, event);
    if (event.kind === "voting") this.#checker.acceptorPromise(node.name, event.promised, "after an open");
  }

  #onProposerEvent(node: ProposerNode, event: ProposerEvent): void {
    switch (event.kind) {
      case "role":
        node.lastRound = Math.max(node.lastRound, event.ballot.round);
        if (event.to === "leader") {
          this.#log(`${node.proposerId} leads at ${ballotKey(event.ballot)}`);
          if (this.#settledMs !== null) {
            this.#outcomes.leaderChangeAfterSettle++;
            if (!this.#leaderChangedThisBurst) this.#burstsWithLeaderChange++;
            this.#leaderChangedThisBurst = true;
          }
        }
        break;
      default:
        this.#onCommonEvent(node, event);
        break;
    }
  }

  #onLearnerEvent(node: LearnerNode, event: LearnerEvent): void {
    switch (event.kind) {
      case "loaded":
        // Deliveries go out before their append, so a restarted learner comes back with at most
        // what it delivered; it delivers the rest again, at the same indices (the checker holds it).
        this.#checker.learnerRestarted(node.name, event.nextIndex);
        break;
      case "delivered":
        for (const delivery of event.deliveries) this.#delivered(node, delivery);
        break;
      default:
        this.#onCommonEvent(node, event);
        break;
    }
  }

  /** A driver stopped on a broken invariant: in production the process would exit 70. */
  #fatal(node: ProcessNode, error: unknown): never {
    if (error instanceof ViolationError) throw error;
    const message = error instanceof Error ? error.message : String(error);
    throw new ViolationError("assertion", `${node.name} stopped: ${message}`);
  }

  #delivered(node: LearnerNode, delivery: Delivery): void {
    this.#checker.delivered(node.name, delivery);
    const id = delivery.kind === "delivered" ? delivery.request.id : delivery.requestId;
    if (delivery.kind === "duplicate") this.#duplicates++;
    node.decided.add(id);
    if (this.#trace)
      this.#log(`${node.name} ${delivery.kind} ${id} at index ${delivery.index} (slot ${delivery.slot})`);
    if (this.#decidedEverywhere.has(id) || !this.#learners.every((l) => l.decided.has(id))) return;
    this.#decidedEverywhere.add(id);
    this.#clientOf.get(id)?.outstanding.delete(id);
    if (this.#healed) {
      const sentMs = Math.max(this.#sentMs.get(id) ?? this.#healMs, this.#healMs);
      this.#decisionMsMax = Math.max(this.#decisionMsMax, this.#nowMs - sentMs);
    }
  }

  // ---- network -------------------------------------------------------------------------------

  /** One message of the simulated NATS to one subscription: the link's faults apply. */
  #transmitBus(from: number, to: SimSubscription, subject: string, data: Uint8Array): void {
    const target = this.#nodes[to.node];
    if (target === undefined || target.kind === "client") return;
    const incarnation = target.incarnation;
    const deliver = (): void => {
      if (!to.live) return;
      const message: BusMessage = { subject, data, headers: {}, respond: () => false };
      if (this.#trace) this.#log(`${this.#name(from)} → ${target.name} ${subject}`);
      to.handler(message);
    };
    this.#link(from, to.node, subject, (delayMs) =>
      this.#queue.push(this.#nowMs + delayMs, {
        kind: "process",
        node: to.node,
        incarnation,
        timer: false,
        run: deliver,
      }),
    );
  }

  /** Partitions, loss, duplication, delay and reordering of one message on one link. */
  #link(from: number, to: number, what: string, send: (delayMs: number) => void): void {
    const plan = this.#plan;
    const rng = this.#rng;
    if (this.#blocked[from * this.#nodes.length + to] !== 0) {
      if (this.#trace) this.#log(`${this.#name(from)} → ${this.#name(to)} ${what} BLOCKED`);
      return;
    }
    if (rng.chance(plan.dropProbability)) {
      this.#faults.drop++;
      if (this.#trace) this.#log(`${this.#name(from)} → ${this.#name(to)} ${what} DROPPED`);
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
      send(delayMs);
    }
  }

  #note(from: number, to: number, note: ClientNote): void {
    this.#link(from, to, note.type, (delayMs) =>
      this.#queue.push(this.#nowMs + delayMs, { kind: "note", from, to, note }),
    );
  }

  #deliverNote(from: number, to: number, note: ClientNote): void {
    const node = this.#nodes[to];
    if (node === undefined) return;
    if (note.type === "replies") {
      if (node.kind === "client") for (const reply of note.replies) this.#onReply(node, reply.requestId, reply.outcome);
      return;
    }
    if (node.kind !== "proposer") return;
    // The proposer's service answers in the process: lost if it is down, late if it is paused.
    this.#inProcess(node.index, node.incarnation, false, () => {
      const outcomes = node.driver?.proposeMany(note.requests.map((request) => ({ request })));
      if (outcomes === undefined) return;
      const replies = note.requests.map((request, i) => {
        const outcome = outcomes[i];
        invariant(outcome !== undefined, "one outcome per request");
        return { requestId: request.id, outcome };
      });
      this.#note(to, from, { type: "replies", replies });
    });
  }

  // ---- clients -------------------------------------------------------------------------------

  #clientWake(index: number): void {
    const client = this.#nodes[index];
    if (client?.kind !== "client") return;
    const plan = this.#plan;
    const batches = new Map<number, ClientRequest[]>();
    for (const [id, outstanding] of client.outstanding) {
      if (this.#decidedEverywhere.has(id)) {
        client.outstanding.delete(id);
      } else if (this.#nowMs - outstanding.sentMs >= plan.clientRetryMs) {
        // Retry elsewhere: the proposer we tried may be down, deposed or cut off.
        const others = this.#proposers.filter((p) => p.index !== outstanding.target);
        const target = client.hint ?? (others.length > 0 ? this.#rng.pick(others).index : outstanding.target);
        client.hint = null;
        this.#propose(client, id, target, batches);
      }
    }
    while (client.outstanding.size < plan.clientConcurrency && client.queue.length > 0) {
      const request = client.queue.shift();
      if (request === undefined) break;
      this.#checker.submitted(request.id, request.payload);
      this.#sentMs.set(request.id, this.#nowMs);
      this.#propose(client, request.id, client.hint ?? this.#rng.pick(this.#proposers).index, batches);
    }
    this.#sendBatches(client, batches);
    if (client.outstanding.size > 0 || client.queue.length > 0) {
      this.#queue.push(this.#nowMs + this.#rng.between(10, 40), { kind: "client", node: index });
    }
  }

  /** Marks `requestId` sent to `target` and adds it to that proposer's batch of this wake-up. */
  #propose(client: ClientNode, requestId: string, target: number, batches: Map<number, ClientRequest[]>): void {
    const request = this.#requestById.get(requestId);
    if (request === undefined) return;
    client.outstanding.set(requestId, { sentMs: this.#nowMs, target });
    const batch = batches.get(target) ?? [];
    batches.set(target, batch);
    batch.push(request);
  }

  /** One propose note per proposer, of at most `batchRequestsMax` requests, as ProposeBatcher sends. */
  #sendBatches(client: ClientNode, batches: Map<number, ClientRequest[]>): void {
    const max = this.#plan.limits.batchRequestsMax;
    for (const [target, requests] of batches) {
      for (let i = 0; i < requests.length; i += max) {
        this.#note(client.index, target, { type: "propose", requests: requests.slice(i, i + max) });
      }
    }
  }

  #onReply(client: ClientNode, requestId: string, outcome: ProposeOutcome): void {
    if (this.#decidedEverywhere.has(requestId) || outcome.status === "queued") return;
    const hinted = outcome.leaderHint === null ? undefined : this.#proposerById.get(outcome.leaderHint);
    client.hint = hinted?.index ?? null;
    const outstanding = client.outstanding.get(requestId);
    // Retry at the next wake-up, towards the hinted leader.
    if (outstanding !== undefined) outstanding.sentMs = -Infinity;
  }

  #burst(number: number): void {
    this.#burstsDone = number;
    const requests = this.#burstRequests[number - 1] ?? [];
    this.#faults.idlePeriod++;
    this.#log(`BURST ${number}: ${requests.length} requests after ${this.#plan.idlePeriodMs}ms idle`);
    for (const request of requests) this.#clientOf.get(request.id)?.queue.push(request);
    for (const client of this.#clients) this.#clientWake(client.index);
  }

  // ---- time, faults, healing -----------------------------------------------------------------

  /** The liveness checks, every checkIntervalMs: the run ends once every request is decided. */
  #check(): void {
    const plan = this.#plan;
    if (this.#healed) {
      if (this.#decidedEverywhere.size === this.#requests) {
        this.#done = true;
        return;
      }
      if (this.#burstsWithLeaderChange > plan.burstsWithLeaderChangeMax) {
        throw new ViolationError(
          "liveness",
          `the leader changed during ${this.#burstsWithLeaderChange} idle periods or bursts after the cluster settled ` +
            `(${this.#outcomes.leaderChangeAfterSettle} changes)`,
        );
      }
      // Settled, or the last burst decided: everything sent so far is decided everywhere.
      const quiet =
        this.#clients.every((c) => c.queue.length === 0) &&
        this.#decidedEverywhere.size === this.#sentMs.size &&
        this.#nowMs >= this.#burstDueMs;
      if (quiet && (this.#settledMs !== null || this.#stableLeader())) {
        if (this.#settledMs === null) {
          this.#settledMs = this.#nowMs;
          this.#log(`SETTLED: every request so far is decided; ${plan.idleBursts} idle bursts follow`);
        }
        if (this.#burstsSent < this.#burstsDone + 1) this.#scheduleBurst();
      }
      for (const [id, sentMs] of this.#sentMs) {
        if (this.#decidedEverywhere.has(id)) continue;
        const waitedMs = this.#nowMs - Math.max(sentMs, this.#healMs);
        if (waitedMs > plan.requestDecisionBoundMs) {
          const missing = this.#learners
            .map((l) => `${l.name} ${l.decided.has(id) ? "has it" : `is at slot ${l.driver?.durableSlot ?? "down"}`}`)
            .join(", ");
          throw new ViolationError(
            "liveness",
            `request ${id} was not decided ${plan.requestDecisionBoundMs}ms after healing or sending (${missing})`,
          );
        }
      }
      if (
        this.#nowMs >
        this.#healMs + plan.livenessBoundMs + plan.idleBursts * (plan.idlePeriodMs + plan.requestDecisionBoundMs)
      ) {
        const proposers = this.#proposers
          .map(
            (p) =>
              `${p.proposerId} ${p.driver?.role ?? "down"} at ${p.driver === null ? "-" : ballotKey(p.driver.ballot)}`,
          )
          .join(", ");
        const acceptors = this.#acceptors.map((a) => `${a.name} promised ${ballotKey(a.disk.promised)}`).join(", ");
        throw new ViolationError(
          "liveness",
          `the run did not finish after healing: ${this.#decidedEverywhere.size}/${this.#requests} decided, ` +
            `${this.#settledMs === null ? "never settled" : `${this.#burstsDone} bursts done`}; ${proposers}; ${acceptors}`,
        );
      }
    }
    this.#queue.push(this.#nowMs + plan.checkIntervalMs, { kind: "check" });
  }

  /**
   * One proposer leads and every proposer follows it. (Acceptors may still hold a higher promise
   * that an idle leader cannot know of, from a candidacy that lost the race to its heartbeat: the
   * first burst then costs one leader change, which `burstsWithLeaderChangeMax` allows.)
   */
  #stableLeader(): boolean {
    const leader = this.#proposers.find((p) => p.driver?.role === "leader");
    return leader !== undefined && this.#proposers.every((p) => p.up && p.driver?.leaderId === leader.proposerId);
  }

  /**
   * Once the cluster settled, and again once each burst is decided: the next burst follows an
   * idle period longer than a leader timeout, during which a follower may pause long enough for
   * its election timer to be overdue when it resumes. Neither may change the leader.
   */
  #scheduleBurst(): void {
    const plan = this.#plan;
    const number = ++this.#burstsSent;
    if (number > plan.idleBursts) return;
    this.#leaderChangedThisBurst = false;
    const burstMs = this.#nowMs + plan.idlePeriodMs;
    this.#burstDueMs = burstMs;
    this.#queue.push(burstMs, { kind: "burst", number });
    const pauseMs = plan.idlePeriodMs - 30;
    if (plan.pauseFollowerInIdle && pauseMs > plan.limits.leaderTimeoutMs) {
      this.#queue.push(this.#nowMs + 10, { kind: "pauseFollower", forMs: pauseMs });
    }
  }

  #chaos(): void {
    if (this.#healed) return;
    const plan = this.#plan;
    const rng = this.#rng;
    if (rng.chance(plan.crashProbability)) {
      const candidates = this.#nodes.filter((n): n is ProcessNode => n.kind !== "client" && n.up);
      if (candidates.length > 0) {
        const node = rng.pick(candidates);
        this.#crash(
          node,
          node.kind === "acceptor" ? "crashAcceptor" : node.kind === "proposer" ? "crashProposer" : "crashLearner",
        );
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
    if (rng.chance(plan.pauseProbability)) {
      const processes = this.#nodes.filter((n): n is ProcessNode => n.kind !== "client");
      this.#pause(
        rng.pick(processes),
        "pause",
        rng.between(plan.limits.leaderTimeoutMs, 4 * plan.limits.leaderTimeoutMs),
      );
    }
    this.#queue.push(this.#nowMs + plan.chaosIntervalMs, { kind: "chaos" });
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

  /**
   * Ends the fault phase: no more loss, duplication, reordering, partitions, pauses or store
   * faults; every process is up again, except a minority of acceptors when the plan says so.
   */
  #heal(): void {
    this.#healed = true;
    this.#healMs = this.#nowMs;
    for (const id of [...this.#partitions.keys()]) this.#endPartition(id);
    this.#slowUntil.fill(0);
    this.#plan = { ...this.#plan, dropProbability: 0, duplicateProbability: 0, reorderProbability: 0 };
    const down = this.#rng.int(this.#acceptors.length);
    for (let i = 0; i < this.#plan.acceptorsDownAfterHeal; i++) {
      const node = this.#acceptors[(down + i) % this.#acceptors.length];
      if (node === undefined) continue;
      node.downAfterHeal = true;
      if (node.up) this.#crash(node, "minorityDown", false);
      else this.#faults.minorityDown++;
    }
    for (const node of this.#nodes) {
      if (node.kind === "client") continue;
      if (node.up && node.pausedUntilMs > this.#nowMs) {
        node.pausedUntilMs = this.#nowMs;
        this.#resume(node.index);
      }
      if (!node.up && !(node.kind === "acceptor" && node.downAfterHeal)) this.#start(node);
    }
    this.#log("HEAL: faults stop; every request must now be decided");
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

/** A compact readable form of a protocol message, for traces. */
export function describeMessage(msg: Message): string {
  const b = (ballot: Ballot): string => ballotKey(ballot);
  switch (msg.type) {
    case "prepare":
      return `prepare ${b(msg.ballot)} from slot ${msg.fromSlot}`;
    case "promise":
      return `promise ${msg.acceptorId} ${b(msg.ballot)} [${msg.fromSlot}, ${msg.toSlot ?? "∞"}) ${msg.accepted.length} entries`;
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
  }
}
