/**
 * @paxos/sim: a deterministic simulator that runs the real @paxos/core roles through seeded,
 * hostile schedules and checks the Paxos invariants after every step.
 */
export {
  runSeed,
  FAULT_KINDS,
  type FaultKind,
  type RunOptions,
  type RunResult,
  describeMessage,
} from "./simulation.ts";
export { SafetyChecker, type Violation, type ViolationKind, ViolationError, describe } from "./checkers.ts";
export { VARIANTS, VARIANT_NAMES, VARIANT_SEED_BUDGET, type VariantName, isVariantName } from "./variants.ts";
export { runBatch, type BatchSummary, type FailedRun } from "./batch.ts";
export { drawPlan, SIM_LIMITS, type RunPlan } from "./plan.ts";
export { Rng } from "./rng.ts";
