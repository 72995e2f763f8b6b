import {
  type AcceptorState,
  type AcceptorStore,
  AcceptorStoreError,
  type AcceptorWrite,
  ZERO_BALLOT,
} from "@paxos/core";
import {
  applyWrite,
  checkAcceptorWrite,
  refusal,
  snapshot,
  type StoredAcceptorState,
  superseded,
} from "@paxos/store-records";

/**
 * The "disk" of a MemoryAcceptorStore: it outlives the stores opened over it, as a disk outlives
 * a process, so a test or a simulator-like host can close a store, open a new one, and see what
 * survived. `wipe()` loses everything, as a replaced disk would.
 */
export class MemoryAcceptorStorage {
  /** Who this storage belongs to; null until a store initialises it (or after a wipe). */
  identity: { readonly cluster: string; readonly acceptorId: string } | null = null;
  readonly state: StoredAcceptorState = { promised: ZERO_BALLOT, accepted: new Map(), chosenBelow: 0 };
  /**
   * The fencing epoch: every open of a store over this storage raises it, and a store's writes
   * apply only while it still equals the epoch that store raised (as the Redis store's epoch key).
   * 0 until a store first opens.
   */
  epoch = 0;

  /** Forgets everything, identity and epoch included. */
  wipe(): void {
    this.identity = null;
    this.state.promised = ZERO_BALLOT;
    this.state.accepted.clear();
    this.state.chosenBelow = 0;
    this.epoch = 0;
  }

  /**
   * True when nothing of an acceptor is stored here. A raised epoch counts as something: it means
   * a store once opened here with an identity, so without the identity it was lost, not new.
   */
  get empty(): boolean {
    return (
      this.identity === null &&
      this.epoch === 0 &&
      this.state.promised === ZERO_BALLOT &&
      this.state.accepted.size === 0
    );
  }
}

/** How a MemoryAcceptorStore finds its storage. */
export interface MemoryAcceptorStoreOptions {
  readonly cluster: string;
  readonly acceptorId: string;
  /** May `open` claim an empty storage for this acceptor? (As PAXOS_ACCEPTOR_INIT for Redis.) */
  readonly allowInit: boolean;
  /** The storage to use; a fresh one when absent (which then needs `allowInit`). */
  readonly storage?: MemoryAcceptorStorage;
}

/**
 * An AcceptorStore in memory, for tests and in-process hosts. It is not durable across process
 * restarts, but it keeps every other promise of the port: identity check on open ("amnesia",
 * "corrupt"), the compare-and-write rule, writes applied in call order, and the fence (a write
 * through a store that a newer open of the same storage superseded is refused with
 * "unavailable"). A write is decided when it is called and resolves on a later microtask, never
 * synchronously, like a real store.
 */
export class MemoryAcceptorStore implements AcceptorStore {
  readonly #options: MemoryAcceptorStoreOptions;
  readonly #storage: MemoryAcceptorStorage;
  #state: "new" | "open" | "closed" = "new";
  /** The storage's epoch as this store's open raised it. */
  #epoch = 0;

  constructor(options: MemoryAcceptorStoreOptions) {
    this.#options = options;
    this.#storage = options.storage ?? new MemoryAcceptorStorage();
  }

  /** The storage behind this store, to open another store over it later. */
  get storage(): MemoryAcceptorStorage {
    return this.#storage;
  }

  /**
   * Checks identity (claiming an empty storage when allowed), raises the storage's epoch (which
   * supersedes every store opened over it before) and returns a copy of the state.
   */
  async open(): Promise<AcceptorState> {
    await Promise.resolve();
    if (this.#state !== "new") throw new Error("MemoryAcceptorStore.open() may be called once");
    const { cluster, acceptorId, allowInit } = this.#options;
    const storage = this.#storage;
    if (storage.identity === null) {
      if (!allowInit || !storage.empty) {
        this.#state = "closed";
        throw new AcceptorStoreError(
          "amnesia",
          `memory storage of acceptor ${acceptorId} has no identity${storage.empty ? "" : " but holds its data"}: ` +
            (storage.empty
              ? "open it with allowInit if the acceptor is new"
              : "it lost its identity; refusing to vote"),
        );
      }
      storage.identity = { cluster, acceptorId };
    } else if (storage.identity.cluster !== cluster || storage.identity.acceptorId !== acceptorId) {
      this.#state = "closed";
      throw new AcceptorStoreError(
        "corrupt",
        `memory storage belongs to acceptor ${storage.identity.acceptorId} of ${storage.identity.cluster}, ` +
          `not ${acceptorId} of ${cluster}`,
      );
    }
    storage.epoch += 1;
    this.#epoch = storage.epoch;
    this.#state = "open";
    return snapshot(storage.state);
  }

  /**
   * Applies the write by the compare-and-write rule; "amnesia" if the storage was wiped under it,
   * "unavailable" if a newer store has opened over the storage since this one did.
   */
  async write(write: AcceptorWrite): Promise<void> {
    checkAcceptorWrite(write);
    if (this.#state !== "open") throw new AcceptorStoreError("unavailable", `memory store is ${this.#state}`);
    // Decide in call order, as a store that serialises its writes does; resolve on a later tick.
    const storage = this.#storage;
    if (storage.identity === null) {
      throw new AcceptorStoreError("amnesia", "memory storage was wiped while the store was open");
    }
    if (storage.epoch !== this.#epoch) throw superseded("memory acceptor store", write);
    const refused = refusal(storage.state.promised, write);
    if (refused !== null) throw refused;
    applyWrite(storage.state, write);
    await Promise.resolve();
  }

  /** Closes the store; later writes reject with "unavailable". The storage keeps its state. */
  async close(): Promise<void> {
    this.#state = "closed";
    await Promise.resolve();
  }
}
