// What the file acceptor store adds to the shared contract (test/acceptor-store-contract.test.ts):
// how it reads its log back after a crash, and how a newer open fences an older store whose
// append is still in flight. We damage the files as a crash or an operator would and check that
// only a torn, never-acknowledged last line is forgiven; we hold appends back at the file handle
// to make an in-flight append slow to land.
import { appendFile, type FileHandle, mkdtemp, open, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AcceptorStoreError, type AcceptorWrite, type Ballot } from "@paxos/core";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ACCEPTOR_IDENTITY_FILE, ACCEPTOR_WRITES_FILE, FileAcceptorStore } from "./file-acceptor-store.ts";

const ballot = (round: number, proposerId = "p-a"): Ballot => ({ round, proposerId });
const accept = (slot: number, round: number): AcceptorWrite => ({
  promised: ballot(round),
  accept: { slot, ballot: ballot(round), value: { kind: "batch", requests: [{ id: `r${slot}`, payload: slot }] } },
  chosenBelow: 0,
});

describe("FileAcceptorStore", () => {
  let dir: string;
  const stores: FileAcceptorStore[] = [];

  function store(allowInit: boolean, acceptorId = "a1"): FileAcceptorStore {
    const created = new FileAcceptorStore({ dir, cluster: "c", acceptorId, allowInit });
    stores.push(created);
    return created;
  }

  async function openError(created: FileAcceptorStore): Promise<AcceptorStoreError> {
    return await created.open().then(
      () => expect.fail("open should have failed"),
      (error: unknown) => error as AcceptorStoreError,
    );
  }

  /** Opens a fresh store, writes accepts in slots 0 and 1, and closes it. */
  async function writeTwo(): Promise<void> {
    const first = store(true);
    await first.open();
    await first.write(accept(0, 1));
    await first.write(accept(1, 2));
    await first.close();
  }

  /**
   * Holds every FileHandle.appendFile of this process until `release`: the bytes of an append
   * started meanwhile are not in the file yet, as with a slow disk.
   */
  async function holdAppends(): Promise<{ release(): void }> {
    const probe = await open(join(dir, "..", "probe"), "w");
    const prototype = Object.getPrototypeOf(probe) as FileHandle;
    await probe.close();
    // Applied below with each handle as `this`, so taking it off the prototype unbound is right.
    // eslint-disable-next-line @typescript-eslint/unbound-method
    const appendFileOriginal = prototype.appendFile;
    let release = (): void => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    vi.spyOn(prototype, "appendFile").mockImplementation(async function (
      this: FileHandle,
      ...args: Parameters<FileHandle["appendFile"]>
    ) {
      await released;
      return await appendFileOriginal.apply(this, args);
    });
    return { release };
  }

  beforeEach(async () => {
    dir = join(await mkdtemp(join(tmpdir(), "paxos-file-acceptor-")), "a1");
  });

  afterEach(async () => {
    vi.restoreAllMocks();
    for (const created of stores.splice(0)) await created.close();
    await rm(join(dir, ".."), { recursive: true, force: true });
  });

  it("drops a torn last line, and later writes start on a clean line", async () => {
    await writeTwo();
    await appendFile(join(dir, ACCEPTOR_WRITES_FILE), '{"promised":{"round":"9","propo');
    const second = store(false);
    const state = await second.open();
    expect(state.promised).toEqual(ballot(2));
    expect([...state.accepted.keys()]).toEqual([0, 1]);
    await second.write(accept(2, 3));
    await second.close();
    const third = await store(false).open();
    expect(third.promised).toEqual(ballot(3));
    expect([...third.accepted.keys()]).toEqual([0, 1, 2]);
  });

  it("a newer open waits for the appends in flight of the store it supersedes, and replays them", async () => {
    // Issue 7, hole 4, for files: the older store decided a write and queued its append; had the
    // newer open read the log before that append landed, its state would lack a vote on disk.
    const older = store(true);
    await older.open();
    await older.write(accept(0, 1));
    const held = await holdAppends();
    const late = older.write(accept(1, 2));
    const opening = store(false).open();
    // Give the newer open every chance to finish early; the fence makes it wait for the append.
    const early = await Promise.race([
      opening.then(
        () => "opened",
        () => "failed",
      ),
      new Promise((resolve) => setTimeout(() => resolve("waiting"), 200)),
    ]);
    held.release();
    await late;
    const state = await opening;
    expect(early).toBe("waiting");
    expect(state.promised).toEqual(ballot(2));
    expect([...state.accepted.keys()]).toEqual([0, 1]);
    // And the older store is fenced from now on.
    const refused = await older.write(accept(2, 3)).then(
      () => null,
      (error: unknown) => error as AcceptorStoreError,
    );
    expect(refused?.code).toBe("unavailable");
  });

  it("refuses a malformed complete line as corrupt, wherever it is", async () => {
    await writeTwo();
    const path = join(dir, ACCEPTOR_WRITES_FILE);
    const [first = "", second = ""] = (await readFile(path, "utf8")).split("\n");
    await writeFile(path, `${first}\n{"garbage": true}\n${second}\n`);
    expect((await openError(store(false))).code).toBe("corrupt");
    await writeFile(path, `${first}\n${second}\nnot json\n`);
    expect((await openError(store(false))).code).toBe("corrupt");
    // A round written as a JSON number, not a decimal string, is not what the store writes.
    await writeFile(path, `${first}\n${second.replace('"round":"2"', '"round":2')}\n`);
    expect((await openError(store(false))).code).toBe("corrupt");
  });

  it("refuses a log whose promise goes backwards as corrupt", async () => {
    await writeTwo();
    const path = join(dir, ACCEPTOR_WRITES_FILE);
    const [first = "", second = ""] = (await readFile(path, "utf8")).split("\n");
    await writeFile(path, `${second}\n${first}\n`);
    const error = await openError(store(false));
    expect(error.code).toBe("corrupt");
    expect(error.message).toMatch(/lowers the promise/);
  });

  it("refuses a folder that belongs to another acceptor as corrupt", async () => {
    await writeTwo();
    expect((await openError(store(true, "a2"))).code).toBe("corrupt");
  });

  it("refuses an identity whose write log is gone as amnesia", async () => {
    await writeTwo();
    await rm(join(dir, ACCEPTOR_WRITES_FILE));
    expect((await openError(store(true))).code).toBe("amnesia");
  });

  it("initialises a folder holding only an empty write log (an init that crashed half-way)", async () => {
    await writeTwo();
    await rm(join(dir, ACCEPTOR_IDENTITY_FILE));
    await writeFile(join(dir, ACCEPTOR_WRITES_FILE), "");
    const state = await store(true).open();
    expect(state.accepted.size).toBe(0);
  });
});
