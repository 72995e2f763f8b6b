/**
 * @paxos/store-redis: the acceptor's stable storage in Redis with AOF (`appendfsync always`),
 * one atomic Lua compare-and-write per write fenced by an epoch that every open raises, and
 * start-up checks for durability and identity.
 */
export {
  RedisAcceptorStore,
  type RedisAcceptorStoreOptions,
  type StoreLogger,
  type StoreLogLevel,
} from "./redis-acceptor-store.ts";
export { acceptorKeys, type AcceptorKeys } from "./acceptor-keys.ts";
export { REQUIRED_SETTINGS, requiredSettingsFlags } from "./durability-check.ts";
