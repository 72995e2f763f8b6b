/**
 * The shape every id (cluster, acceptor, proposer, learner) must have: 1 to 64 ASCII letters,
 * digits, `_` or `-`. Such ids are safe as one NATS subject token, and JavaScript and Lua order
 * them the same way (by code unit), which ballot comparison relies on.
 */
export const ID_PATTERN: RegExp = /^[A-Za-z0-9_-]{1,64}$/;

/** True when `id` matches ID_PATTERN. */
export function isValidId(id: string): boolean {
  return ID_PATTERN.test(id);
}

/** Why an id or subject was refused. */
export type WireErrorCode =
  /** An id does not match ID_PATTERN. */
  "invalidId";

/**
 * A typed failure of the wire layer raised on the caller's own input (a bad configured id), never
 * on inbound data: inbound data is refused with a decode result, not an exception.
 */
export class WireError extends Error {
  override readonly name = "WireError";
  readonly code: WireErrorCode;

  constructor(code: WireErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** Returns `id` when it matches ID_PATTERN; otherwise throws WireError("invalidId") naming `what`. */
export function checkId(id: string, what: string): string {
  if (!isValidId(id)) {
    throw new WireError("invalidId", `${what} ${JSON.stringify(id)} must match ${String(ID_PATTERN)}`);
  }
  return id;
}

/** The roles that speak on a cluster's subjects, each instance with a NATS identity of its own. */
export type ClusterRole = "acceptor" | "proposer" | "learner" | "gateway";

/**
 * The NATS user name of a process: `<role>-<id>`, where the id is an acceptor's or learner's id,
 * a proposer's name (the stable part of its id) or a gateway's id. Both the server's permission
 * file and each process's default user are spelled by this one function.
 */
export function clusterUser(role: ClusterRole, id: string): string {
  return `${role}-${checkId(id, `${role} id`)}`;
}
