import { EXIT_CODES } from "./exit-codes.ts";
import type { Logger } from "./logger.ts";

/** How often a child of the launcher checks that the launcher still runs. */
const PARENT_CHECK_INTERVAL_MS = 500;

/** One step of a graceful shutdown, run in order: stop intake, drain, close connections. */
export interface ShutdownStep {
  readonly name: string;
  readonly run: () => Promise<void>;
}

/**
 * On the first SIGTERM or SIGINT, runs `steps` one after another and exits 0; if they take longer
 * than `timeoutMs`, or a second signal arrives, exits at once with code 1. A failing step is logged
 * and the next one still runs, so every connection gets its chance to close. With
 * PAXOS_PARENT_PID set, the death of that parent process starts the same shutdown.
 */
export function installShutdown(logger: Logger, steps: readonly ShutdownStep[], timeoutMs = 10_000): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, "second signal: exiting now");
      process.exit(EXIT_CODES.shutdownTimeout);
    }
    stopping = true;
    logger.info({ signal, timeoutMs }, "shutting down");
    const timer = setTimeout(() => {
      logger.error({ timeoutMs }, "shutdown did not finish in time: exiting");
      process.exit(EXIT_CODES.shutdownTimeout);
    }, timeoutMs);
    timer.unref();
    void (async () => {
      for (const step of steps) {
        try {
          await step.run();
        } catch (error) {
          logger.warn({ err: error, step: step.name }, "shutdown step failed");
        }
      }
      logger.info("stopped");
      process.exit(EXIT_CODES.ok);
    })();
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  watchParent(logger);
  onParentGone = () => onSignal("SIGTERM");
}

/** What the parent's death does: exit at once until installShutdown has a graceful way. */
let onParentGone: () => void = () => process.exit(EXIT_CODES.ok);
let watchingParent = false;

/**
 * With PAXOS_PARENT_PID set (the `npm start` launcher sets it), stops this process when that
 * process is gone: a launcher killed with SIGKILL cannot stop its children, so they stop
 * themselves rather than run on unsupervised. Called first thing (installFatalHandlers), so that
 * a process still starting (waiting for a Redis that never answers, say) stops too; from
 * installShutdown on, the stop is the graceful shutdown. Idempotent.
 */
export function watchParent(logger: Logger): void {
  const parentPid = Number.parseInt(process.env["PAXOS_PARENT_PID"] ?? "", 10);
  if (watchingParent || !Number.isSafeInteger(parentPid) || parentPid <= 0) return;
  watchingParent = true;
  const timer = setInterval(() => {
    if (process.ppid === parentPid) return;
    clearInterval(timer);
    logger.warn({ parentPid }, "the launcher that started this process is gone: shutting down");
    onParentGone();
  }, PARENT_CHECK_INTERVAL_MS);
  timer.unref();
}
