import {
  type AcceptedEntry,
  type AcceptorState,
  AcceptorStoreError,
  type AcceptorWrite,
  type Ballot,
  ballotKey,
  compareBallots,
} from "@paxos/core";

/*
 * The compare-and-write rule of the in-process acceptor stores (MemoryAcceptorStore in
 * @paxos/embedded, FileAcceptorStore in @paxos/store-file), the same one the Redis store runs in
 * Lua: a write never lowers the stored promise, and an accept raises the promise to its ballot in
 * the same step. Each store also fences itself as the Redis store does: a write through a store
 * that a newer open of the same storage superseded is refused (`superseded`), so a write that
 * the host gave up on can never land behind the state a newer store loaded.
 */

/** An acceptor's state as a store holds it, updated in place as writes land. */
export interface StoredAcceptorState {
  promised: Ballot;
  readonly accepted: Map<number, AcceptedEntry>;
  chosenBelow: number;
}

/**
 * Why `write` may not be applied over a stored promise, or null when it may. A write below the
 * stored promise means the caller's state is behind the storage (another writer, or a bug): the
 * store refuses it with "corrupt" and the caller sends nothing.
 */
export function refusal(stored: Ballot, write: AcceptorWrite): AcceptorStoreError | null {
  if (compareBallots(write.promised, stored) >= 0) return null;
  return new AcceptorStoreError(
    "corrupt",
    `refused write of ${ballotKey(write.promised)}: the stored promise ${ballotKey(stored)} is above it`,
  );
}

/**
 * The refusal of a write through `store` after a newer store opened over the same storage. It is
 * "unavailable", as any failed write: the caller sends nothing and replaces its store. Nothing was
 * stored.
 */
export function superseded(store: string, write: AcceptorWrite): AcceptorStoreError {
  return new AcceptorStoreError(
    "unavailable",
    `refused write of ${ballotKey(write.promised)}: this ${store} was superseded by a newer open of the same ` +
      `storage (fenced). Nothing was stored; open a new store.`,
  );
}

/** Applies a write that `refusal` allowed. */
export function applyWrite(state: StoredAcceptorState, write: AcceptorWrite): void {
  state.promised = write.promised;
  if (write.accept !== null) state.accepted.set(write.accept.slot, write.accept);
  state.chosenBelow = Math.max(state.chosenBelow, write.chosenBelow);
}

/** A copy of the state for `open` to return, so the store's own copy stays private. */
export function snapshot(state: StoredAcceptorState): AcceptorState {
  return { promised: state.promised, accepted: new Map(state.accepted), chosenBelow: state.chosenBelow };
}
