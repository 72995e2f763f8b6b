/**
 * The exit codes of the role processes, so that operators and the `npm start` launcher can tell
 * why one stopped. Values follow sysexits(3) where one fits.
 */
export const EXIT_CODES = Object.freeze({
  /** Stopped cleanly (SIGTERM, SIGINT). */
  ok: 0,
  /** Shutdown did not finish within its bound; work may have been cut short. */
  shutdownTimeout: 1,
  /** A bad or missing environment variable; the message names it. */
  config: 2,
  /** A broken protocol invariant (InvariantViolation): continuing would spread corruption. */
  invariant: 70,
  /** Storage refuses to serve: amnesia, not durable, or corrupt. An operator must look. */
  storageRefused: 78,
  /** A dependency (NATS, Redis, the disk) could not be reached at start-up. */
  unavailable: 69,
});
