/**
 * Turns the JSON log lines of the role processes (pino: level, time, service, id, msg, ...) into
 * one readable line each, for a person watching `npm start`: `[acceptor a1] info  msg key=value`.
 * Lines that are not such JSON are shown as they are.
 */

const RESERVED = new Set(["level", "time", "pid", "hostname", "service", "id", "msg"]);
const VALUE_CHARS_MAX = 200;

const COLOURS = ["\x1b[36m", "\x1b[32m", "\x1b[35m", "\x1b[33m", "\x1b[34m", "\x1b[96m", "\x1b[92m", "\x1b[95m"];
const LEVEL_COLOURS: Readonly<Record<string, string>> = {
  warn: "\x1b[33m",
  error: "\x1b[31m",
  fatal: "\x1b[41m\x1b[97m",
};
const RESET = "\x1b[0m";

/** Formats the lines of one named process; `colour` adds ANSI colours (for a terminal). */
export class LineFormatter {
  readonly #prefix: string;
  readonly #colour: boolean;

  /** `name` is what goes in the brackets, e.g. "acceptor a1"; `index` picks its colour. */
  constructor(name: string, index: number, colour: boolean) {
    this.#colour = colour;
    const prefix = `[${name}]`;
    this.#prefix = colour ? `${COLOURS[index % COLOURS.length] ?? ""}${prefix}${RESET}` : prefix;
  }

  /** One output line of the process, without its newline, made readable. */
  format(line: string): string {
    const record = parseRecord(line);
    if (record === null) return `${this.#prefix} ${line}`;
    const rawLevel = record["level"];
    const level = typeof rawLevel === "string" ? rawLevel : typeof rawLevel === "number" ? String(rawLevel) : "";
    const msg = typeof record["msg"] === "string" ? record["msg"] : "";
    const fields = Object.entries(record)
      .filter(([key]) => !RESERVED.has(key))
      .map(([key, value]) => `${key}=${renderValue(value)}`)
      .join(" ");
    const levelText = level.padEnd(5);
    const levelShown =
      this.#colour && LEVEL_COLOURS[level] !== undefined ? `${LEVEL_COLOURS[level]}${levelText}${RESET}` : levelText;
    return `${this.#prefix} ${levelShown} ${msg}${fields === "" ? "" : `  ${fields}`}`;
  }
}

function parseRecord(line: string): Record<string, unknown> | null {
  if (!line.startsWith("{")) return null;
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

function renderValue(value: unknown): string {
  if (typeof value === "object" && value !== null && "message" in value && "type" in value) {
    // A serialised error: its message says enough on one line.
    return JSON.stringify(
      `${String((value as { type: unknown }).type)}: ${String((value as { message: unknown }).message)}`,
    );
  }
  const text = typeof value === "string" ? (/\s/.test(value) ? JSON.stringify(value) : value) : JSON.stringify(value);
  return text.length > VALUE_CHARS_MAX ? `${text.slice(0, VALUE_CHARS_MAX)}…` : text;
}

/**
 * Splits a stream of chunks into lines and calls `onLine` for each complete one. `end()` flushes
 * a last line without a newline.
 */
export class LineSplitter {
  #rest = "";
  readonly #onLine: (line: string) => void;

  constructor(onLine: (line: string) => void) {
    this.#onLine = onLine;
  }

  push(chunk: string): void {
    const lines = (this.#rest + chunk).split("\n");
    this.#rest = lines.pop() ?? "";
    for (const line of lines) if (line.trim() !== "") this.#onLine(line.replace(/\r$/, ""));
  }

  end(): void {
    if (this.#rest.trim() !== "") this.#onLine(this.#rest);
    this.#rest = "";
  }
}
