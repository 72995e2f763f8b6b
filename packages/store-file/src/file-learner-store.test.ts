// The learner's durable log: what was appended comes back in slot order after a reopen; a torn,
// never-acknowledged last line is dropped; anything else unreadable, or a slot with two values,
// is refused as corrupt.
import { appendFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NOOP, type SlotValue } from "@paxos/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FileLearnerStore, LEARNED_FILE, LearnerStoreError } from "./file-learner-store.ts";

const batch = (id: string): SlotValue => ({ kind: "batch", requests: [{ id, payload: { id, list: [1, null] } }] });

describe("FileLearnerStore", () => {
  let root: string;
  let dir: string;
  const stores: FileLearnerStore[] = [];

  function store(): FileLearnerStore {
    const created = new FileLearnerStore({ dir });
    stores.push(created);
    return created;
  }

  async function loadError(): Promise<unknown> {
    return await store()
      .load()
      .then(
        () => expect.fail("load should have failed"),
        (error: unknown) => error,
      );
  }

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), "paxos-file-learner-"));
    dir = join(root, "nested", "learner");
  });

  afterEach(async () => {
    for (const created of stores.splice(0)) await created.close();
    await rm(root, { recursive: true, force: true });
  });

  it("starts empty, then loads what was appended in slot order", async () => {
    const first = store();
    expect(await first.load()).toEqual([]);
    await first.append([{ slot: 2, value: batch("c") }]);
    await Promise.all([
      first.append([{ slot: 0, value: batch("a") }]),
      first.append([
        { slot: 3, value: NOOP },
        { slot: 1, value: batch("b") },
      ]),
    ]);
    await first.close();
    expect(await store().load()).toEqual([
      [0, batch("a")],
      [1, batch("b")],
      [2, batch("c")],
      [3, NOOP],
    ]);
  });

  it("drops a torn last line, and later appends start on a clean line", async () => {
    const first = store();
    await first.append([{ slot: 0, value: batch("a") }]);
    await first.close();
    await appendFile(join(dir, LEARNED_FILE), '{"slot":"1","value":{"ki');
    const second = store();
    expect(await second.load()).toEqual([[0, batch("a")]]);
    await second.append([{ slot: 1, value: batch("b") }]);
    await second.close();
    expect((await store().load()).map(([slot]) => slot)).toEqual([0, 1]);
  });

  it("refuses a malformed complete line as corrupt", async () => {
    const first = store();
    await first.append([{ slot: 0, value: batch("a") }]);
    await first.close();
    const path = join(dir, LEARNED_FILE);
    const good = await readFile(path, "utf8");
    await writeFile(path, `{"slot":"x"}\n${good}`);
    const error = await loadError();
    expect(error).toBeInstanceOf(LearnerStoreError);
    expect((error as LearnerStoreError).code).toBe("corrupt");
  });

  it("accepts a slot logged twice with one value, and refuses two values as corrupt", async () => {
    const first = store();
    await first.append([{ slot: 0, value: batch("a") }]);
    await first.append([{ slot: 0, value: batch("a") }]);
    await first.close();
    expect(await store().load()).toEqual([[0, batch("a")]]);
    const second = store();
    await second.append([{ slot: 0, value: batch("other") }]);
    await second.close();
    expect(((await loadError()) as LearnerStoreError).code).toBe("corrupt");
  });
});
