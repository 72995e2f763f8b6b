import { join } from "node:path";
import { type LearnerStore, sameSlotValue, type SlotValue } from "@paxos/core";
import { parseJsonObject, parseSafeInteger, parseSlotValue, RecordError } from "@paxos/store-records";
import { AppendOnlyFile, ensureDirectory } from "./append-only-file.ts";
import type { StoreLogger } from "./store-logger.ts";

/** The learner's log file: one JSON line `{"slot":"7","value":…}` per learned slot. */
export const LEARNED_FILE = "learned.jsonl";

/** Why a learner store failed: its file cannot be trusted ("corrupt") or written ("unavailable"). */
export class LearnerStoreError extends Error {
  override readonly name = "LearnerStoreError";
  readonly code: "corrupt" | "unavailable";

  constructor(code: "corrupt" | "unavailable", message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Where a FileLearnerStore keeps its log (PAXOS_DATA_DIR). */
export interface FileLearnerStoreOptions {
  /** A folder for this learner alone (created if missing). */
  readonly dir: string;
  readonly logger?: StoreLogger;
}

/**
 * A learner's decided log in an append-only JSON-lines file, fsync'ed before `append` resolves
 * (concurrent appends share one fsync). `load` replays it in slot order; a torn last line (never
 * acknowledged) is dropped, any other bad line, or one slot with two values, is "corrupt". After
 * an I/O failure every later append rejects ("unavailable") until a new store is opened.
 */
export class FileLearnerStore implements LearnerStore {
  readonly #options: FileLearnerStoreOptions;
  readonly #log: StoreLogger;
  #file: Promise<{ file: AppendOnlyFile; lines: readonly string[] }> | null = null;
  #closed = false;

  constructor(options: FileLearnerStoreOptions) {
    this.#options = options;
    this.#log = options.logger ?? (() => undefined);
  }

  /** Every stored slot, in slot order. Call once, before the first append. */
  async load(): Promise<readonly (readonly [number, SlotValue])[]> {
    const { lines } = await this.#open();
    const bySlot = new Map<number, SlotValue>();
    lines.forEach((line, i) => {
      const what = `${LEARNED_FILE} line ${i + 1}`;
      const [slot, value] = parseLine(line, what);
      const known = bySlot.get(slot);
      if (known !== undefined && !sameSlotValue(known, value)) {
        throw new LearnerStoreError("corrupt", `${what}: slot ${slot} holds two different values`);
      }
      bySlot.set(slot, value);
    });
    return [...bySlot.entries()].sort(([a], [b]) => a - b);
  }

  /** Appends the entries as one fsync'ed write; resolves once they are on disk. */
  async append(entries: readonly { readonly slot: number; readonly value: SlotValue }[]): Promise<void> {
    if (this.#closed) throw new LearnerStoreError("unavailable", "file learner store is closed");
    for (const { slot } of entries) {
      if (!Number.isSafeInteger(slot) || slot < 0) throw new RangeError(`bad slot ${slot}`);
    }
    if (entries.length === 0) return;
    const { file } = await this.#open();
    const lines = entries.map(({ slot, value }) => JSON.stringify({ slot: String(slot), value }));
    try {
      await file.append(lines);
    } catch (error) {
      throw new LearnerStoreError("unavailable", `append to ${file.path} failed: ${String(error)}`, { cause: error });
    }
  }

  /** Waits for appends in flight and closes the file. */
  async close(): Promise<void> {
    this.#closed = true;
    const opened = this.#file;
    this.#file = null;
    if (opened === null) return;
    const { file } = await opened.catch(() => ({ file: null }));
    await file?.close();
  }

  /** Opens the file once (cutting off a torn tail), shared by load and append. */
  async #open(): Promise<{ file: AppendOnlyFile; lines: readonly string[] }> {
    if (this.#closed) throw new LearnerStoreError("unavailable", "file learner store is closed");
    this.#file ??= (async () => {
      try {
        await ensureDirectory(this.#options.dir);
        const { file, lines, tornTailBytes } = await AppendOnlyFile.open(join(this.#options.dir, LEARNED_FILE));
        if (tornTailBytes > 0) {
          this.#log("warn", "dropped a torn last line of the learner log (an append that never completed)", {
            file: file.path,
            bytes: tornTailBytes,
          });
        }
        return { file, lines };
      } catch (error) {
        throw new LearnerStoreError("unavailable", `cannot open ${this.#options.dir}: ${String(error)}`, {
          cause: error,
        });
      }
    })();
    return await this.#file;
  }
}

function parseLine(line: string, what: string): [number, SlotValue] {
  try {
    const record = parseJsonObject(line, what);
    return [parseSafeInteger(record["slot"], `${what} slot`), parseSlotValue(record["value"], `${what} value`)];
  } catch (error) {
    if (error instanceof RecordError) throw new LearnerStoreError("corrupt", error.message, { cause: error });
    throw error;
  }
}
