import { type FileHandle, mkdir, open, rename } from "node:fs/promises";
import { dirname, resolve } from "node:path";

/*
 * The durable file primitive of the file stores: a log of text lines, appended and fsync'ed
 * before an append resolves, and read back on open. Concurrent appends share one write and one
 * fsync (group commit), in call order.
 */

const NEWLINE = 0x0a;

/** What `AppendOnlyFile.open` read back. */
export interface ReplayedFile {
  readonly file: AppendOnlyFile;
  /** Every complete line, without its newline, in file order. */
  readonly lines: readonly string[];
  /** Bytes of a final line without newline that open cut off (0 when the file ended cleanly). */
  readonly tornTailBytes: number;
}

/** An append-only file of lines. Open it once; append; close. */
export class AppendOnlyFile {
  readonly path: string;
  readonly #handle: FileHandle;
  #pending: { text: string; resolve: () => void; reject: (error: unknown) => void }[] = [];
  #flushing: Promise<void> | null = null;
  #failure: unknown = null;
  #closed = false;

  private constructor(path: string, handle: FileHandle) {
    this.path = path;
    this.#handle = handle;
  }

  /**
   * Opens (creating it, and fsyncing its folder, if needed) and reads the file. A last line with
   * no newline is a write that never completed, so never acknowledged: it is cut off the file
   * (and the cut fsync'ed) so later appends start on a clean line.
   */
  static async open(path: string): Promise<ReplayedFile> {
    const handle = await open(path, "a+");
    try {
      const existed = (await handle.stat()).size > 0;
      const content = await handle.readFile();
      const end = content.lastIndexOf(NEWLINE) + 1;
      const tornTailBytes = content.length - end;
      if (tornTailBytes > 0) {
        await handle.truncate(end);
        await handle.sync();
      }
      if (!existed) await syncDirectory(dirname(path));
      const lines =
        end === 0
          ? []
          : content
              .subarray(0, end - 1)
              .toString("utf8")
              .split("\n");
      return { file: new AppendOnlyFile(path, handle), lines, tornTailBytes };
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /**
   * Appends `lines` (each without newline) and resolves once they are fsync'ed. After any I/O
   * failure the file refuses every later append: a half-written line may sit at its end, and only
   * a reopen (which cuts it off) makes the file appendable again.
   */
  async append(lines: readonly string[]): Promise<void> {
    if (this.#closed) throw new Error(`${this.path} is closed`);
    if (this.#failure !== null) throw new Error(`${this.path} failed earlier; reopen it`, { cause: this.#failure });
    const text = lines.map((line) => `${line}\n`).join("");
    await new Promise<void>((resolve, reject) => {
      this.#pending.push({ text, resolve, reject });
      this.#flushing ??= this.#flush();
    });
  }

  /**
   * Refuses every later append, waits until every append queued before it has settled (written
   * and fsync'ed, or failed), then closes the file. The file acceptor store's fence relies on
   * this: once `close` resolves, nothing more from this handle can reach the file.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#flushing;
    await this.#handle.close();
  }

  async #flush(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending;
      this.#pending = [];
      try {
        await this.#handle.appendFile(batch.map((item) => item.text).join(""));
        await this.#handle.sync();
      } catch (error) {
        this.#failure = error;
        for (const item of [...batch, ...this.#pending]) item.reject(error);
        this.#pending = [];
        break;
      }
      for (const item of batch) item.resolve();
    }
    this.#flushing = null;
  }
}

/** fsyncs a folder, so the entries created or renamed in it survive a crash. */
export async function syncDirectory(path: string): Promise<void> {
  const handle = await open(path, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Creates a folder (and its parents), fsyncing the parent of the first one it created. */
export async function ensureDirectory(path: string): Promise<void> {
  const created = await mkdir(path, { recursive: true });
  if (created === undefined) return;
  const top = resolve(created);
  for (let dir = resolve(path); ; dir = dirname(dir)) {
    await syncDirectory(dirname(dir));
    if (dir === top || dirname(dir) === dir) break;
  }
}

/** Writes a whole small file atomically: a temp file, fsync, rename, fsync of the folder. */
export async function writeFileDurably(path: string, text: string): Promise<void> {
  const temp = `${path}.tmp`;
  const handle = await open(temp, "w");
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, path);
  await syncDirectory(dirname(path));
}
