// What the memory acceptor store adds to the shared contract (test/acceptor-store-contract.test.ts):
// its storage object outlives stores, checks whose it is, notices a wipe under an open store, and
// treats a raised fencing epoch without identity as a lost identity.
import { AcceptorStoreError, type AcceptorStoreErrorCode } from "@paxos/core";
import { describe, expect, it } from "vitest";
import { MemoryAcceptorStorage, MemoryAcceptorStore } from "./memory-acceptor-store.ts";

const write = { promised: { round: 1, proposerId: "p-a" }, accept: null, chosenBelow: 0 };

async function codeOf(promise: Promise<unknown>): Promise<AcceptorStoreErrorCode | "resolved"> {
  return await promise.then(
    () => "resolved" as const,
    (error: unknown) => (error instanceof AcceptorStoreError ? error.code : "resolved"),
  );
}

describe("MemoryAcceptorStore", () => {
  it("refuses a fresh storage without allowInit as amnesia", async () => {
    expect(await codeOf(new MemoryAcceptorStore({ cluster: "c", acceptorId: "a1", allowInit: false }).open())).toBe(
      "amnesia",
    );
  });

  it("refuses storage that belongs to another acceptor as corrupt", async () => {
    const storage = new MemoryAcceptorStorage();
    await new MemoryAcceptorStore({ cluster: "c", acceptorId: "a1", allowInit: true, storage }).open();
    const other = new MemoryAcceptorStore({ cluster: "c", acceptorId: "a2", allowInit: true, storage });
    expect(await codeOf(other.open())).toBe("corrupt");
  });

  it("refuses to initialise a storage holding only an epoch, without identity, as amnesia", async () => {
    const storage = new MemoryAcceptorStorage();
    const first = new MemoryAcceptorStore({ cluster: "c", acceptorId: "a1", allowInit: true, storage });
    await first.open();
    await first.close();
    storage.identity = null;
    const again = new MemoryAcceptorStore({ cluster: "c", acceptorId: "a1", allowInit: true, storage });
    expect(await codeOf(again.open())).toBe("amnesia");
  });

  it("fails a write with amnesia when the storage is wiped under an open store", async () => {
    const store = new MemoryAcceptorStore({ cluster: "c", acceptorId: "a1", allowInit: true });
    await store.open();
    await store.write(write);
    store.storage.wipe();
    expect(await codeOf(store.write(write))).toBe("amnesia");
  });
});
