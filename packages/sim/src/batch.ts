import { FAULT_KINDS, type FaultKind, OUTCOME_KINDS, type OutcomeKind, runSeed } from "./simulation.ts";
import type { Violation } from "./checkers.ts";
import type { VariantName } from "./variants.ts";

/** A run that broke an invariant: enough to replay it. */
export interface FailedRun {
  readonly seed: number;
  readonly violation: Violation;
}

/** Totals over many runs. */
export interface BatchSummary {
  runs: number;
  steps: number;
  requests: number;
  requestsDecided: number;
  slotsChosen: number;
  duplicatesSuppressed: number;
  /** The longest any request took to be decided everywhere after healing, over all runs. */
  decisionMsMax: number;
  readonly faults: Record<FaultKind, number>;
  readonly outcomes: Record<OutcomeKind, number>;
  readonly failed: FailedRun[];
}

/** An empty summary, to add runs to. */
export function emptySummary(): BatchSummary {
  const faults = Object.fromEntries(FAULT_KINDS.map((kind) => [kind, 0])) as Record<FaultKind, number>;
  const outcomes = Object.fromEntries(OUTCOME_KINDS.map((kind) => [kind, 0])) as Record<OutcomeKind, number>;
  return {
    runs: 0,
    steps: 0,
    requests: 0,
    requestsDecided: 0,
    slotsChosen: 0,
    duplicatesSuppressed: 0,
    decisionMsMax: 0,
    faults,
    outcomes,
    failed: [],
  };
}

/** Adds `part` into `total`. */
export function mergeSummary(total: BatchSummary, part: BatchSummary): void {
  total.runs += part.runs;
  total.steps += part.steps;
  total.requests += part.requests;
  total.requestsDecided += part.requestsDecided;
  total.slotsChosen += part.slotsChosen;
  total.duplicatesSuppressed += part.duplicatesSuppressed;
  total.decisionMsMax = Math.max(total.decisionMsMax, part.decisionMsMax);
  for (const kind of FAULT_KINDS) total.faults[kind] += part.faults[kind];
  for (const kind of OUTCOME_KINDS) total.outcomes[kind] += part.outcomes[kind];
  total.failed.push(...part.failed);
}

/**
 * Runs the seeds in [fromSeed, toSeed) and sums them up, calling `progress` every `progressEvery`
 * runs. With `stopAtFirstFailure`, stops at the first violation (to find which seed catches a
 * broken variant).
 */
export function runBatch(options: {
  readonly fromSeed: number;
  readonly toSeed: number;
  readonly variant: VariantName;
  readonly stopAtFirstFailure?: boolean;
  readonly progressEvery?: number;
  readonly progress?: (summary: BatchSummary) => void;
}): BatchSummary {
  const summary = emptySummary();
  let sinceProgress = emptySummary();
  for (let seed = options.fromSeed; seed < options.toSeed; seed++) {
    const result = runSeed({ seed, variant: options.variant });
    sinceProgress.runs++;
    sinceProgress.steps += result.steps;
    sinceProgress.requests += result.requests;
    sinceProgress.requestsDecided += result.requestsDecided;
    sinceProgress.slotsChosen += result.slotsChosen;
    sinceProgress.duplicatesSuppressed += result.duplicatesSuppressed;
    sinceProgress.decisionMsMax = Math.max(sinceProgress.decisionMsMax, result.decisionMsMax);
    for (const kind of FAULT_KINDS) sinceProgress.faults[kind] += result.faults[kind];
    for (const kind of OUTCOME_KINDS) sinceProgress.outcomes[kind] += result.outcomes[kind];
    if (result.violation !== null) sinceProgress.failed.push({ seed, violation: result.violation });
    const stop = options.stopAtFirstFailure === true && result.violation !== null;
    if (stop || sinceProgress.runs >= (options.progressEvery ?? 100) || seed === options.toSeed - 1) {
      mergeSummary(summary, sinceProgress);
      options.progress?.(sinceProgress);
      sinceProgress = emptySummary();
    }
    if (stop) break;
  }
  return summary;
}
