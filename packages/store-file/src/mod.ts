/**
 * @paxos/store-file: the acceptor's and the learner's stable storage in plain files, for a
 * cluster with no Redis (`npm start` embedded). Append-only JSON-lines logs, each append fsync'ed
 * before it resolves; a torn last line is forgiven on open, anything else unreadable is corrupt.
 */
export {
  FileAcceptorStore,
  type FileAcceptorStoreOptions,
  ACCEPTOR_IDENTITY_FILE,
  ACCEPTOR_WRITES_FILE,
} from "./file-acceptor-store.ts";
export {
  FileLearnerStore,
  type FileLearnerStoreOptions,
  LearnerStoreError,
  LEARNED_FILE,
} from "./file-learner-store.ts";
export type { StoreLogger } from "./store-logger.ts";
