/** The optional log of the file stores (same shape as @paxos/store-redis's StoreLogger). */
export type StoreLogger = (
  level: "debug" | "info" | "warn" | "error",
  msg: string,
  fields: Readonly<Record<string, unknown>>,
) => void;
