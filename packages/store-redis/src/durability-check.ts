/**
 * The Redis settings without which an acknowledged write can be lost (DESIGN.md, "Redis layout"):
 * no AOF, or an AOF not fsync'ed before each reply, loses the last writes on a power cut; a
 * truncated AOF loaded silently loses its tail; eviction deletes keys under memory pressure.
 * Each of them is amnesia the acceptor could not detect.
 */
export const REQUIRED_SETTINGS: Readonly<Record<string, string>> = Object.freeze({
  appendonly: "yes",
  appendfsync: "always",
  "aof-load-truncated": "no",
  "maxmemory-policy": "noeviction",
});

/**
 * REQUIRED_SETTINGS as redis-server command-line flags, for whoever starts a Redis for an
 * acceptor (npm start, tests), so the servers started and the check at open never disagree.
 */
export function requiredSettingsFlags(): string[] {
  return Object.entries(REQUIRED_SETTINGS).flatMap(([name, value]) => [`--${name}`, value]);
}

/** One setting that is not as required. */
export interface WrongSetting {
  readonly name: string;
  readonly actual: string | null;
  readonly required: string;
}

/**
 * Compares the settings Redis reported (name → value, as from CONFIG GET) with the required
 * ones and returns every one that differs; empty when Redis is durable.
 */
export function wrongSettings(actual: ReadonlyMap<string, string>): WrongSetting[] {
  return Object.entries(REQUIRED_SETTINGS)
    .filter(([name, required]) => actual.get(name) !== required)
    .map(([name, required]) => ({ name, actual: actual.get(name) ?? null, required }));
}

/** A sentence naming each wrong setting and its required value, for errors and logs. */
export function describeWrongSettings(wrong: readonly WrongSetting[]): string {
  return wrong
    .map((w) => `${w.name} is ${w.actual === null ? "unset" : JSON.stringify(w.actual)}, required "${w.required}"`)
    .join("; ");
}
