import { VALUE_BYTES_MIN } from "./bench-limits.ts";

/**
 * One write the bench sends: an id unique in the whole run, and a value of exactly the cell's
 * size (ASCII, so characters and bytes agree) that begins with that id. Every write's value is
 * thus distinct, which is what lets the exactly-once check find a write in the log, or find it
 * twice.
 */
export interface BenchWrite {
  readonly writeId: string;
  readonly value: string;
}

/** The characters after the id that fill a value up to its size. */
const FILLER = "x";

/**
 * The value of write `writeId`, `valueBytes` long: the id, a space, then filler. Throws when the
 * id does not fit (the bench only asks for sizes of at least VALUE_BYTES_MIN).
 */
export function benchValue(writeId: string, valueBytes: number): string {
  if (!/^[\x21-\x7e]+$/.test(writeId)) throw new Error(`write id "${writeId}" must be printable ASCII without spaces`);
  if (writeId.length + 1 > valueBytes) {
    throw new Error(`write id "${writeId}" does not fit a value of ${valueBytes} bytes`);
  }
  return `${writeId} `.padEnd(valueBytes, FILLER);
}

/**
 * Makes the writes of one load: ids `<prefix>-<n>` for n = 0, 1, ..., each with its value of
 * `valueBytes`. `prefix` names the round, system and cell, so ids never repeat within a run.
 */
export class BenchWriteSource {
  readonly #prefix: string;
  readonly #valueBytes: number;
  #next = 0;

  constructor(prefix: string, valueBytes: number) {
    if (valueBytes < VALUE_BYTES_MIN) throw new Error(`values must be at least ${VALUE_BYTES_MIN} bytes`);
    this.#prefix = prefix;
    this.#valueBytes = valueBytes;
  }

  /** How many writes it has made. */
  get made(): number {
    return this.#next;
  }

  next(): BenchWrite {
    const writeId = `${this.#prefix}-${this.#next++}`;
    return { writeId, value: benchValue(writeId, this.#valueBytes) };
  }
}
