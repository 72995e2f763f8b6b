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

/** How long one etcd member may take to start and answer /health with {"health":"true"}. */
export const ETCD_READY_TIMEOUT_MS = 30_000;

/** How long finding etcd's leader (POST /v3/maintenance/status on every member) may take in all. */
export const ETCD_LEADER_TIMEOUT_MS = 15_000;

/** How long one etcd status or health request may take. */
export const ETCD_STATUS_TIMEOUT_MS = 2_000;

/** How long the `--version` of etcd, nats-server or redis-server may take to print. */
export const VERSION_PROBE_TIMEOUT_MS = 5_000;

/** How long connecting the native NATS client (PaxosClient.connect) may take. */
export const NATS_CLIENT_CONNECT_TIMEOUT_MS = 15_000;

/**
 * The most requests the open-loop generator keeps outstanding at once (one HTTP connection
 * each). A request due while that many wait for their answers is skipped and counted, so a
 * system that falls behind cannot make the generator's memory or connections grow without bound.
 */
export const OPEN_LOOP_OUTSTANDING_MAX = 256;

/** The most closed-loop clients one load may have (each its own HTTP connection). */
export const CLOSED_LOOP_CLIENTS_MAX = 1_024;

/** The highest open-loop rate, in writes per second, the bench will schedule. */
export const OPEN_LOOP_RATE_MAX_PER_SECOND = 50_000;

/** The lowest open-loop rate, in writes per second: below it a cell would hold a handful of writes. */
export const OPEN_LOOP_RATE_MIN_PER_SECOND = 1;

/** How long a cell waits, after its window, for the answers still outstanding. */
export const DRAIN_TIMEOUT_MS = REQUEST_TIMEOUT_SECONDS * 1000 + 5_000;

/** Entries one `GET /v1/log` page asks for (the gateway's logPageLimitMax). */
export const LOG_PAGE_LIMIT = 1_000;

/** Keys one etcd range request asks for. */
export const ETCD_RANGE_LIMIT = 1_000;

/** How long one log page or etcd range read may take. */
export const LOG_READ_TIMEOUT_MS = 30_000;

/** How long the whole exactly-once read of one system may take. */
export const LOG_CHECK_TIMEOUT_MS = 300_000;

/**
 * How long the check keeps re-reading the log's end when it holds fewer entries than the highest
 * acknowledged index (a learner still catching up), before it reports the writes missing.
 */
export const LOG_CATCH_UP_TIMEOUT_MS = 10_000;

/** How many problems of each kind the exactly-once check lists by name (it counts them all). */
export const CHECK_EXAMPLES_MAX = 5;

/** The highest `--rounds`, `--duration` and `--warmup` the bench accepts. */
export const ROUNDS_MAX = 20;
export const DURATION_SECONDS_MAX = 600;
export const WARMUP_SECONDS_MAX = 120;

/** Bench values are at least this long, so that the unique write id fits inside them. */
export const VALUE_BYTES_MIN = 48;

/** How often etcd's health and leader, and a log still catching up, are asked again. */
export const POLL_INTERVAL_MS = 200;

/** How long an idle keep-alive connection of the load generator stays open. */
export const KEEP_ALIVE_TIMEOUT_MS = 60_000;
