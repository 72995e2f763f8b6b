import { ID_PATTERN } from "@paxos/wire";
import { LOG_LEVELS } from "./logger.ts";

/** The outcome of reading one environment variable. */
export type EnvResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problem: string };

/** Reads and validates one environment variable's raw value (undefined when unset or empty). */
export type EnvReader<T> = (raw: string | undefined) => EnvResult<T>;

/** A bad or missing environment variable, or several: `problems` names each one. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.problems = problems;
  }
}

const ok = <T>(value: T): EnvResult<T> => ({ ok: true, value });
const bad = (problem: string): EnvResult<never> => ({ ok: false, problem });

function withDefault<T>(read: (raw: string) => EnvResult<T>, fallback: T | undefined, hint: string): EnvReader<T> {
  return (raw) => {
    if (raw === undefined) return fallback === undefined ? bad(`is required (${hint})`) : ok(fallback);
    return read(raw);
  };
}

/**
 * Readers for the variables of COMMON.md. Each takes an optional default; without one the variable
 * is required. Problems are phrased to follow the variable's name ("PAXOS_X is required ...").
 */
export const envVar = {
  /** An id (cluster, acceptor, learner, proposer name): ID_PATTERN, at most `lengthMax` chars. */
  id(fallback?: string, lengthMax = 64): EnvReader<string> {
    return withDefault(
      (raw) =>
        ID_PATTERN.test(raw) && raw.length <= lengthMax
          ? ok(raw)
          : bad(`must be 1 to ${lengthMax} of A-Z a-z 0-9 _ - (got ${JSON.stringify(raw)})`),
      fallback,
      "an id such as a1",
    );
  },
  /** A comma-separated list of distinct ids, at least one. */
  idList(fallback?: readonly string[]): EnvReader<readonly string[]> {
    return withDefault(
      (raw) => {
        const ids = raw.split(",").map((id) => id.trim());
        const badId = ids.find((id) => !ID_PATTERN.test(id));
        if (badId !== undefined) return bad(`has an invalid id ${JSON.stringify(badId)} (want e.g. a1,a2,a3)`);
        if (new Set(ids).size !== ids.length) return bad(`lists an id twice (${JSON.stringify(raw)})`);
        return ok(ids);
      },
      fallback,
      "a comma list of acceptor ids, e.g. a1,a2,a3",
    );
  },
  /** A URL with one of `protocols` (e.g. "nats:"). The value is never echoed: it may hold a password. */
  url(protocols: readonly string[], fallback?: string): EnvReader<string> {
    return withDefault(
      (raw) => {
        let url: URL;
        try {
          url = new URL(raw);
        } catch {
          return bad(`is not a URL (want ${protocols[0]}//host:port)`);
        }
        return protocols.includes(url.protocol) ? ok(raw) : bad(`must use ${protocols.join(" or ")}`);
      },
      fallback,
      `a URL such as ${protocols[0]}//127.0.0.1:port`,
    );
  },
  /** A TCP port, 0..65535 (0: any free port). */
  port(fallback?: number): EnvReader<number> {
    return withDefault(
      (raw) => {
        const port = /^\d{1,5}$/.test(raw) ? Number(raw) : NaN;
        return port >= 0 && port <= 65_535
          ? ok(port)
          : bad(`must be a port number 0..65535 (got ${JSON.stringify(raw)})`);
      },
      fallback,
      "a port number",
    );
  },
  /** A switch: "1" or "true" is on, "0" or "false" (or unset) is off. */
  flag(): EnvReader<boolean> {
    return withDefault(
      (raw) => {
        if (raw === "1" || raw === "true") return ok(true);
        if (raw === "0" || raw === "false") return ok(false);
        return bad(`must be 1 or 0 (got ${JSON.stringify(raw)})`);
      },
      false,
      "1 or 0",
    );
  },
  /** A pino log level. */
  logLevel(fallback: (typeof LOG_LEVELS)[number] = "info"): EnvReader<(typeof LOG_LEVELS)[number]> {
    return withDefault(
      (raw) => {
        const level = LOG_LEVELS.find((l) => l === raw);
        return level === undefined ? bad(`must be one of ${LOG_LEVELS.join(", ")}`) : ok(level);
      },
      fallback,
      LOG_LEVELS.join(", "),
    );
  },
  /** Any non-empty text, such as a folder path or a host name. */
  text(fallback?: string): EnvReader<string> {
    return withDefault((raw) => ok(raw), fallback, "a non-empty value");
  },
};

type EnvSpec = Readonly<Record<string, EnvReader<unknown>>>;
type EnvValues<S extends EnvSpec> = { readonly [K in keyof S]: S[K] extends EnvReader<infer T> ? T : never };

/**
 * Reads every variable of `spec` (keys are the variable names) from `source`. Empty values count as
 * unset. Throws one ConfigError naming every bad or missing variable, not only the first.
 */
export function readEnv<S extends EnvSpec>(spec: S, source: NodeJS.ProcessEnv): EnvValues<S> {
  const values: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, read] of Object.entries(spec)) {
    const raw = source[name];
    const result = read(raw === undefined || raw.trim() === "" ? undefined : raw.trim());
    if (result.ok) values[name] = result.value;
    else problems.push(`${name} ${result.problem}`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return values as EnvValues<S>;
}
