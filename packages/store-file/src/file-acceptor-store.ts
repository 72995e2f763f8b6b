import { readFile, realpath, stat } from "node:fs/promises";
import { join } from "node:path";
import {
  type AcceptedEntry,
  type AcceptorState,
  type AcceptorStore,
  AcceptorStoreError,
  type AcceptorWrite,
  ballotKey,
  compareBallots,
  ZERO_BALLOT,
} from "@paxos/core";
import {
  applyWrite,
  checkAcceptorWrite,
  decodeIdentity,
  encodeIdentity,
  isObject,
  parseBallot,
  parseJsonObject,
  parseSafeInteger,
  parseSlotValue,
  RecordError,
  refusal,
  snapshot,
  type StoredAcceptorState,
  superseded,
} from "@paxos/store-records";
import { isValidId } from "@paxos/wire";
import { AppendOnlyFile, ensureDirectory, writeFileDurably } from "./append-only-file.ts";
import type { StoreLogger } from "./store-logger.ts";

/** The identity file: JSON {cluster, acceptorId, createdAtMs}, written once when the acceptor joins. */
export const ACCEPTOR_IDENTITY_FILE = "acceptor-identity.json";
/** The write log: one JSON line per applied AcceptorWrite, in the order they were applied. */
export const ACCEPTOR_WRITES_FILE = "acceptor-writes.jsonl";

/** Where a FileAcceptorStore keeps its files, and whose they are. */
export interface FileAcceptorStoreOptions {
  /** A folder for this acceptor alone (created if missing). */
  readonly dir: string;
  readonly cluster: string;
  readonly acceptorId: string;
  /**
   * May `open` claim a folder with no acceptor data (no identity, no writes) for this acceptor?
   * Only when it joins for the first time: otherwise a folder without identity was wiped.
   */
  readonly allowInit: boolean;
  readonly logger?: StoreLogger;
}

/**
 * The store that opened each acceptor folder last in this process, by the folder's real path: the
 * fence of the file store (see FileAcceptorStore). An entry leaves when its store has closed.
 */
const folderTenants = new Map<string, FileAcceptorStore>();

/**
 * The acceptor's stable storage in plain files, for `npm start` with no Redis: an identity file
 * and an append-only JSON-lines log of writes, each fsync'ed before `write` resolves (concurrent
 * writes share one fsync). On open the log is replayed; a torn last line (a write that never
 * completed, so was never acknowledged) is dropped, any other bad line is "corrupt". After an I/O
 * failure the store refuses every write ("unavailable") until a new store is opened.
 *
 * Fencing. A write the host gave up on must never land behind the state a newer store loaded.
 * The Redis store needs an epoch on disk because an old write can sit in a socket or in Redis's
 * queue beyond its process's reach. Here a write decided by a store is queued on that store's
 * own file handle, in this process, the moment `write` is called; so the fence is in-process: a
 * new open of a folder claims it, which makes the previous store of that folder refuse every
 * later write ("unavailable", superseded), and then waits until the previous store's appends in
 * flight have settled (fsync'ed or failed) and its file is closed, before it reads the log. Every
 * write of an older store thus either is in the log the new store replays, or is refused: no
 * epoch record on disk is needed, and the fence holds even if the host never closed the older
 * store. It assumes one process per folder, which is how the embedded cluster runs; two
 * processes over one folder are not supported (nothing locks it across processes).
 */
export class FileAcceptorStore implements AcceptorStore {
  readonly #options: FileAcceptorStoreOptions;
  readonly #log: StoreLogger;
  /** The state with every accepted write applied, including those still being fsync'ed. */
  readonly #state: StoredAcceptorState = { promised: ZERO_BALLOT, accepted: new Map(), chosenBelow: 0 };
  #file: AppendOnlyFile | null = null;
  /** Settles once the log file is closed and every append queued on it has settled. */
  #fileClosed: Promise<void> | null = null;
  #status: "new" | "opening" | "open" | "failed" | "closed" = "new";
  /** The real path of the folder once `open` claimed it (the key in `folderTenants`). */
  #folder: string | null = null;
  /** Set when a newer open claimed the folder: from then on every write is refused. */
  #superseded = false;
  /** Settles (never rejects) once `open` has finished, either way. */
  #openSettled: Promise<void> = Promise.resolve();

  /** Checks the ids; a bad one is a configuration error and throws at once. */
  constructor(options: FileAcceptorStoreOptions) {
    if (!isValidId(options.cluster)) throw new TypeError(`invalid cluster name ${JSON.stringify(options.cluster)}`);
    if (!isValidId(options.acceptorId))
      throw new TypeError(`invalid acceptor id ${JSON.stringify(options.acceptorId)}`);
    this.#options = options;
    this.#log = options.logger ?? (() => undefined);
  }

  /**
   * Claims the folder (superseding the store of this process that opened it before, and waiting
   * until that store's appends in flight have settled), checks the identity (claiming an empty
   * folder when allowed), replays the log and returns the state. Rejects with "amnesia",
   * "corrupt", or "unavailable" (the folder cannot be read or written, or a newer open claimed it
   * meanwhile). Call once per store.
   */
  async open(): Promise<AcceptorState> {
    if (this.#status !== "new") throw new Error("FileAcceptorStore.open() may be called once");
    this.#status = "opening";
    let settleOpen = (): void => undefined;
    this.#openSettled = new Promise((resolve) => (settleOpen = resolve));
    try {
      await ensureDirectory(this.#options.dir);
      await this.#claimFolder();
      await this.#checkIdentity();
      const { file, lines, tornTailBytes } = await AppendOnlyFile.open(this.#path(ACCEPTOR_WRITES_FILE));
      this.#file = file;
      if (tornTailBytes > 0) {
        this.#log("warn", "dropped a torn last line of the acceptor log (a write that never completed)", {
          file: file.path,
          bytes: tornTailBytes,
        });
      }
      lines.forEach((line, i) => this.#replay(line, i + 1));
      if (this.#superseded) {
        throw new AcceptorStoreError("unavailable", `a newer store opened ${this.#options.dir} while this one opened`);
      }
      if (this.#status !== "opening") throw new AcceptorStoreError("unavailable", "store closed while opening");
      this.#status = "open";
      return snapshot(this.#state);
    } catch (error) {
      this.#status = "failed";
      await this.#closeFile().catch(() => undefined);
      this.#leaveFolder();
      if (error instanceof AcceptorStoreError) throw error;
      if (error instanceof RecordError) throw new AcceptorStoreError("corrupt", error.message, { cause: error });
      throw new AcceptorStoreError("unavailable", `cannot open ${this.#options.dir}: ${String(error)}`, {
        cause: error,
      });
    } finally {
      settleOpen();
    }
  }

  /**
   * Decides the write by the compare-and-write rule (in call order), appends it, and resolves once
   * it is fsync'ed. A write below the stored promise rejects with "corrupt"; a write after a newer
   * store opened the folder with "unavailable" (superseded; nothing is appended); an I/O failure
   * with "unavailable", after which this store refuses all writes.
   */
  async write(write: AcceptorWrite): Promise<void> {
    checkAcceptorWrite(write);
    if (this.#superseded) throw superseded("file acceptor store", write);
    const file = this.#file;
    if (this.#status !== "open" || file === null) {
      throw new AcceptorStoreError("unavailable", `file acceptor store is ${this.#status}, not open`);
    }
    const refused = refusal(this.#state.promised, write);
    if (refused !== null) throw refused;
    applyWrite(this.#state, write);
    try {
      // Queued on the file before this call returns, so a newer open, which waits for this file
      // to drain, replays it if it lands.
      await file.append([encodeWrite(write)]);
    } catch (error) {
      // The state in memory may now be ahead of the disk: no write may be decided against it.
      if (this.#status === "open") this.#status = "failed";
      throw new AcceptorStoreError("unavailable", `append to ${file.path} failed: ${String(error)}`, {
        cause: error,
      });
    }
  }

  /**
   * Waits for writes in flight and closes the log, then releases the folder. Writes after this
   * reject with "unavailable".
   */
  async close(): Promise<void> {
    this.#status = "closed";
    // An open under way fails on seeing "closed"; let it finish, so the folder is released only
    // once nothing of this store touches it any more.
    await this.#openSettled;
    try {
      await this.#closeFile();
    } finally {
      this.#leaveFolder();
    }
  }

  /**
   * Makes this store the tenant of its folder. The previous tenant is superseded at once (it
   * refuses writes from now on), and this resolves once the writes it queued have settled.
   */
  async #claimFolder(): Promise<void> {
    const folder = await realpath(this.#options.dir);
    const previous = folderTenants.get(folder);
    folderTenants.set(folder, this);
    this.#folder = folder;
    if (previous !== undefined) await previous.#supersede();
  }

  /** Refuses every later write, then waits until this store's file has drained and closed. */
  async #supersede(): Promise<void> {
    this.#superseded = true;
    // If it is still opening (it may itself be waiting for its predecessor), let it finish first:
    // it will then see it was superseded and fail, closing its file.
    await this.#openSettled;
    await this.#closeFile().catch(() => undefined);
  }

  /**
   * Closes the log if it is open, and resolves once the last close (and the appends it drains)
   * has settled: a close and a supersede racing each other both wait for the same drain.
   */
  #closeFile(): Promise<void> {
    const file = this.#file;
    if (file !== null) {
      this.#file = null;
      this.#fileClosed = file.close();
    }
    return this.#fileClosed ?? Promise.resolve();
  }

  #leaveFolder(): void {
    if (this.#folder !== null && folderTenants.get(this.#folder) === this) folderTenants.delete(this.#folder);
  }

  async #checkIdentity(): Promise<void> {
    const { cluster, acceptorId, allowInit, dir } = this.#options;
    const identityPath = this.#path(ACCEPTOR_IDENTITY_FILE);
    const identityText = await readIfExists(identityPath);
    if (identityText !== null) {
      const identity = decodeIdentity(identityText);
      if (identity.cluster !== cluster || identity.acceptorId !== acceptorId) {
        throw new AcceptorStoreError(
          "corrupt",
          `${identityPath} names acceptor ${identity.acceptorId} of cluster ${identity.cluster}, ` +
            `not ${acceptorId} of ${cluster}: two acceptors share one folder.`,
        );
      }
      if ((await sizeIfExists(this.#path(ACCEPTOR_WRITES_FILE))) === null) {
        throw new AcceptorStoreError(
          "amnesia",
          `${dir} has this acceptor's identity but its write log ${ACCEPTOR_WRITES_FILE} is gone: it lost its ` +
            `votes. Restore the folder from a backup, or retire this acceptor id.`,
        );
      }
      return;
    }
    const writesBytes = (await sizeIfExists(this.#path(ACCEPTOR_WRITES_FILE))) ?? 0;
    if (!allowInit || writesBytes > 0) {
      throw new AcceptorStoreError(
        "amnesia",
        writesBytes > 0
          ? `${dir} holds votes of acceptor ${acceptorId} but no identity file: it lost its identity. ` +
              `Refusing to initialise over that state: restore the folder from a backup, or retire this acceptor id.`
          : `${dir} has no identity file for acceptor ${acceptorId} of cluster ${cluster}: its data was wiped, ` +
              `or this acceptor never joined. If it is brand new, open it once with allowInit ` +
              `(PAXOS_ACCEPTOR_INIT=1); if it voted before, do NOT initialise: restore the folder from a backup.`,
      );
    }
    // The empty write log first, then the identity: an identity without a log means a lost log.
    const { file } = await AppendOnlyFile.open(this.#path(ACCEPTOR_WRITES_FILE));
    await file.close();
    await writeFileDurably(identityPath, encodeIdentity({ cluster, acceptorId, createdAtMs: Date.now() }));
    this.#log("info", "initialised an empty folder with this acceptor's identity", { dir });
  }

  /** Applies one logged write; a line that does not parse or lowers the promise is corruption. */
  #replay(line: string, lineNumber: number): void {
    const write = decodeWrite(line, `${ACCEPTOR_WRITES_FILE} line ${lineNumber}`);
    if (compareBallots(write.promised, this.#state.promised) < 0) {
      throw new RecordError(
        `${ACCEPTOR_WRITES_FILE} line ${lineNumber} lowers the promise from ` +
          `${ballotKey(this.#state.promised)} to ${ballotKey(write.promised)}`,
      );
    }
    applyWrite(this.#state, write);
  }

  #path(name: string): string {
    return join(this.#options.dir, name);
  }
}

/**
 * One log line:
 * `{"promised":{"round":"3","proposerId":"p-1a2b3c4d"},"accept":null|{"slot":"7","value":…},"chosenBelow":"5"}`.
 */
function encodeWrite(write: AcceptorWrite): string {
  const promised = { round: String(write.promised.round), proposerId: write.promised.proposerId };
  const accept = write.accept === null ? null : { slot: String(write.accept.slot), value: write.accept.value };
  return JSON.stringify({ promised, accept, chosenBelow: String(write.chosenBelow) });
}

function decodeWrite(line: string, what: string): AcceptorWrite {
  const record = parseJsonObject(line, what);
  const promisedRecord = record["promised"];
  if (!isObject(promisedRecord)) throw new RecordError(`${what}: no promised ballot`);
  const promised = parseBallot(promisedRecord["round"], promisedRecord["proposerId"], `${what} promised`);
  const chosenBelow = parseSafeInteger(record["chosenBelow"], `${what} chosenBelow`);
  const acceptRecord = record["accept"];
  if (acceptRecord === null) return { promised, accept: null, chosenBelow };
  if (!isObject(acceptRecord)) throw new RecordError(`${what}: accept is neither null nor an object`);
  const accept: AcceptedEntry = {
    slot: parseSafeInteger(acceptRecord["slot"], `${what} slot`),
    ballot: promised,
    value: parseSlotValue(acceptRecord["value"], `${what} value`),
  };
  return { promised, accept, chosenBelow };
}

async function readIfExists(path: string): Promise<string | null> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    if (isNotFound(error)) return null;
    throw error;
  }
}

async function sizeIfExists(path: string): Promise<number | null> {
  try {
    return (await stat(path)).size;
  } catch (error) {
    if (isNotFound(error)) return null;
    throw error;
  }
}

function isNotFound(error: unknown): boolean {
  return error instanceof Error && "code" in error && error.code === "ENOENT";
}
