import {
  Acceptor,
  type AcceptorState,
  type AcceptorStep,
  type Ballot,
  type ClientRequest,
  compareBallots,
  Learner,
  type LearnerConfig,
  type LearnerStep,
  type Limits,
  type LogEntry,
  type Message,
  Proposer,
  type ProposerConfig,
  type ProposerStep,
  type SlotValue,
} from "@paxos/core";
import type { AcceptorCore, LearnerCore, ProposerCore } from "@paxos/drivers";
import type { AcceptorDiskBugs } from "./sim-stores.ts";

/**
 * Deliberately broken variants of the protocol, each a bug that has broken real Paxos systems or
 * a hole this project once had (issue 7). The simulator applies them around the real core roles
 * and drivers, never inside them: a variant wraps a role, subclasses the Proposer through its two
 * protected seams (the window rule and the request size), or makes a simulated store misbehave.
 * The checkers must catch every one: that is what shows the checkers can fail.
 */
export const VARIANTS = {
  "acceptor-forgets-promise":
    "an acceptor restarts with its promise lowered to its highest accepted ballot (its promise record was not reloaded)",
  "acceptor-accepts-below-promise": "an acceptor accepts a proposal whose ballot is below the promise it holds",
  "accept-keeps-promise": "accepting ballot b does not raise the stored promise to b",
  "proposer-ignores-phase1": "a new leader ignores the values phase 1 reveals and proposes its own",
  "proposer-reuses-ballot": "a restarted proposer reuses its last ballot instead of taking a fresh nonce",
  "learner-double-counts": "a learner counts one acceptor's accepted message as two votes",
  "leader-steps-down-when-idle":
    "hole 1: a leader counts quorum contact from the last answer, so after an idle period it steps down at the first slot",
  "window-counts-inflight":
    "hole 2: the window bounds the slots in flight, not the distance from the watermark, and a promise reports every slot at once",
  "sizes-in-utf16": "hole 3: the leader counts batch sizes in UTF-16 units while limits count UTF-8 bytes",
  "leader-fills-to-far-slot":
    "hole 5: a new leader proposes every slot up to the highest one phase 1 revealed in one step, without a window",
  "store-without-fencing": "hole 4: a store write that timed out can land after the acceptor reopened its store",
  "acceptor-without-lease":
    "hole 6: acceptors promise any higher prepare while a leader is alive, so a proposer that stalled deposes it",
} as const;

/** The name of a broken variant, or "none" for the real protocol. */
export type VariantName = keyof typeof VARIANTS | "none";

/** Seeds tried per broken variant before it counts as not caught (`npm run sim -- --variants`). */
export const VARIANT_SEED_BUDGET = 2000;

/** Every broken variant's name. */
export const VARIANT_NAMES = Object.keys(VARIANTS) as (keyof typeof VARIANTS)[];

/** True when `name` names a broken variant or "none". */
export function isVariantName(name: string): name is VariantName {
  return name === "none" || Object.hasOwn(VARIANTS, name);
}

/** How a variant changes the roles and stores of one run; `none` changes nothing. */
export interface VariantCores {
  readonly disk: AcceptorDiskBugs;
  readonly createAcceptor?: (acceptorId: string) => (state: AcceptorState) => AcceptorCore;
  /** The proposer factory for a start at `startRound` (above 0 only when a ballot is reused). */
  createProposer(startRound: number): ((config: ProposerConfig) => ProposerCore) | undefined;
  readonly createLearner?: (
    config: LearnerConfig,
    restored: readonly (readonly [number, SlotValue])[],
    nowMs: number,
  ) => LearnerCore;
}

/** The roles and store bugs of `variant`, for limits `limits`. */
export function variantCores(variant: VariantName, limits: Limits): VariantCores {
  const disk: AcceptorDiskBugs = {
    forgetsPromise: variant === "acceptor-forgets-promise",
    acceptKeepsPromise: variant === "accept-keeps-promise",
    noFencing: variant === "store-without-fencing",
  };
  const reusing = (startRound: number) =>
    startRound === 0 ? undefined : (config: ProposerConfig) => new Proposer({ ...config, startRound });
  switch (variant) {
    case "acceptor-accepts-below-promise":
      return {
        disk,
        createAcceptor: (id) => (state) => new AcceptsBelowPromise(id, state, limits),
        createProposer: reusing,
      };
    case "window-counts-inflight":
      return {
        disk,
        createAcceptor: (id) => (state) => new PromiseWithoutRanges(id, state, limits),
        createProposer: (startRound) => (config) => new WindowCountsInflight({ ...config, startRound }, limits),
      };
    case "leader-fills-to-far-slot":
      return { disk, createProposer: (startRound) => (config) => new FillsToFarSlot({ ...config, startRound }) };
    case "sizes-in-utf16":
      return { disk, createProposer: (startRound) => (config) => new SizesInUtf16({ ...config, startRound }) };
    case "acceptor-without-lease":
      return {
        disk,
        createAcceptor: (id) => (state) => new AcceptorWithoutLease(id, state, limits),
        createProposer: reusing,
      };
    case "proposer-ignores-phase1":
      return { disk, createProposer: (startRound) => (config) => new IgnoresPhase1({ ...config, startRound }) };
    case "leader-steps-down-when-idle":
      return {
        disk,
        createProposer: (startRound) => (config) => new StepsDownWhenIdle({ ...config, startRound }, limits),
      };
    case "learner-double-counts":
      return {
        disk,
        createProposer: reusing,
        createLearner: (config, restored, nowMs) => new DoubleCounts(config, restored, nowMs),
      };
    default:
      return { disk, createProposer: reusing };
  }
}

/** The bug: an accept below the promise is taken, and the higher promise kept. */
class AcceptsBelowPromise implements AcceptorCore {
  #inner: Acceptor;
  readonly #id: string;
  readonly #limits: Limits;

  constructor(id: string, state: AcceptorState, limits: Limits) {
    this.#id = id;
    this.#limits = limits;
    this.#inner = new Acceptor(id, state, limits);
  }

  get promised(): Ballot {
    return this.#inner.promised;
  }

  receive(msg: Message, nowMs: number): AcceptorStep {
    if (msg.type !== "accept" || compareBallots(msg.ballot, this.#inner.promised) >= 0)
      return this.#inner.receive(msg, nowMs);
    const promised = this.#inner.promised;
    const lowered = new Acceptor(this.#id, { ...this.#inner.state, promised: msg.ballot }, this.#limits);
    const step = lowered.receive(msg, nowMs);
    this.#inner = new Acceptor(this.#id, { ...lowered.state, promised }, this.#limits);
    return { ...step, persist: step.persist && { ...step.persist, promised } };
  }
}

/** A real acceptor whose inputs or outputs a variant bends. */
abstract class BentAcceptor implements AcceptorCore {
  protected readonly inner: Acceptor;

  constructor(id: string, state: AcceptorState, limits: Limits) {
    this.inner = new Acceptor(id, state, limits);
  }

  get promised(): Ballot {
    return this.inner.promised;
  }

  abstract receive(msg: Message, nowMs: number): AcceptorStep;
}

/** The bug: a promise carries every accepted slot from its start, however large. */
class PromiseWithoutRanges extends BentAcceptor {
  receive(msg: Message, nowMs: number): AcceptorStep {
    const step = this.inner.receive(msg, nowMs);
    if (msg.type !== "prepare") return step;
    const state = this.inner.state;
    return {
      ...step,
      send: step.send.map((out) => {
        if (out.type !== "promise") return out;
        const fromSlot = Math.max(msg.fromSlot, state.chosenBelow);
        const accepted = [...state.accepted.values()].filter((e) => e.slot >= fromSlot).sort((a, b) => a.slot - b.slot);
        return { ...out, toSlot: null, accepted };
      }),
    };
  }
}

/** The bug: prepares are judged as if no leader had been heard for a long time. */
class AcceptorWithoutLease extends BentAcceptor {
  receive(msg: Message, nowMs: number): AcceptorStep {
    if (msg.type === "heartbeat") return { persist: null, send: [], refused: null };
    return this.inner.receive(msg, msg.type === "prepare" ? Number.MAX_SAFE_INTEGER : nowMs);
  }
}

/** The bug: a new leader drops what phase 1 revealed. */
class IgnoresPhase1 extends Proposer {
  override receive(msg: Message, nowMs: number): ProposerStep {
    return super.receive(msg.type === "promise" ? { ...msg, accepted: [] } : msg, nowMs);
  }
}

/**
 * The bug of hole 1: quorum contact counts from the last answer heard, so a leader that was idle
 * for a leader timeout steps down at its first tick with a slot in flight. Emulated around the
 * real proposer: when that happens, it is handed a nack above its ballot, which makes it step down.
 */
class StepsDownWhenIdle extends Proposer {
  readonly #leaderTimeoutMs: number;
  readonly #acceptorIds: readonly string[];
  #heardMs = 0;

  constructor(config: ProposerConfig, limits: Limits) {
    super(config);
    this.#leaderTimeoutMs = limits.leaderTimeoutMs;
    this.#acceptorIds = config.acceptorIds;
  }

  override receive(msg: Message, nowMs: number): ProposerStep {
    if ((msg.type === "promise" || msg.type === "accepted") && compareBallots(msg.ballot, this.ballot) === 0) {
      this.#heardMs = nowMs;
    }
    return super.receive(msg, nowMs);
  }

  override tick(nowMs: number): ProposerStep {
    if (this.role === "leader" && this.load.inflightSlots > 0 && nowMs - this.#heardMs >= this.#leaderTimeoutMs) {
      const promised = { round: this.ballot.round + 1, proposerId: this.proposerId };
      const ballot = this.ballot;
      let step: ProposerStep | null = null;
      for (const acceptorId of this.#acceptorIds) {
        if (this.role === "leader") step = super.receive({ type: "nack", ballot, promised, acceptorId }, nowMs);
      }
      if (step !== null) return step;
    }
    return super.tick(nowMs);
  }
}

/** The bug of hole 2: the window counts the slots in flight, so one stuck slot lets the rest run ahead. */
class WindowCountsInflight extends Proposer {
  readonly #inflightSlotsMax: number;

  constructor(config: ProposerConfig, limits: Limits) {
    super(config);
    this.#inflightSlotsMax = limits.inflightSlotsMax;
  }

  protected override windowHasRoom(): boolean {
    return this.load.inflightSlots < this.#inflightSlotsMax;
  }
}

/** The bug of hole 5: no window at all, so what phase 1 revealed is re-proposed in one step. */
class FillsToFarSlot extends Proposer {
  protected override windowHasRoom(): boolean {
    return true;
  }
}

/** The bug of hole 3: batch sizes counted in UTF-16 units, as string length counts them. */
class SizesInUtf16 extends Proposer {
  protected override requestSize(request: ClientRequest): number {
    return request.id.length + JSON.stringify(request.payload).length + 16;
  }
}

/** The bug: one acceptor's accepted message is counted again, as if from another acceptor. */
class DoubleCounts implements LearnerCore {
  readonly #inner: Learner;
  readonly #acceptorIds: readonly string[];

  constructor(config: LearnerConfig, restored: readonly (readonly [number, SlotValue])[], nowMs: number) {
    this.#inner = new Learner(config, restored, nowMs);
    this.#acceptorIds = config.acceptorIds;
  }

  get nextSlot(): number {
    return this.#inner.nextSlot;
  }
  get nextIndex(): number {
    return this.#inner.nextIndex;
  }
  get heldSlots(): { readonly votes: number; readonly reports: number } {
    return this.#inner.heldSlots;
  }

  get gapSlots(): number {
    return this.#inner.gapSlots;
  }
  entry(index: number): LogEntry | undefined {
    return this.#inner.entry(index);
  }
  indexOf(requestId: string): number | undefined {
    return this.#inner.indexOf(requestId);
  }
  tick(nowMs: number): LearnerStep {
    return this.#inner.tick(nowMs);
  }

  receive(msg: Message, nowMs: number): LearnerStep {
    const first = this.#inner.receive(msg, nowMs);
    if (msg.type !== "accepted") return first;
    const ids = this.#acceptorIds;
    const other = ids[(ids.indexOf(msg.acceptorId) + 1) % ids.length] ?? msg.acceptorId;
    const second = this.#inner.receive({ ...msg, acceptorId: other }, nowMs);
    return {
      learned: [...first.learned, ...second.learned],
      delivered: [...first.delivered, ...second.delivered],
      send: [...first.send, ...second.send],
      refused: [...first.refused, ...second.refused],
    };
  }
}
