import type { SystemUnderTest } from "./system-under-test.ts";

const live = new Set<SystemUnderTest>();
let installed = false;

/**
 * Remembers a started system until `forget`, so that if the bench exits with it still running
 * (an uncaught error, process.exit from a signal handler), it is killed on the way out rather
 * than left behind with its servers and data.
 */
export function remember(system: SystemUnderTest): void {
  if (!installed) {
    installed = true;
    process.once("exit", killAll);
  }
  live.add(system);
}

/** Called once the system has been stopped. */
export function forget(system: SystemUnderTest): void {
  live.delete(system);
}

/** SIGKILLs every remembered system and its descendants, synchronously. */
export function killAll(): void {
  for (const system of live) system.killNow();
  live.clear();
}

/** Every system still running, e.g. to stop them gently on the first Ctrl-C. */
export function liveSystems(): readonly SystemUnderTest[] {
  return [...live];
}
