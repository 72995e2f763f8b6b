/**
 * A broken protocol invariant: two values chosen for one slot, a promise going backwards, one
 * ballot carrying two values. Hosts must let it stop the process: continuing would spread the
 * corruption to every peer that trusts this one.
 */
export class InvariantViolation extends Error {
  override readonly name = "InvariantViolation";
}

/** Throws an InvariantViolation with `message` unless `condition` holds. Stays on in production. */
export function invariant(condition: boolean, message: string): asserts condition {
  if (!condition) throw new InvariantViolation(message);
}
