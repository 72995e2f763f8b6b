import { ID_PATTERN } from "@paxos/wire";
import { z } from "zod";
import { LOG_LEVELS } from "./logger.ts";

/**
 * The zod schema of one environment variable. Its input is the variable's trimmed value, or
 * undefined when it is unset or empty (readEnv does that step). Each problem message follows the
 * variable's name, as in "PAXOS_X is required (...)".
 */
export type EnvVar<T> = z.ZodType<T, string | undefined>;

/** A bad or missing environment variable, or several: `problems` names each one. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.problems = problems;
  }
}

/** A zod `error` option whose message shows the bad value, quoted. Never for URLs (passwords). */
const invalid = (problem: (shown: string) => string) => ({
  error: (issue: { readonly input?: unknown }) => problem(JSON.stringify(issue.input)),
});

const required = (hint: string) => ({ error: `is required (${hint})` });

const splitList = (raw: string): string[] => raw.split(",").map((item) => item.trim());

/** A URL with one of `protocols`. The message never shows the value: a URL may hold a password. */
function urlSchema(protocols: readonly string[]) {
  const example = `${protocols[0]}://127.0.0.1:port`;
  const problem = `must use ${protocols.map((p) => `${p}:`).join(" or ")} (a URL such as ${example})`;
  return z.url({
    protocol: new RegExp(`^(?:${protocols.join("|")})$`),
    error: (issue) => (issue.input === undefined ? `is required (a URL such as ${example})` : problem),
  });
}

/**
 * Readers for the variables of COMMON.md. Each one is required; chain zod's `.default(value)` for
 * a default, or `.nullable().default(null)` for an optional variable.
 */
export const envVar = {
  /** An id (cluster, acceptor, learner, proposer name): ID_PATTERN, at most `lengthMax` chars. */
  id(lengthMax = 64): EnvVar<string> {
    const bad = invalid((shown) => `must be 1 to ${lengthMax} of A-Z a-z 0-9 _ - (got ${shown})`);
    return z.string(required("an id such as a1")).regex(ID_PATTERN, bad).max(lengthMax, bad);
  },
  /** A comma-separated list of distinct ids, at least one. */
  idList(): EnvVar<readonly string[]> {
    const id = z.string().regex(
      ID_PATTERN,
      invalid((shown) => `has an invalid id ${shown} (want e.g. a1,a2,a3)`),
    );
    return z
      .string(required("a comma list of acceptor ids, e.g. a1,a2,a3"))
      .transform(splitList)
      .pipe(
        z.array(id).superRefine((ids, ctx) => {
          const twice = ids.find((one, index) => ids.indexOf(one) !== index);
          if (twice !== undefined)
            ctx.addIssue({ code: "custom", message: `lists an id twice (${JSON.stringify(twice)})` });
        }),
      );
  },
  /** A URL with one of `protocols` (names without the colon, e.g. "nats"). Never echoed back. */
  url(protocols: readonly string[]): EnvVar<string> {
    return urlSchema(protocols);
  },
  /** A comma-separated list of URLs with one of `protocols`, at least one. Never echoed back. */
  urlList(protocols: readonly string[]): EnvVar<readonly string[]> {
    return z
      .string(required(`a comma list of URLs such as ${protocols[0]}://127.0.0.1:port`))
      .transform(splitList)
      .pipe(z.array(urlSchema(protocols)));
  },
  /** A TCP port, 0..65535 (0: any free port). */
  port(): EnvVar<number> {
    return z
      .string(required("a port number"))
      .refine(
        (raw) => /^\d{1,5}$/.test(raw) && Number(raw) <= 65_535,
        invalid((shown) => `must be a port number 0..65535 (got ${shown})`),
      )
      .transform(Number);
  },
  /** A switch: "1" or "true" is on, "0" or "false" is off. Usually chained with `.default(false)`. */
  /** A duration in whole milliseconds, from `minMs` to `maxMs`. */
  milliseconds(minMs: number, maxMs: number): EnvVar<number> {
    return z
      .string(required(`milliseconds, ${minMs} to ${maxMs}`))
      .refine(
        (raw) => /^\d{1,9}$/.test(raw) && Number(raw) >= minMs && Number(raw) <= maxMs,
        invalid((shown) => `must be a whole number of milliseconds, ${minMs} to ${maxMs} (got ${shown})`),
      )
      .transform(Number);
  },
  flag(): EnvVar<boolean> {
    return z.stringbool({
      truthy: ["1", "true"],
      falsy: ["0", "false"],
      case: "sensitive",
      error: (issue) =>
        issue.input === undefined ? "is required (1 or 0)" : `must be 1 or 0 (got ${JSON.stringify(issue.input)})`,
    });
  },
  /** A pino log level. */
  logLevel(): EnvVar<(typeof LOG_LEVELS)[number]> {
    const levels = LOG_LEVELS.join(", ");
    return z.enum(LOG_LEVELS, {
      error: (issue) => (issue.input === undefined ? `is required (${levels})` : `must be one of ${levels}`),
    });
  },
  /**
   * A JSON object overriding some of `defaults`' bounds, e.g. `{"inflightSlotsMax":16}`: every
   * key one of `defaults`' names, every value a positive whole number. Chain `.default({})`.
   */
  overrides<T extends { readonly [K in keyof T]: number }>(defaults: T): EnvVar<Partial<T>> {
    const names = Object.keys(defaults);
    const first = names[0] ?? "";
    const bad = `must be a JSON object of positive whole numbers with keys among ${names.join(", ")}`;
    return z
      .string(required(`a JSON object such as {"${first}":${String(defaults[first as keyof T])}}`))
      .transform((raw, ctx) => {
        try {
          return JSON.parse(raw) as unknown;
        } catch {
          ctx.addIssue({ code: "custom", message: `is not JSON (${bad})` });
          return z.NEVER;
        }
      })
      .pipe(
        z.record(z.string(), z.unknown(), { error: bad }).superRefine((object, ctx) => {
          for (const [name, value] of Object.entries(object)) {
            if (!names.includes(name))
              ctx.addIssue({ code: "custom", message: `has an unknown key ${JSON.stringify(name)} (${bad})` });
            else if (!Number.isSafeInteger(value) || (value as number) < 1)
              ctx.addIssue({
                code: "custom",
                message: `has ${name} ${JSON.stringify(value)}, not a positive whole number`,
              });
          }
        }),
      ) as unknown as EnvVar<Partial<T>>;
  },
  /** Any non-empty text, such as a folder path or a host name. */
  text(): EnvVar<string> {
    return z.string(required("a non-empty value"));
  },
};

type EnvSpec = Readonly<Record<string, z.ZodType>>;
type EnvValues<S extends EnvSpec> = { readonly [K in keyof S]: z.output<S[K]> };

/**
 * Reads every variable of `spec` (keys are the variable names, values their EnvVar schemas) from
 * `source`. Empty values count as unset. Throws one ConfigError naming every bad or missing
 * variable, not only the first, with one line per variable.
 */
export function readEnv<S extends EnvSpec>(spec: S, source: NodeJS.ProcessEnv): EnvValues<S> {
  const input: Record<string, string | undefined> = {};
  for (const name of Object.keys(spec)) {
    const raw = source[name]?.trim();
    input[name] = raw === "" ? undefined : raw;
  }
  const result = z.object(spec).safeParse(input);
  if (result.success) return result.data as EnvValues<S>;
  const problems = new Map<string, string>();
  for (const issue of result.error.issues) {
    const name = String(issue.path[0]);
    if (!problems.has(name)) problems.set(name, `${name} ${issue.message}`);
  }
  throw new ConfigError([...problems.values()]);
}
