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
  /**
   * String: a positive decimal integer, the fencing epoch. Every `open` of a store raises it, and
   * a write applies only while it still equals the epoch its store raised, so nothing a store
   * superseded by a newer open sends can land after that open loaded the state.
   */
  readonly epoch: string;
}

/** The keys of acceptor `acceptorId` of `cluster`. Both ids must already be validated. */
export function acceptorKeys(cluster: string, acceptorId: string): AcceptorKeys {
  const prefix = `paxos:{${cluster}}:${acceptorId}`;
  return {
    identity: `${prefix}:identity`,
    promised: `${prefix}:promised`,
    accepted: `${prefix}:accepted`,
    epoch: `${prefix}:epoch`,
  };
}

/** The keys in the order the scripts take them (KEYS[1..4]). */
export function keyList(keys: AcceptorKeys): [string, string, string, string] {
  return [keys.identity, keys.promised, keys.accepted, keys.epoch];
}
