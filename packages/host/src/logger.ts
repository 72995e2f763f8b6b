import { type DestinationStream, pino, type Logger, type LevelWithSilent } from "pino";

export type { Logger } from "pino";

/** The log levels LOG_LEVEL accepts, lowest first (pino's names). */
export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;

/**
 * The JSON logger of one process: one line per record on stdout, with `service` and `id` on every
 * line and the level as its name ("info", not 30) so that people and the `npm start` launcher can
 * read it. Writes are synchronous, so a record logged just before `process.exit` is not lost.
 * `destination` replaces stdout (the embedded cluster formats every role's lines itself).
 */
export function createLogger(
  service: string,
  id: string,
  level: LevelWithSilent = "info",
  destination?: DestinationStream,
): Logger {
  const options = {
    level,
    base: { service, id },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}
