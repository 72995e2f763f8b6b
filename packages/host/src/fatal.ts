import { InvariantViolation } from "@paxos/core";
import { watchParent } from "./shutdown.ts";
import { EXIT_CODES } from "./exit-codes.ts";
import type { Logger } from "./logger.ts";

/**
 * What a host calls when it meets an error it must not survive: a broken invariant from a core
 * step, or a storage refusal. The default (`exitProcess`) logs at fatal and exits; tests and the
 * embedded cluster may pass their own.
 */
export type FatalHandler = (error: unknown, exitCode: number) => void;

/**
 * A FatalHandler that logs `error` at fatal on `logger` and exits the process with `exitCode`.
 * pino writes synchronously, so the record is out before the exit.
 */
export function exitProcess(logger: Logger): FatalHandler {
  return (error, exitCode) => {
    const invariantBroken = error instanceof InvariantViolation;
    const text = error instanceof Error ? error.message : String(error);
    const code = errorCode(error);
    const msg = invariantBroken
      ? `invariant violated, stopping: ${text}`
      : exitCode === EXIT_CODES.storageRefused
        ? `refusing to vote: storage ${code ?? "refused"}: ${text}`
        : `exiting with code ${exitCode}: ${text}`;
    logger.fatal({ err: error, exitCode, ...(code === null ? {} : { code }) }, msg);
    process.exit(exitCode);
  };
}

/** The `code` of a typed error (AcceptorStoreError, BusError, ...), or null. */
function errorCode(error: unknown): string | null {
  if (typeof error !== "object" || error === null || !("code" in error)) return null;
  return typeof error.code === "string" ? error.code : null;
}

/**
 * Makes an uncaught exception or unhandled rejection stop the process through `logger` at fatal
 * (exit 70), instead of Node's unstructured stack dump: whatever escaped is a bug or a broken
 * invariant, and the process state can no longer be trusted. Also starts watching the launcher
 * (PAXOS_PARENT_PID, see watchParent), so a process stuck starting still stops with it.
 */
export function installFatalHandlers(logger: Logger): void {
  watchParent(logger);
  const onFatal = exitProcess(logger);
  process.on("uncaughtException", (error) => onFatal(error, EXIT_CODES.invariant));
  process.on("unhandledRejection", (reason) => onFatal(reason, EXIT_CODES.invariant));
}
