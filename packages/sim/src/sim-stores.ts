import {
  type AcceptedEntry,
  type AcceptorState,
  AcceptorStoreError,
  type AcceptorWrite,
  type Ballot,
  compareBallots,
  type SlotValue,
  ZERO_BALLOT,
} from "@paxos/core";
import type { DriverAcceptorStore, DriverLearnerStore, Outcome } from "@paxos/drivers";

/**
 * What the simulated stores need from the simulation: its clock and randomness, and two ways to
 * schedule work. `atDisk` runs on the storage's side (a write sent to Redis lands whether the
 * acceptor process lives or not); `inProcess` runs in the process that owns the store, and is
 * lost if that process crashed in between and deferred while it is paused.
 */
export interface StoreWorld {
  /** True once faults have stopped: stores then behave. */
  healed(): boolean;
  chance(p: number): boolean;
  between(min: number, max: number): number;
  /** The simulated time now. */
  nowMs(): number;
  atDisk(delayMs: number, fn: () => void): void;
  inProcess(delayMs: number, fn: () => void): void;
  /** Crashes the owning process now, counting `kind`. */
  crash(kind: "crashBeforePersist" | "crashAfterPersist" | "lateWriteAfterCrash" | "learnerCrashBeforePersist"): void;
  count(kind: "storeSlow" | "storeFailure" | "storeLostReply" | "fencedWrite"): void;
}

/** How often a store misbehaves while faults are on, and how slow its slow writes are. */
export interface StoreFaults {
  readonly crashBeforePersistProbability: number;
  readonly crashAfterPersistProbability: number;
  /** The acceptor crashes with a write on its way, which lands 1–400 ms later anyway. */
  readonly lateWriteProbability: number;
  /** A write takes longer than the driver's write timeout, and lands after it gave up. */
  readonly slowWriteProbability: number;
  readonly failProbability: number;
  /** The write lands, but its reply is an error (a connection lost after the fsync). */
  readonly lostReplyProbability: number;
  readonly learnerCrashBeforePersistProbability: number;
  readonly latencyMaxMs: number;
  readonly writeTimeoutMs: number;
}

/** What an acceptor's Redis holds; it outlives the stores opened over it and the process. */
export class SimAcceptorDisk {
  epoch = 0;
  promised: Ballot = ZERO_BALLOT;
  readonly accepted = new Map<number, AcceptedEntry>();
  chosenBelow = 0;
}

/** Deliberate store bugs, for the broken variants. */
export interface AcceptorDiskBugs {
  /** Open returns the promise lowered to the highest accepted ballot. */
  readonly forgetsPromise: boolean;
  /** An accept leaves the stored promise where it was. */
  readonly acceptKeepsPromise: boolean;
  /** Writes apply whatever epoch they carry. */
  readonly noFencing: boolean;
}

function unavailable(message: string): Outcome<never> {
  return { ok: false, error: new AcceptorStoreError("unavailable", message) };
}

/**
 * An acceptor store over a SimAcceptorDisk, as the Redis store behaves: `open` raises the
 * fencing epoch and loads the state; each write applies in one step, only while its store's
 * epoch is the stored one, after a latency. While faults are on, writes are slow (past the
 * driver's timeout, landing later), fail, lose their reply after landing, or their process
 * crashes before or after the write lands, or with the write still on its way. `onApplied` sees
 * every write that reached the disk, for the checkers.
 */
export class SimAcceptorStore implements DriverAcceptorStore {
  readonly #disk: SimAcceptorDisk;
  readonly #world: StoreWorld;
  readonly #faults: StoreFaults;
  readonly #bugs: AcceptorDiskBugs;
  readonly #onApplied: (write: AcceptorWrite) => void;
  #epoch = -1;
  #closed = false;
  /** When this store's last write reaches the disk: writes land in the order issued, as Redis's do. */
  #lastLandsAtMs = 0;

  constructor(
    disk: SimAcceptorDisk,
    world: StoreWorld,
    faults: StoreFaults,
    bugs: AcceptorDiskBugs,
    onApplied: (write: AcceptorWrite) => void,
  ) {
    this.#disk = disk;
    this.#world = world;
    this.#faults = faults;
    this.#bugs = bugs;
    this.#onApplied = onApplied;
  }

  open(done: (outcome: Outcome<AcceptorState>) => void): void {
    const world = this.#world;
    world.atDisk(world.between(0, this.#faults.latencyMaxMs), () => {
      if (!world.healed() && world.chance(this.#faults.failProbability)) {
        world.count("storeFailure");
        world.inProcess(0, () => done(unavailable("simulated: Redis unreachable")));
        return;
      }
      const disk = this.#disk;
      this.#epoch = ++disk.epoch;
      let promised = disk.promised;
      if (this.#bugs.forgetsPromise && disk.accepted.size > 0) {
        promised = ZERO_BALLOT;
        for (const entry of disk.accepted.values())
          if (compareBallots(entry.ballot, promised) > 0) promised = entry.ballot;
      }
      const state: AcceptorState = { promised, accepted: new Map(disk.accepted), chosenBelow: disk.chosenBelow };
      world.inProcess(0, () => done({ ok: true, value: state }));
    });
  }

  /**
   * Applies a write when it lands. Writes may be pipelined: like commands on one Redis connection
   * they land in the order issued, each no earlier than the one before, so a slow write holds up
   * those behind it.
   */
  write(write: AcceptorWrite, done: (outcome: Outcome<void>) => void): void {
    const world = this.#world;
    const faults = this.#faults;
    const epoch = this.#epoch;
    if (this.#closed) return world.inProcess(0, () => done(unavailable("store closed")));
    const latencyMs = world.between(0, faults.latencyMaxMs);
    const land = (): boolean => this.#apply(write, epoch);
    if (!world.healed()) {
      if (world.chance(faults.crashBeforePersistProbability)) return world.crash("crashBeforePersist");
      if (world.chance(faults.lateWriteProbability)) {
        world.crash("lateWriteAfterCrash");
        this.#atDiskInOrder(world.between(1, 400), land);
        return;
      }
      if (world.chance(faults.slowWriteProbability)) {
        world.count("storeSlow");
        const slowMs = faults.writeTimeoutMs + world.between(1, 300);
        this.#atDiskInOrder(slowMs, () => {
          const landed = land();
          world.inProcess(0, () => done(landed ? { ok: true, value: undefined } : unavailable("fenced")));
        });
        return;
      }
      if (world.chance(faults.failProbability)) {
        world.count("storeFailure");
        world.inProcess(latencyMs, () => done(unavailable("simulated: write failed")));
        return;
      }
      if (world.chance(faults.lostReplyProbability)) {
        world.count("storeLostReply");
        this.#atDiskInOrder(latencyMs, () => {
          land();
          world.inProcess(0, () => done(unavailable("simulated: connection lost after the write")));
        });
        return;
      }
      if (world.chance(faults.crashAfterPersistProbability)) {
        this.#atDiskInOrder(latencyMs, () => {
          land();
          world.crash("crashAfterPersist");
        });
        return;
      }
    }
    this.#atDiskInOrder(latencyMs, () => {
      const landed = land();
      world.inProcess(0, () => done(landed ? { ok: true, value: undefined } : unavailable("fenced")));
    });
  }

  #atDiskInOrder(delayMs: number, fn: () => void): void {
    const nowMs = this.#world.nowMs();
    this.#lastLandsAtMs = Math.max(this.#lastLandsAtMs, nowMs + delayMs);
    this.#world.atDisk(this.#lastLandsAtMs - nowMs, fn);
  }

  close(): void {
    this.#closed = true;
  }

  /** Applies `write` if its epoch is still the stored one (the Redis write script's rule). */
  #apply(write: AcceptorWrite, epoch: number): boolean {
    const disk = this.#disk;
    if (disk.epoch !== epoch && !this.#bugs.noFencing) {
      this.#world.count("fencedWrite");
      return false;
    }
    const applied =
      this.#bugs.acceptKeepsPromise && write.accept !== null ? { ...write, promised: disk.promised } : write;
    this.#onApplied(applied);
    disk.promised = applied.promised;
    if (applied.accept !== null) disk.accepted.set(applied.accept.slot, applied.accept);
    disk.chosenBelow = Math.max(disk.chosenBelow, applied.chosenBelow);
    return true;
  }
}

/**
 * A learner store over a map that outlives the process, as the file store behaves: appends land
 * after a latency; while faults are on they fail, or the learner crashes before they land.
 * `onApplied` sees every slot that reached the disk.
 */
export class SimLearnerStore implements DriverLearnerStore {
  readonly #disk: Map<number, SlotValue>;
  readonly #world: StoreWorld;
  readonly #faults: StoreFaults;
  readonly #onApplied: (slot: number, value: SlotValue) => void;

  constructor(
    disk: Map<number, SlotValue>,
    world: StoreWorld,
    faults: StoreFaults,
    onApplied: (slot: number, value: SlotValue) => void,
  ) {
    this.#disk = disk;
    this.#world = world;
    this.#faults = faults;
    this.#onApplied = onApplied;
  }

  load(done: (outcome: Outcome<readonly (readonly [number, SlotValue])[]>) => void): void {
    this.#world.atDisk(this.#world.between(0, this.#faults.latencyMaxMs), () => {
      const log = [...this.#disk.entries()].sort((a, b) => a[0] - b[0]);
      this.#world.inProcess(0, () => done({ ok: true, value: log }));
    });
  }

  append(
    entries: readonly { readonly slot: number; readonly value: SlotValue }[],
    done: (outcome: Outcome<void>) => void,
  ): void {
    const world = this.#world;
    const latencyMs = world.between(0, this.#faults.latencyMaxMs);
    if (!world.healed()) {
      if (world.chance(this.#faults.learnerCrashBeforePersistProbability))
        return world.crash("learnerCrashBeforePersist");
      if (world.chance(this.#faults.failProbability)) {
        world.count("storeFailure");
        world.inProcess(latencyMs, () => done({ ok: false, error: new Error("simulated: append failed") }));
        return;
      }
    }
    world.atDisk(latencyMs, () => {
      for (const { slot, value } of entries) {
        this.#onApplied(slot, value);
        this.#disk.set(slot, value);
      }
      world.inProcess(0, () => done({ ok: true, value: undefined }));
    });
  }

  close(): void {}
}
