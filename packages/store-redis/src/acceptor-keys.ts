/**
 * The Redis keys of one acceptor. All share the hash tag `{<cluster>}`, so they live in one
 * Redis Cluster slot and one script may touch them together.
 */
export interface AcceptorKeys {
  /** String: JSON {cluster, acceptorId, createdAtMs}, written once when the acceptor joins. */
  readonly identity: string;
  /** Hash {round, proposerId}: the promised ballot. */
  readonly promised: string;
  /** Hash slot → JSON {round, proposerId, value}: the highest-ballot proposal accepted per slot. */
  readonly accepted: string;
}

/** The keys of acceptor `acceptorId` of `cluster`. Both ids must already be validated. */
export function acceptorKeys(cluster: string, acceptorId: string): AcceptorKeys {
  const prefix = `paxos:{${cluster}}:${acceptorId}`;
  return { identity: `${prefix}:identity`, promised: `${prefix}:promised`, accepted: `${prefix}:accepted` };
}

/** The keys in the order the scripts take them (KEYS[1..3]). */
export function keyList(keys: AcceptorKeys): [string, string, string] {
  return [keys.identity, keys.promised, keys.accepted];
}
