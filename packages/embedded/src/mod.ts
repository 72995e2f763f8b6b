export {};
export {
  MemoryAcceptorStore,
  MemoryAcceptorStorage,
  type MemoryAcceptorStoreOptions,
} from "./memory-acceptor-store.ts";
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
export type { StoreLogger } from "./acceptor-write-rule.ts";
export { MemoryBus, type MemoryBusOptions } from "./memory-bus.ts";
