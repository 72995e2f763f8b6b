/**
 * @paxos/embedded: the in-memory adapters. MemoryBus (the Bus port inside one process, with NATS's
 * semantics where the roles can tell) and MemoryAcceptorStore over a MemoryAcceptorStorage that
 * outlives its stores, for tests and the embedded cluster.
 */
export {
  MemoryAcceptorStore,
  MemoryAcceptorStorage,
  type MemoryAcceptorStoreOptions,
} from "./memory-acceptor-store.ts";
export { MemoryBus, type MemoryBusOptions } from "./memory-bus.ts";
