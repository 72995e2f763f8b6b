import type { AcceptorState, AcceptorStore, AcceptorWrite, LearnerStore, SlotValue } from "@paxos/core";

/** How an asynchronous store operation ended. */
export type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown };

/**
 * An acceptor store as a driver uses it: each operation reports its outcome through a callback,
 * never synchronously. The same contract as core's AcceptorStore (open once, each write one atomic
 * compare-and-write that is on disk when it reports success), in a form a deterministic
 * simulator can complete from its own event queue without Promise microtasks in between.
 */
export interface DriverAcceptorStore {
  open(done: (outcome: Outcome<AcceptorState>) => void): void;
  write(write: AcceptorWrite, done: (outcome: Outcome<void>) => void): void;
  /** Closes the store; a failure to close is the adapter's to log. */
  close(): void;
}

/** A learner store as a driver uses it (the contract of core's LearnerStore). */
export interface DriverLearnerStore {
  load(done: (outcome: Outcome<readonly (readonly [number, SlotValue])[]>) => void): void;
  append(
    entries: readonly { readonly slot: number; readonly value: SlotValue }[],
    done: (outcome: Outcome<void>) => void,
  ): void;
  close(): void;
}

function settle<T>(promise: Promise<T>, done: (outcome: Outcome<T>) => void): void {
  promise.then(
    (value) => done({ ok: true, value }),
    (error: unknown) => done({ ok: false, error }),
  );
}

/** A Promise-based AcceptorStore (Redis, file, memory) as a DriverAcceptorStore. */
export function drivenAcceptorStore(store: AcceptorStore, onCloseError: (error: unknown) => void): DriverAcceptorStore {
  return {
    open: (done) => settle(store.open(), done),
    write: (write, done) => settle(store.write(write), done),
    close: () => void store.close().catch(onCloseError),
  };
}

/** A Promise-based LearnerStore (file, memory) as a DriverLearnerStore. */
export function drivenLearnerStore(store: LearnerStore, onCloseError: (error: unknown) => void): DriverLearnerStore {
  return {
    load: (done) => settle(store.load(), done),
    append: (entries, done) => settle(store.append(entries), done),
    close: () => void store.close().catch(onCloseError),
  };
}
