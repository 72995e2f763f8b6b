// The contract every AcceptorStore keeps (packages/core/src/ports.ts), as one suite that the
// test files run over each implementation through an AcceptorStoreHarness.
import {
  type AcceptedEntry,
  type AcceptorState,
  type AcceptorStore,
  AcceptorStoreError,
  type AcceptorStoreErrorCode,
  type AcceptorWrite,
  type Ballot,
  type SlotValue,
  ZERO_BALLOT,
} from "@paxos/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

/** One acceptor's storage under test, and the faults a test may inflict on it. */
export interface AcceptorStoreHarness {
  /** A new, unopened store over this storage. */
  store(options: { readonly allowInit: boolean }): AcceptorStore;
  /** Erases everything this acceptor stored, as a replaced disk or a FLUSHALL would. */
  wipe(): Promise<void>;
  /** Erases only the identity record, leaving the votes. */
  loseIdentity(): Promise<void>;
  /** Crashes the storage itself and brings it back (kill -9 of redis-server); may do nothing. */
  crash(): Promise<void>;
  /** Releases everything the harness holds. */
  dispose(): Promise<void>;
}

/** A ballot. */
export function ballot(round: number, proposerId: string): Ballot {
  return { round, proposerId };
}

/** A batch value with one request, distinct per `id`. */
export function value(id: string): SlotValue {
  return { kind: "batch", requests: [{ id, payload: { id, n: [1, 2.5, "x"], nested: { ok: true } } }] };
}

/** The write of an accept of `v` in `slot` at `b`, which raises the promise to `b`. */
export function acceptWrite(slot: number, b: Ballot, v: SlotValue = value(`v${slot}.${b.round}`)): AcceptorWrite {
  const entry: AcceptedEntry = { slot, ballot: b, value: v };
  return { promised: b, accept: entry, chosenBelow: 0 };
}

/** The write of a promise of `b` alone. */
export function promiseWrite(b: Ballot): AcceptorWrite {
  return { promised: b, accept: null, chosenBelow: 0 };
}

/** Expects `promise` to reject with an AcceptorStoreError of `code`, and returns the error. */
export async function expectStoreError(
  promise: Promise<unknown>,
  code: AcceptorStoreErrorCode,
): Promise<AcceptorStoreError> {
  const error: unknown = await promise.then(
    () => new Error(`expected an AcceptorStoreError "${code}", but it resolved`),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AcceptorStoreError);
  expect((error as AcceptorStoreError).code).toBe(code);
  return error as AcceptorStoreError;
}

/** Deterministic shuffle (a small LCG), so a failure replays the same order. */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  const result = [...items];
  let state = seed;
  for (let i = result.length - 1; i > 0; i--) {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    const j = state % (i + 1);
    [result[i], result[j]] = [result[j] as T, result[i] as T];
  }
  return result;
}

/** Runs the AcceptorStore contract over the stores `makeHarness` builds (a fresh storage per test). */
export function acceptorStoreContract(name: string, makeHarness: () => Promise<AcceptorStoreHarness>): void {
  describe(`AcceptorStore contract: ${name}`, () => {
    let harness: AcceptorStoreHarness;
    let opened: AcceptorStore[] = [];

    /** Opens a new store over the harness's storage; closed after the test. */
    async function open(allowInit: boolean): Promise<{ store: AcceptorStore; state: AcceptorState }> {
      const store = harness.store({ allowInit });
      opened.push(store);
      return { store, state: await store.open() };
    }

    /** Closes `store` and opens a new one without allowInit: what a restarted acceptor sees. */
    async function reopen(store: AcceptorStore): Promise<{ store: AcceptorStore; state: AcceptorState }> {
      await store.close();
      return await open(false);
    }

    beforeEach(async () => {
      harness = await makeHarness();
      opened = [];
    });

    afterEach(async () => {
      for (const store of opened) await store.close();
      await harness.dispose();
    });

    it("opens an empty storage with allowInit as the empty state", async () => {
      const { state } = await open(true);
      expect(state.promised).toEqual(ZERO_BALLOT);
      expect(state.accepted.size).toBe(0);
      expect(state.chosenBelow).toBe(0);
    });

    it("keeps every acknowledged write across close, a crash of the storage, and reopen", async () => {
      const { store } = await open(true);
      await store.write(promiseWrite(ballot(1, "p-a")));
      await store.write(acceptWrite(0, ballot(2, "p-a"), value("zero")));
      await store.write(acceptWrite(5, ballot(3, "p-b"), value("five")));
      await store.write(acceptWrite(0, ballot(3, "p-b"), value("zero-again")));
      await store.write(promiseWrite(ballot(4, "p-c")));
      await store.close();
      await harness.crash();
      const { state } = await open(false);
      expect(state.promised).toEqual(ballot(4, "p-c"));
      expect(state.accepted).toEqual(
        new Map([
          [0, { slot: 0, ballot: ballot(3, "p-b"), value: value("zero-again") }],
          [5, { slot: 5, ballot: ballot(3, "p-b"), value: value("five") }],
        ]),
      );
    });

    it("never lowers the promise: a lower write rejects with corrupt and changes nothing", async () => {
      const { store } = await open(true);
      await store.write(acceptWrite(1, ballot(5, "p_x"), value("kept")));
      const lower: AcceptorWrite[] = [
        promiseWrite(ballot(4, "p_z")), // lower round, higher id
        promiseWrite(ballot(5, "p-x")), // same round, "-" (0x2d) below "_" (0x5f) byte-wise
        promiseWrite(ballot(5, "P_x")), // same round, "P" below "p" byte-wise
        promiseWrite(ballot(5, "p")), // a prefix is lower
        acceptWrite(1, ballot(2, "p_x"), value("lost")),
        acceptWrite(2, ballot(5, "p_w"), value("lost")),
      ];
      for (const write of lower) await expectStoreError(store.write(write), "corrupt");
      // Equal is allowed (a repeated prepare, or the accept of the promised ballot), and so is higher.
      await store.write(promiseWrite(ballot(5, "p_x")));
      await store.write(promiseWrite(ballot(5, "p_xa")));
      const { state } = await reopen(store);
      expect(state.promised).toEqual(ballot(5, "p_xa"));
      expect(state.accepted).toEqual(new Map([[1, { slot: 1, ballot: ballot(5, "p_x"), value: value("kept") }]]));
    });

    it("keeps the chosen watermark at the highest value written, across a crash and reopen", async () => {
      const { store } = await open(true);
      await store.write({ ...acceptWrite(3, ballot(1, "p-a")), chosenBelow: 2 });
      await store.write({ ...acceptWrite(9, ballot(1, "p-a")), chosenBelow: 7 });
      await store.write({ ...promiseWrite(ballot(2, "p-b")), chosenBelow: 4 });
      await store.close();
      await harness.crash();
      const { state } = await open(false);
      expect(state.chosenBelow).toBe(7);
      expect(state.promised).toEqual(ballot(2, "p-b"));
    });

    it("raises the promise with an accept, in the same write", async () => {
      const { store } = await open(true);
      await store.write(promiseWrite(ballot(1, "p-a")));
      await store.write(acceptWrite(7, ballot(9, "p-b")));
      // The promise is now 9: an accept or prepare between 1 and 9 must be refused.
      await expectStoreError(store.write(promiseWrite(ballot(8, "p-z"))), "corrupt");
      const { state } = await reopen(store);
      expect(state.promised).toEqual(ballot(9, "p-b"));
      expect(state.accepted.get(7)?.ballot).toEqual(ballot(9, "p-b"));
    });

    it("ends concurrent writes in the state of the highest one", async () => {
      const { store } = await open(true);
      const rounds = Array.from({ length: 40 }, (_, i) => i + 1);
      const writes = shuffled(rounds, 7).map((round) => acceptWrite(0, ballot(round, "p-a"), value(`r${round}`)));
      const results = await Promise.allSettled(writes.map((write) => store.write(write)));
      results.forEach((result, i) => {
        if (result.status === "fulfilled") return;
        expect(result.reason).toBeInstanceOf(AcceptorStoreError);
        expect((result.reason as AcceptorStoreError).code, `write of round ${writes[i]?.promised.round}`).toBe(
          "corrupt",
        );
      });
      expect(results[writes.findIndex((w) => w.promised.round === 40)]?.status).toBe("fulfilled");
      const { state } = await reopen(store);
      expect(state.promised).toEqual(ballot(40, "p-a"));
      expect(state.accepted).toEqual(new Map([[0, { slot: 0, ballot: ballot(40, "p-a"), value: value("r40") }]]));
    });

    it("applies a concurrent burst in call order: rising ballots all land", async () => {
      const { store } = await open(true);
      const writes = Array.from({ length: 30 }, (_, i) => acceptWrite(i, ballot(i + 1, "p-a")));
      await Promise.all(writes.map((write) => store.write(write)));
      const { state } = await reopen(store);
      expect(state.promised).toEqual(ballot(30, "p-a"));
      expect([...state.accepted.keys()].sort((a, b) => a - b)).toEqual(writes.map((w) => w.accept?.slot));
    });

    it("refuses a wiped storage as amnesia unless allowInit is given", async () => {
      const { store } = await open(true);
      await store.write(acceptWrite(3, ballot(2, "p-a")));
      await store.close();
      await harness.wipe();
      const error = await expectStoreError(open(false), "amnesia");
      expect(error.message).toMatch(/allowInit/);
    });

    it("refuses a storage that lost only its identity as amnesia, even with allowInit", async () => {
      const { store } = await open(true);
      await store.write(acceptWrite(3, ballot(2, "p-a")));
      await store.close();
      await harness.loseIdentity();
      await expectStoreError(open(true), "amnesia");
      await expectStoreError(open(false), "amnesia");
    });

    it("a write through a store superseded by a newer open never applies", async () => {
      // The host reopens after a write timed out (issue 7, hole 4): from the moment the new store
      // has opened, nothing the old one sends may land behind the state the new one loaded.
      const { store: older } = await open(true);
      await older.write(acceptWrite(0, ballot(1, "p-a"), value("before")));
      const { store: newer, state: loaded } = await open(false);
      expect(loaded.accepted.get(0)?.value).toEqual(value("before"));
      // Higher ballots than anything stored, so only the fence can refuse them.
      const refused = await expectStoreError(
        older.write(acceptWrite(1, ballot(2, "p-a"), value("late"))),
        "unavailable",
      );
      expect(refused.message).toMatch(/superseded by a newer open/);
      await newer.write(acceptWrite(2, ballot(3, "p-b"), value("newer")));
      await expectStoreError(older.write(promiseWrite(ballot(9, "p-a"))), "unavailable");
      await expectStoreError(older.write(acceptWrite(3, ballot(9, "p-a"), value("late"))), "unavailable");
      await newer.write(promiseWrite(ballot(4, "p-b")));
      const { state } = await reopen(newer);
      expect(state.promised).toEqual(ballot(4, "p-b"));
      expect(state.accepted).toEqual(
        new Map([
          [0, { slot: 0, ballot: ballot(1, "p-a"), value: value("before") }],
          [2, { slot: 2, ballot: ballot(3, "p-b"), value: value("newer") }],
        ]),
      );
    });

    it("refuses writes after close as unavailable", async () => {
      const { store } = await open(true);
      await store.close();
      await expectStoreError(store.write(promiseWrite(ballot(1, "p-a"))), "unavailable");
    });
  });
}
