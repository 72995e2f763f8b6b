/**
 * Deliberately broken variants of the protocol, each a bug that has broken real Paxos systems.
 * The simulator applies them around the real core roles (it never changes the core), and the
 * checkers must catch every one: that is what shows the checkers can fail.
 */
export const VARIANTS = {
  "acceptor-forgets-promise":
    "an acceptor restarts with its promise lowered to its highest accepted ballot (its promise record was not reloaded)",
  "acceptor-accepts-below-promise": "an acceptor accepts a proposal whose ballot is below the promise it holds",
  "accept-keeps-promise": "accepting ballot b does not raise the stored promise to b",
  "proposer-ignores-phase1": "a new leader ignores the values phase 1 reveals and proposes its own",
  "proposer-reuses-ballot": "a restarted proposer reuses its last ballot instead of taking a fresh nonce",
  "learner-double-counts": "a learner counts one acceptor's accepted message as two votes",
} as const;

/** The name of a broken variant, or "none" for the real protocol. */
export type VariantName = keyof typeof VARIANTS | "none";

/** Seeds tried per broken variant before it counts as not caught (`npm run sim -- --variants`). */
export const VARIANT_SEED_BUDGET = 2000;

/** Every broken variant's name. */
export const VARIANT_NAMES = Object.keys(VARIANTS) as (keyof typeof VARIANTS)[];

/** True when `name` names a broken variant or "none". */
export function isVariantName(name: string): name is VariantName {
  return name === "none" || Object.hasOwn(VARIANTS, name);
}
