// The checks test/deploy/compose.test.ts runs over docker-compose.yml, each a function from the
// parsed file to the problems it finds (empty when the file is right), so that the test can run
// every check on the real file and on deliberately broken copies of it.
import { readdirSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { GRAFANA_DASHBOARDS_DIR, prometheusArgs, SCRAPE_JOBS, type ScrapedRole } from "@paxos/dashboards";
import { acceptorConfig, learnerConfig, proposerConfig, ROLE_VARIABLES } from "@paxos/host";
import { requiredSettingsFlags } from "@paxos/store-redis";
import { parse } from "yaml";
import { GATEWAY_VARIABLES, gatewayConfig } from "../../services/gateway/src/config.ts";
import { loginProblems, natsServerProblems, parseAuthorization, unusedUserProblems } from "./nats-checks.ts";
import { aclPassword, type AcceptorRedis, redisAclUsers, redisAuthProblems } from "./redis-acl.ts";

export const REPO_ROOT = resolve(import.meta.dirname, "..", "..");

/** One service of a compose file, as far as the checks read it. */
export interface ComposeService {
  readonly image?: string;
  readonly build?: unknown;
  readonly command?: readonly string[] | string;
  readonly environment?: Readonly<Record<string, string | number | boolean | null>> | readonly string[];
  readonly healthcheck?: { readonly test?: readonly string[] | string; readonly disable?: boolean };
  readonly depends_on?: Readonly<Record<string, { readonly condition?: string }>> | readonly string[];
  readonly restart?: string;
  readonly ports?: readonly (string | Readonly<Record<string, unknown>>)[];
  readonly volumes?: readonly (string | Readonly<Record<string, unknown>>)[];
}

/** A compose file after YAML parsing (anchors and merge keys resolved). */
export interface ComposeFile {
  readonly services: Readonly<Record<string, ComposeService>>;
  readonly volumes?: Readonly<Record<string, unknown>>;
}

/** Parses compose YAML as Compose does: YAML 1.1 merge keys (`<<: *anchor`) resolved. */
export function parseCompose(text: string): ComposeFile {
  return parse(text, { merge: true }) as ComposeFile;
}

/** A `${VAR…}` reference found while interpolating: its name and default (null when none). */
export interface VariableUse {
  readonly name: string;
  readonly fallback: string | null;
}

const REFERENCE = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g;

/**
 * Compose's interpolation (Compose Specification, "Interpolation") of every string in `value`
 * with no variable set: `${VAR:-default}` and `${VAR-default}` become the default, `$$` a `$`;
 * a reference without a default becomes "" and is reported in `uses` with fallback null.
 */
export function interpolate<T>(value: T, uses: VariableUse[] = []): T {
  if (typeof value === "string") {
    return value.replace(REFERENCE, (match, braced?: string, operator?: string, word?: string, bare?: string) => {
      if (match === "$$") return "$";
      const name = braced ?? bare ?? "";
      const fallback = operator === ":-" || operator === "-" ? (word ?? "") : null;
      uses.push({ name, fallback });
      return fallback ?? "";
    }) as T;
  }
  if (Array.isArray(value)) return value.map((item: unknown) => interpolate(item, uses)) as T;
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, interpolate(item, uses)])) as T;
  }
  return value;
}

/** The command as a list of words (compose allows a string, split on spaces here). */
export function commandWords(service: ComposeService): string[] {
  const command = service.command ?? [];
  return typeof command === "string" ? command.split(/\s+/).filter((word) => word !== "") : [...command];
}

/** The service's environment as name → text. */
export function environmentOf(service: ComposeService): Record<string, string> {
  const environment = service.environment ?? {};
  if (Array.isArray(environment)) {
    return Object.fromEntries(
      (environment as readonly string[]).map((entry) => {
        const at = entry.indexOf("=");
        return at < 0 ? [entry, ""] : [entry.slice(0, at), entry.slice(at + 1)];
      }),
    );
  }
  return Object.fromEntries(
    Object.entries(environment as Record<string, string | number | boolean | null>).map(([name, value]) => [
      name,
      value === null ? "" : String(value),
    ]),
  );
}

/** What a service of ours runs: the role, and whether it is the acceptor's one-off init step. */
export interface PaxosProcess {
  readonly role: ScrapedRole;
  readonly script: string;
  readonly init: boolean;
}

const SCRIPT = /^services\/(acceptor|proposer|learner|gateway)\/src\/(main|init)\.ts$/;

/** The process a service of the project's image runs, or null for another image (or a bad command). */
export function paxosProcess(service: ComposeService): PaxosProcess | null {
  if (service.build === undefined) return null;
  const words = commandWords(service);
  const match = SCRIPT.exec(words[1] ?? "");
  if (words[0] !== "node" || match === null) return null;
  const role = match[1] as ScrapedRole;
  return { role, script: words[1] ?? "", init: match[2] === "init" };
}

/** Services run once to completion (their dependents wait for service_completed_successfully). */
export function isOneOff(service: ComposeService): boolean {
  return service.restart === "no" && paxosProcess(service)?.init === true;
}

const entries = (file: ComposeFile): [string, ComposeService][] => Object.entries(file.services);

/** Services of the project's image must run a known script of a service. */
export function commandProblems(file: ComposeFile): string[] {
  return entries(file)
    .filter(([, service]) => service.build !== undefined && paxosProcess(service) === null)
    .map(([name, service]) => `${name}: command ${JSON.stringify(commandWords(service))} runs no service entry point`);
}

/**
 * Every Redis runs with the settings the acceptor checks at start-up, and lets in only the
 * password-holding ACL user of its acceptor (redisAuthProblems).
 */
export function durabilityProblems(file: ComposeFile): string[] {
  const problems: string[] = [];
  const flags = requiredSettingsFlags();
  for (const [name, service] of entries(file)) {
    if (!(service.image ?? "").startsWith("redis:")) continue;
    const words = commandWords(service);
    if (words[0] !== "redis-server") problems.push(`${name}: command does not start redis-server`);
    for (let i = 0; i < flags.length; i += 2) {
      const at = words.indexOf(flags[i] ?? "");
      if (at < 0 || words[at + 1] !== flags[i + 1]) problems.push(`${name}: lacks ${flags[i]} ${flags[i + 1]}`);
    }
    problems.push(...redisAuthProblems(name, words));
  }
  return problems;
}

const CONFIG_READERS = {
  acceptor: acceptorConfig,
  proposer: proposerConfig,
  learner: learnerConfig,
  gateway: gatewayConfig,
} as const;

const VARIABLES: Readonly<Record<ScrapedRole, readonly string[]>> = {
  ...ROLE_VARIABLES,
  gateway: GATEWAY_VARIABLES,
};

/**
 * Every variable a service of ours gets is one its configuration reads (or an OTEL_* of the
 * OpenTelemetry SDK), and its own config reader accepts the environment, so every required one
 * is set and well formed. The long-running acceptors never get the init or the unsafe flag.
 */
export function environmentProblems(file: ComposeFile): string[] {
  const problems: string[] = [];
  for (const [name, service] of entries(file)) {
    const run = paxosProcess(service);
    if (run === null) continue;
    const env = environmentOf(service);
    for (const variable of Object.keys(env)) {
      if (!VARIABLES[run.role].includes(variable) && !variable.startsWith("OTEL_")) {
        problems.push(`${name}: ${variable} is not a variable the ${run.role} reads`);
      }
    }
    try {
      CONFIG_READERS[run.role](env);
    } catch (error) {
      problems.push(`${name}: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (run.role === "acceptor" && !run.init && !["", "0", "false"].includes(env["PAXOS_ACCEPTOR_INIT"] ?? "")) {
      problems.push(`${name}: sets PAXOS_ACCEPTOR_INIT; the one-off init service initialises, never the acceptor`);
    }
    if (!["", "0", "false"].includes(env["PAXOS_DEV_UNSAFE_STORAGE"] ?? "")) {
      problems.push(`${name}: sets PAXOS_DEV_UNSAFE_STORAGE`);
    }
  }
  return problems;
}

/**
 * Each acceptor and its init step use the same id and the same Redis of its own (a compose Redis
 * service, as the ACL user that Redis has, with its password); the services reach NATS and Jaeger
 * by compose service names.
 */
export function wiringProblems(file: ComposeFile): string[] {
  const problems: string[] = [];
  const redisOf = new Map<string, string>();
  for (const [name, service] of entries(file)) {
    const run = paxosProcess(service);
    if (run === null) continue;
    const env = environmentOf(service);
    for (const variable of ["NATS_URL", "OTEL_EXPORTER_OTLP_ENDPOINT"]) {
      const host = hostOf(env[variable]);
      if (host === null || file.services[host] === undefined) {
        problems.push(`${name}: ${variable} names no compose service`);
      }
    }
    if (run.role !== "acceptor") continue;
    const id = env["PAXOS_ACCEPTOR_ID"] ?? "";
    const url = parseUrl(env["REDIS_URL"]);
    const redis = url === null ? undefined : file.services[url.hostname];
    if (url === null || redis === undefined || !(redis.image ?? "").startsWith("redis:")) {
      problems.push(`${name}: REDIS_URL names no compose Redis service`);
      continue;
    }
    const user = redisAclUsers(commandWords(redis)).find((u) => u.name === decodeURIComponent(url.username));
    if (user === undefined || user.name === "default" || decodeURIComponent(url.password) !== aclPassword(user)) {
      problems.push(`${name}: REDIS_URL's user and password are not an ACL user of ${url.hostname}`);
    }
    const key = `${id}${run.init ? " init" : ""}`;
    if (redisOf.has(key)) problems.push(`${name}: a second ${key} service`);
    redisOf.set(key, url.hostname);
  }
  const acceptorIds = [...redisOf.keys()].filter((key) => !key.endsWith(" init"));
  for (const id of acceptorIds) {
    if (redisOf.get(`${id} init`) !== redisOf.get(id)) problems.push(`acceptor ${id}: no init step on its Redis`);
  }
  const redises = acceptorIds.map((id) => redisOf.get(id));
  if (new Set(redises).size !== redises.length) problems.push("two acceptors share one Redis");
  return problems;
}

/** Every image is pinned by a version tag; ours is built here and tagged, never `latest`. */
export function imageProblems(file: ComposeFile): string[] {
  const problems: string[] = [];
  for (const [name, service] of entries(file)) {
    const image = service.image;
    if (image === undefined) {
      problems.push(`${name}: no image`);
      continue;
    }
    const tag = /:([\w][\w.-]*)$/.exec(image.replace(/@sha256:[0-9a-f]{64}$/, ""))?.[1];
    if (tag === undefined || tag === "latest") problems.push(`${name}: image ${image} is not pinned by a tag`);
    else if (service.build === undefined && !/\d/.test(tag))
      problems.push(`${name}: image ${image}: tag not a version`);
  }
  return problems;
}

/**
 * Every long-running service has a healthcheck; ours probe /readyz on the port they serve it on
 * (PAXOS_ADMIN_PORT, the gateway's PAXOS_HTTP_PORT).
 */
export function healthcheckProblems(file: ComposeFile): string[] {
  const problems: string[] = [];
  for (const [name, service] of entries(file)) {
    if (isOneOff(service)) continue;
    const test = service.healthcheck?.test;
    if (test === undefined || service.healthcheck?.disable === true || (Array.isArray(test) && test[0] === "NONE")) {
      problems.push(`${name}: no healthcheck`);
      continue;
    }
    const run = paxosProcess(service);
    if (run === null) continue;
    const env = environmentOf(service);
    const port = run.role === "gateway" ? env["PAXOS_HTTP_PORT"] : env["PAXOS_ADMIN_PORT"];
    const text = typeof test === "string" ? test : test.join(" ");
    if (port === undefined || !text.includes(`http://127.0.0.1:${port}/readyz`)) {
      problems.push(`${name}: healthcheck does not probe /readyz on its port ${port ?? "(unset)"}`);
    }
  }
  return problems;
}

/**
 * Every dependency waits on a condition that can be met: service_healthy on a service with a
 * healthcheck, service_completed_successfully on a one-off; each acceptor waits for its Redis
 * healthy and its init step completed; no cycles.
 */
export function dependsOnProblems(file: ComposeFile): string[] {
  const problems: string[] = [];
  const needs = new Map<string, Map<string, string>>();
  for (const [name, service] of entries(file)) {
    const dependsOn = service.depends_on ?? {};
    if (Array.isArray(dependsOn)) {
      problems.push(`${name}: depends_on without conditions`);
      continue;
    }
    const conditions = new Map<string, string>();
    for (const [other, { condition }] of Object.entries(dependsOn as Record<string, { condition?: string }>)) {
      conditions.set(other, condition ?? "");
      const target = file.services[other];
      if (target === undefined) problems.push(`${name}: depends on unknown ${other}`);
      else if (condition === "service_healthy" && target.healthcheck?.test === undefined) {
        problems.push(`${name}: waits for ${other} healthy, which has no healthcheck`);
      } else if (condition === "service_completed_successfully" && !isOneOff(target)) {
        problems.push(`${name}: waits for ${other} to complete, which is not a one-off`);
      } else if (condition === undefined) problems.push(`${name}: depends on ${other} without a condition`);
    }
    needs.set(name, conditions);
  }
  for (const [name, service] of entries(file)) {
    const run = paxosProcess(service);
    if (run?.role !== "acceptor") continue;
    const env = environmentOf(service);
    const redis = parseUrl(env["REDIS_URL"])?.hostname ?? "";
    if (needs.get(name)?.get(redis) !== "service_healthy") problems.push(`${name}: does not wait for ${redis} healthy`);
    if (run.init) continue;
    const init = entries(file).find(
      ([, other]) =>
        paxosProcess(other)?.init === true && environmentOf(other)["PAXOS_ACCEPTOR_ID"] === env["PAXOS_ACCEPTOR_ID"],
    )?.[0];
    if (init === undefined || needs.get(name)?.get(init) !== "service_completed_successfully") {
      problems.push(`${name}: does not wait for its init step to complete`);
    }
  }
  const visiting = new Set<string>();
  const done = new Set<string>();
  const visit = (name: string, path: readonly string[]): void => {
    if (done.has(name)) return;
    if (visiting.has(name)) {
      problems.push(`depends_on cycle: ${[...path, name].join(" → ")}`);
      return;
    }
    visiting.add(name);
    for (const other of needs.get(name)?.keys() ?? []) visit(other, [...path, name]);
    visiting.delete(name);
    done.add(name);
  };
  for (const name of needs.keys()) visit(name, []);
  return problems;
}

/** Published ports listen on 127.0.0.1 only: the defaults of the env file are local secrets. */
export function portProblems(file: ComposeFile): string[] {
  const problems: string[] = [];
  for (const [name, service] of entries(file)) {
    for (const port of service.ports ?? []) {
      if (typeof port !== "string" || !port.startsWith("127.0.0.1:")) {
        problems.push(`${name}: port ${JSON.stringify(port)} is published beyond 127.0.0.1`);
      }
    }
  }
  return problems;
}

/** The named volumes each service mounts, as container path → volume name. */
function namedVolumes(file: ComposeFile, service: ComposeService): Map<string, string> {
  const mounts = new Map<string, string>();
  for (const volume of service.volumes ?? []) {
    if (typeof volume !== "string") continue;
    const [source = "", target = ""] = volume.split(":");
    if (file.volumes !== undefined && source in file.volumes) mounts.set(target, source);
  }
  return mounts;
}

/** Durable state lives on named volumes: each Redis's /data, the learner's log, the init markers. */
export function volumeProblems(file: ComposeFile): string[] {
  const problems: string[] = [];
  const owners = new Map<string, string>();
  for (const [name, service] of entries(file)) {
    const mounts = namedVolumes(file, service);
    for (const volume of mounts.values()) {
      if (owners.has(volume)) problems.push(`${name}: shares volume ${volume} with ${owners.get(volume)}`);
      owners.set(volume, name);
    }
    const run = paxosProcess(service);
    const under = (path: string): boolean => [...mounts.keys()].some((target) => `${path}/`.startsWith(`${target}/`));
    if ((service.image ?? "").startsWith("redis:") && !mounts.has("/data")) {
      problems.push(`${name}: Redis data /data is not on a named volume`);
    }
    if (run?.role === "learner" && !under(environmentOf(service)["PAXOS_DATA_DIR"] ?? "")) {
      problems.push(`${name}: PAXOS_DATA_DIR is not on a named volume`);
    }
    if (run?.init === true) {
      const words = commandWords(service);
      const marker = words[words.indexOf("--once") + 1];
      if (!words.includes("--once") || marker === undefined || !under(marker)) {
        problems.push(`${name}: runs without a --once marker on a named volume: it would initialise a wiped Redis`);
      }
    }
  }
  return problems;
}

/** The host of a URL, or null when it is not one. */
function hostOf(url: string | undefined): string | null {
  return parseUrl(url)?.hostname ?? null;
}

function parseUrl(url: string | undefined): URL | null {
  try {
    return url === undefined ? null : new URL(url);
  } catch {
    return null;
  }
}

/** The generated Prometheus config's targets, as job → addresses. */
export function scrapeTargets(prometheusYaml: string): Map<string, string[]> {
  const config = parse(prometheusYaml) as {
    scrape_configs?: { job_name: string; static_configs?: { targets?: string[] }[] }[];
  };
  return new Map(
    (config.scrape_configs ?? []).map((job) => [
      job.job_name,
      (job.static_configs ?? []).flatMap((group) => group.targets ?? []),
    ]),
  );
}

/** Where the Prometheus service reads its config (the container path), from its --config.file. */
const PROMETHEUS_CONFIG = "/etc/prometheus/prometheus.yml";

/**
 * The Prometheus service runs with prometheusArgs (exemplar storage on) on the generated config,
 * mounted read-only; that config scrapes every long-running service of ours at `<service>:<port>`
 * in its role's job, and nothing that is not a compose service.
 */
export function prometheusProblems(file: ComposeFile, prometheusYaml: string): string[] {
  const problems: string[] = [];
  const found = entries(file).find(([, service]) => (service.image ?? "").startsWith("prom/prometheus:"));
  if (found === undefined) return ["no Prometheus service"];
  const [name, prometheus] = found;
  const expected = prometheusArgs({
    configFile: PROMETHEUS_CONFIG,
    storageDir: "/prometheus",
    listenAddress: "0.0.0.0:9090",
  });
  if (JSON.stringify(commandWords(prometheus)) !== JSON.stringify(expected)) {
    problems.push(`${name}: command is not prometheusArgs(...): ${JSON.stringify(expected)}`);
  }
  if (!(prometheus.volumes ?? []).includes(`./deploy/prometheus/compose.yml:${PROMETHEUS_CONFIG}:ro`)) {
    problems.push(`${name}: does not mount deploy/prometheus/compose.yml read-only on ${PROMETHEUS_CONFIG}`);
  }
  const targets = scrapeTargets(prometheusYaml);
  for (const [service, definition] of entries(file)) {
    const run = paxosProcess(definition);
    if (run === null || run.init) continue;
    const env = environmentOf(definition);
    const port = run.role === "gateway" ? (env["PAXOS_HTTP_PORT"] ?? "8080") : (env["PAXOS_ADMIN_PORT"] ?? "9090");
    if (!(targets.get(SCRAPE_JOBS[run.role]) ?? []).includes(`${service}:${port}`)) {
      problems.push(`${service}: not scraped at ${service}:${port} in job ${SCRAPE_JOBS[run.role]}`);
    }
  }
  for (const address of [...targets.values()].flat()) {
    if (file.services[address.split(":")[0] ?? ""] === undefined) problems.push(`scrape target ${address}: no service`);
  }
  return problems;
}

/**
 * Grafana mounts deploy/grafana's provisioning and dashboards read-only where the provisioning
 * files expect them, and its datasource URL names the compose Prometheus service and port.
 */
export function grafanaProblems(file: ComposeFile, datasourceYaml: string): string[] {
  const problems: string[] = [];
  const found = entries(file).find(([, service]) => (service.image ?? "").startsWith("grafana/grafana:"));
  if (found === undefined) return ["no Grafana service"];
  const [name, grafana] = found;
  const volumes = grafana.volumes ?? [];
  for (const mount of [
    "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro",
    `./deploy/grafana/dashboards:${GRAFANA_DASHBOARDS_DIR}:ro`,
  ]) {
    if (!volumes.includes(mount)) problems.push(`${name}: lacks the mount ${mount}`);
  }
  if (!("GF_SECURITY_ADMIN_PASSWORD" in environmentOf(grafana))) problems.push(`${name}: default admin password`);
  const datasources = (parse(datasourceYaml) as { datasources?: { url?: string }[] }).datasources ?? [];
  for (const datasource of datasources) {
    const url = parseUrl(datasource.url);
    const target = url === null ? undefined : file.services[url.hostname];
    if (url === null || target === undefined || !(target.image ?? "").startsWith("prom/prometheus:")) {
      problems.push(`datasource ${datasource.url}: names no compose Prometheus service`);
    } else if (!commandWords(target).includes(`--web.listen-address=0.0.0.0:${url.port}`)) {
      problems.push(`datasource ${datasource.url}: Prometheus does not listen on port ${url.port}`);
    }
  }
  return problems;
}

/**
 * Every variable the compose file interpolates has a default, and the env file template sets
 * exactly those variables to exactly those defaults.
 */
export function envFileProblems(uses: readonly VariableUse[], envExample: string): string[] {
  const problems: string[] = [];
  const template = new Map(
    envExample
      .split("\n")
      .filter((line) => /^[A-Za-z_]\w*=/.test(line))
      .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
  );
  for (const use of uses) {
    if (use.fallback === null) problems.push(`\${${use.name}} has no default`);
    else if (!template.has(use.name)) problems.push(`${use.name} is not in .env.example`);
    else if (template.get(use.name) !== use.fallback) {
      problems.push(`${use.name}: .env.example says ${template.get(use.name)}, the compose default ${use.fallback}`);
    }
  }
  for (const name of template.keys()) {
    if (!uses.some((use) => use.name === name)) problems.push(`.env.example sets ${name}, which compose never reads`);
  }
  return problems;
}

/** A service of ours with its parsed configuration (its own config reader's result), or null. */
interface Configured {
  readonly name: string;
  readonly run: PaxosProcess;
  readonly env: Record<string, string>;
  /** null when the reader refuses the environment (the environment check reports that). */
  readonly config: ReturnType<(typeof CONFIG_READERS)[ScrapedRole]> | null;
}

function configured(file: ComposeFile): Configured[] {
  return entries(file).flatMap(([name, service]) => {
    const run = paxosProcess(service);
    if (run === null) return [];
    const env = environmentOf(service);
    let config: Configured["config"];
    try {
      config = CONFIG_READERS[run.role](env);
    } catch {
      config = null;
    }
    return [{ name, run, env, config }];
  });
}

/**
 * Every service of ours logs in to NATS as a user of the server's authorization block (its
 * NATS_USER, or the default its config reader gives) with exactly its role's permissions on the
 * subjects of its own PAXOS_CLUSTER; every user of the block is some service's; nobody sets
 * PAXOS_DEV_NATS_ANONYMOUS.
 */
export function natsLoginProblems(file: ComposeFile, authorizationText: string): string[] {
  const { users, problems } = parseAuthorization(authorizationText);
  const used = new Set<string>();
  for (const { name, run, env, config } of configured(file)) {
    if ("PAXOS_DEV_NATS_ANONYMOUS" in env) problems.push(`${name}: sets PAXOS_DEV_NATS_ANONYMOUS`);
    if (config === null) continue;
    const login = loginProblems(name, run.role, config, users);
    problems.push(...login.problems);
    if (login.user !== null) used.add(login.user);
  }
  return [...problems, ...unusedUserProblems(users, used)];
}

/** A `${NAME…}` reference that makes up a whole value, as its variable name; null otherwise. */
function wholeReference(value: unknown): string | null {
  return typeof value === "string"
    ? (/^\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-?][^}]*)?\}$/.exec(value)?.[1] ?? null)
    : null;
}

/** Variables that hold a credential itself (a `…_FILE` holds a path to one). */
const CREDENTIAL_NAME = /^(?!.*_FILE$)(?:.*(?:PASSWORD|TOKEN|SECRET).*|REDISCLI_AUTH)$/;

/**
 * No credential is written into the file: every environment variable named like one, every
 * password in a redis:// URL and in a Redis ACL rule is a whole `${VAR…}` reference (so it comes
 * from .env; envFileProblems checks that .env.example lists it). Each service of ours takes its
 * NATS_PASSWORD from the variable that the server's authorization block reads for that service's
 * user, and the NATS service gets that variable under the same name with the same default: so
 * each service holds its own password and only the server holds them all. `raw` is the parsed
 * file before interpolation, `file` after.
 */
export function credentialProblems(raw: ComposeFile, file: ComposeFile, authorizationText: string): string[] {
  const problems: string[] = [];
  for (const [name, service] of entries(raw)) {
    for (const [variable, value] of Object.entries(environmentOf(service))) {
      if (CREDENTIAL_NAME.test(variable) && wholeReference(value) === null)
        problems.push(`${name}: ${variable} is not a \${…} reference: a credential written into the file`);
      const urlPassword = /^rediss?:\/\/[^:@/]*:([^@]*)@/.exec(value)?.[1];
      if (urlPassword !== undefined && wholeReference(urlPassword) === null)
        problems.push(`${name}: ${variable}'s password is not a \${…} reference`);
    }
    for (const user of redisAclUsers(commandWords(service))) {
      const password = aclPassword(user);
      if (password !== null && wholeReference(password) === null)
        problems.push(`${name}: Redis ACL user ${user.name}'s password is not a \${…} reference`);
    }
  }
  const { users } = parseAuthorization(authorizationText);
  const nats = entries(raw).find(([, service]) => (service.image ?? "").startsWith("nats:"));
  if (nats === undefined) return [...problems, "no NATS service"];
  const [natsName] = nats;
  const natsRaw = environmentOf(nats[1]);
  const natsEnv = environmentOf(file.services[natsName] ?? {});
  for (const { user, password } of users) {
    if ("env" in password && wholeReference(natsRaw[password.env]) !== password.env)
      problems.push(`${natsName}: does not get ${password.env} (user ${user}'s password) from \${${password.env}}`);
  }
  for (const { name, env, config } of configured(file)) {
    const user = config?.nats.credentials?.user;
    const entry = users.find((u) => u.user === user);
    if (user === undefined || entry === undefined || !("env" in entry.password)) continue;
    const rawEnv = environmentOf(raw.services[name] ?? {});
    if (wholeReference(rawEnv["NATS_PASSWORD"]) !== entry.password.env) {
      problems.push(`${name}: NATS_PASSWORD is not \${${entry.password.env}}, the password of its user ${user}`);
    } else if (env["NATS_PASSWORD"] !== natsEnv[entry.password.env]) {
      problems.push(`${name}: NATS_PASSWORD's default differs from the one ${natsName} gets for ${user}`);
    }
    if ("NATS_PASSWORD_FILE" in env) problems.push(`${name}: sets NATS_PASSWORD_FILE as well as NATS_PASSWORD`);
  }
  return problems;
}

/** The folder of the compose NATS configuration: nats.conf and the generated authorization.conf. */
export const NATS_CONFIG_DIR = "deploy/nats";

/**
 * The NATS service runs `nats-server --config <dir>/nats.conf` from a read-only bind mount of
 * NATS_CONFIG_DIR, and nats-server accepts that folder's configuration with the environment the
 * service gets (every password variable set, to the defaults).
 */
export function natsServerCheckProblems(file: ComposeFile): string[] {
  const nats = entries(file).find(([, service]) => (service.image ?? "").startsWith("nats:"));
  if (nats === undefined) return ["no NATS service"];
  const [name, service] = nats;
  const words = commandWords(service);
  const config = words[words.indexOf("--config") + 1];
  if (words[0] !== "nats-server" || !words.includes("--config") || config === undefined)
    return [`${name}: does not run nats-server --config`];
  const mount = natsConfigMount(service, config);
  if (mount === null) return [`${name}: ${config} is not in a read-only bind mount of a repository folder`];
  if (mount.hostDir !== resolve(REPO_ROOT, NATS_CONFIG_DIR))
    return [`${name}: mounts ${mount.hostDir}, not ${NATS_CONFIG_DIR} (whose authorization.conf is generated)`];
  const files = Object.fromEntries(
    readdirSync(mount.hostDir).map((entry) => [entry, readFileSync(resolve(mount.hostDir, entry), "utf8")]),
  );
  return natsServerProblems(files, mount.file, environmentOf(service));
}

/** The repository folder mounted read-only where `configPath` lies, and the file's name in it. */
export function natsConfigMount(service: ComposeService, configPath: string): { hostDir: string; file: string } | null {
  for (const volume of service.volumes ?? []) {
    if (typeof volume !== "string") continue;
    const [source = "", target = "", mode = ""] = volume.split(":");
    if (!source.startsWith("./") || mode !== "ro" || !configPath.startsWith(`${target}/`)) continue;
    const file = configPath.slice(target.length + 1);
    if (file.includes("/")) continue;
    return { hostDir: resolve(REPO_ROOT, source), file };
  }
  return null;
}

/**
 * Every long-running service of ours listens beyond its own container: the roles' admin server
 * (PAXOS_ADMIN_HOST) and the gateway (PAXOS_HTTP_HOST) on 0.0.0.0, as their config readers read
 * it, since Prometheus scrapes them from its own container (both default to 127.0.0.1).
 */
export function bindProblems(file: ComposeFile): string[] {
  const problems: string[] = [];
  for (const { name, run, config } of configured(file)) {
    if (run.init || config === null) continue;
    const [variable, host] =
      "httpHost" in config ? ["PAXOS_HTTP_HOST", config.httpHost] : ["PAXOS_ADMIN_HOST", config.adminHost];
    if (host !== "0.0.0.0") problems.push(`${name}: ${variable} is ${host}, unreachable from other containers`);
  }
  return problems;
}

/** Each acceptor's Redis as the real-Redis check (acceptorRedisProblems) starts it. */
export function acceptorRedises(file: ComposeFile): AcceptorRedis[] {
  return configured(file).flatMap(({ name, run, env }) => {
    if (run.role !== "acceptor" || run.init) return [];
    const url = parseUrl(env["REDIS_URL"]);
    const redis = url === null ? undefined : file.services[url.hostname];
    if (url === null || redis === undefined) return [];
    return [
      {
        where: `${name} on ${url.hostname}`,
        words: commandWords(redis),
        redisUrl: env["REDIS_URL"] ?? "",
        cluster: env["PAXOS_CLUSTER"] ?? "local",
        acceptorId: env["PAXOS_ACCEPTOR_ID"] ?? "",
      },
    ];
  });
}

/** The text of a repository file. */
export function repoFile(path: string): string {
  return readFileSync(resolve(REPO_ROOT, path), "utf8");
}
