// Every bound of the benchmark harness, in one place (STYLE.md: "Every bound lives in one limits
// module and is named"). None of them is a measured quantity: they only keep a broken run short.

/** How long a started system may take until its HTTP API answers /readyz with 200. */
export const READY_TIMEOUT_MS = 60_000;

/** How long one readiness poll may take. */
export const READY_POLL_TIMEOUT_MS = 2_000;

/** How long after /readyz the first proposal may take to be answered 201 (a leader elected). */
export const FIRST_PROPOSAL_TIMEOUT_MS = 30_000;

/** How long a system gets to exit after SIGINT before it and its descendants get SIGKILL. */
export const STOP_TIMEOUT_MS = 30_000;

/**
 * The load generator's per-request timeout. Longer than the gateway's default
 * PAXOS_PROPOSAL_TIMEOUT_MS (10 s), so a slow proposal shows as the gateway's 503 or 504 rather
 * than as a client timeout.
 */
export const REQUEST_TIMEOUT_SECONDS = 15;

/** How often a load run prints a progress line. */
export const PROGRESS_INTERVAL_SECONDS = 5;

/** How many lines of a system's log an error message quotes. */
export const LOG_TAIL_LINES = 20;
