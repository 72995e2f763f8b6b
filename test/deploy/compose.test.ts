// docker-compose.yml works the first time `docker compose up` runs, although no Docker engine runs
// here: `docker-compose config` accepts it, it validates against the Compose Specification's
// schema (vendored in schemas/), and the checks of compose-checks.ts hold against what the
// services really read (their config readers), require (Redis durability) and export (the
// generated Prometheus config, which `promtool check config` accepts; the Grafana provisioning;
// the generated NATS authorization, which `nats-server -t` accepts). Each acceptor's store runs
// against a real redis-server started with its Redis's command line (redis-acl.ts). Each check is
// then run on a deliberately broken copy of the file, to show that it can fail.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ajv } from "ajv";
import addFormatsPlugin from "ajv-formats";
import { afterAll, describe, expect, it } from "vitest";
import {
  acceptorRedises,
  bindProblems,
  commandProblems,
  type ComposeFile,
  credentialProblems,
  dependsOnProblems,
  durabilityProblems,
  envFileProblems,
  environmentProblems,
  grafanaProblems,
  healthcheckProblems,
  imageProblems,
  interpolate,
  natsLoginProblems,
  natsServerCheckProblems,
  parseCompose,
  portProblems,
  prometheusProblems,
  REPO_ROOT,
  repoFile,
  type VariableUse,
  volumeProblems,
  wiringProblems,
} from "./compose-checks.ts";
import { acceptorRedisProblems } from "./redis-acl.ts";

const COMPOSE_TEXT = repoFile("docker-compose.yml");
const PROMETHEUS_YAML = repoFile("deploy/prometheus/compose.yml");
const DATASOURCE_YAML = repoFile("deploy/grafana/provisioning/datasources/prometheus.yaml");
const ENV_EXAMPLE = repoFile(".env.example");
// What the NATS service mounts (natsServerCheckProblems checks that it is this folder).
const NATS_AUTHORIZATION = repoFile("deploy/nats/authorization.conf");

const scratch = mkdtempSync(join(tmpdir(), "paxos-compose-"));
// docker-compose reads .env from the project folder; an empty env file keeps a developer's own
// .env out of the test, so the file's defaults are what is checked.
const EMPTY_ENV_FILE = join(scratch, "empty.env");
writeFileSync(EMPTY_ENV_FILE, "");
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Runs a command; a missing binary fails the test with how to install it. */
function run(binary: string, args: readonly string[], installHint: string): { status: number | null; output: string } {
  const result = spawnSync(binary, args, { encoding: "utf8", cwd: REPO_ROOT });
  if (result.error !== undefined) throw new Error(`${binary} could not run (${result.error.message}): ${installHint}`);
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** `docker-compose config -q` on `text` as the repository's compose file. */
function composeConfig(text: string): { status: number | null; output: string } {
  const file = join(scratch, `docker-compose-${Math.random().toString(16).slice(2)}.yml`);
  writeFileSync(file, text);
  return run(
    "docker-compose",
    ["--project-directory", REPO_ROOT, "--env-file", EMPTY_ENV_FILE, "-f", file, "config", "-q"],
    "apt-get install docker-compose (.ci/run installs it)",
  );
}

/** `promtool check config` on `text`. */
function promtoolCheck(text: string): { status: number | null; output: string } {
  const file = join(scratch, `prometheus-${Math.random().toString(16).slice(2)}.yml`);
  writeFileSync(file, text);
  return run("promtool", ["check", "config", file], "apt-get install prometheus (.ci/run installs it)");
}

const schema = JSON.parse(repoFile("test/deploy/schemas/compose-spec.json")) as object;
// The schema is draft-07, Ajv's default draft, but names the meta-schema by its https address
// ($schema), which Ajv knows by the http one: register the same meta-schema under that name too.
// strictTypes is a style lint of the schema itself (implicit "type"s), which is not ours to edit.
const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false });
const draft07 = JSON.parse(
  readFileSync(createRequire(import.meta.url).resolve("ajv/dist/refs/json-schema-draft-07.json"), "utf8"),
) as Record<string, unknown>;
ajv.addMetaSchema({ ...draft07, $id: (schema as { $schema: string }).$schema });
(addFormatsPlugin as unknown as (ajv: Ajv) => Ajv)(ajv);
const validateCompose = ajv.compile(schema);

/** Schema errors of a compose file's text, one line each. */
function schemaProblems(text: string): string[] {
  if (validateCompose(parseCompose(text))) return [];
  return (validateCompose.errors ?? []).map((error) => `${error.instancePath} ${error.message ?? ""}`);
}

/** The file as the checks see it: interpolated with every default, and the variables it uses. */
function interpolated(text: string): { file: ComposeFile; uses: VariableUse[] } {
  const uses: VariableUse[] = [];
  const file = interpolate(parseCompose(text), uses);
  return { file, uses };
}

/** Every check of compose-checks.ts, by name, on one compose text. */
const CHECKS: Readonly<Record<string, (text: string) => string[]>> = {
  commands: (text) => commandProblems(interpolated(text).file),
  "Redis durability": (text) => durabilityProblems(interpolated(text).file),
  environment: (text) => environmentProblems(interpolated(text).file),
  wiring: (text) => wiringProblems(interpolated(text).file),
  images: (text) => imageProblems(interpolated(text).file),
  healthchecks: (text) => healthcheckProblems(interpolated(text).file),
  depends_on: (text) => dependsOnProblems(interpolated(text).file),
  ports: (text) => portProblems(interpolated(text).file),
  volumes: (text) => volumeProblems(interpolated(text).file),
  Prometheus: (text) => prometheusProblems(interpolated(text).file, PROMETHEUS_YAML),
  Grafana: (text) => grafanaProblems(interpolated(text).file, DATASOURCE_YAML),
  "env file": (text) => envFileProblems(interpolated(text).uses, ENV_EXAMPLE),
  "NATS logins": (text) => natsLoginProblems(interpolated(text).file, NATS_AUTHORIZATION),
  credentials: (text) => credentialProblems(parseCompose(text), interpolated(text).file, NATS_AUTHORIZATION),
  "NATS server": (text) => natsServerCheckProblems(interpolated(text).file),
  "bind hosts": (text) => bindProblems(interpolated(text).file),
};

/** Every acceptor's store against a real Redis started as compose starts that acceptor's. */
async function redisAclProblems(text: string): Promise<string[]> {
  const redises = acceptorRedises(interpolated(text).file);
  if (redises.length === 0) return ["no acceptor with a Redis"];
  return (await Promise.all(redises.map((redis) => acceptorRedisProblems(redis)))).flat();
}

describe("docker-compose.yml", () => {
  it("passes `docker-compose config`", () => {
    const { status, output } = composeConfig(COMPOSE_TEXT);
    expect(status, output).toBe(0);
  });

  it("validates against the Compose Specification's schema", () => {
    expect(schemaProblems(COMPOSE_TEXT)).toEqual([]);
  });

  for (const [name, check] of Object.entries(CHECKS)) {
    it(`passes the ${name} check`, () => {
      expect(check(COMPOSE_TEXT)).toEqual([]);
    });
  }

  it("lets each acceptor's own store run on its Redis, and nobody and nothing else", async () => {
    expect(await redisAclProblems(COMPOSE_TEXT)).toEqual([]);
  });

  it("mounts a Prometheus config that `promtool check config` accepts", () => {
    const { status, output } = promtoolCheck(PROMETHEUS_YAML);
    expect(status, output).toBe(0);
  });

  it("has a .gitignore that keeps the env file with the real credentials out of git", () => {
    expect(repoFile(".gitignore").split("\n")).toContain(".env");
  });
});

/** Replaces the first `from` in `text` (which must occur) by `to`. */
function breakText(text: string, from: string, to: string): string {
  const at = text.indexOf(from);
  if (at < 0) throw new Error(`the broken variant's text ${JSON.stringify(from)} is not in the file`);
  return text.slice(0, at) + to + text.slice(at + from.length);
}

/** A deliberately broken docker-compose.yml and the check that must catch it. */
interface BrokenVariant {
  readonly what: string;
  readonly from: string;
  readonly to: string;
  readonly caughtBy: string;
}

const BROKEN: readonly BrokenVariant[] = [
  {
    what: "a Redis without appendfsync always",
    from: "      - --appendfsync\n      - always\n",
    to: "",
    caughtBy: "Redis durability",
  },
  {
    what: "a misspelt variable",
    from: "PAXOS_PROPOSER_NAME: p1",
    to: "PAXOS_PROPOSR_NAME: p1",
    caughtBy: "environment",
  },
  {
    what: "an acceptor started with PAXOS_ACCEPTOR_INIT",
    from: '      PAXOS_ADMIN_PORT: "9090"\n      PAXOS_ACCEPTOR_ID: a2\n',
    to: '      PAXOS_ADMIN_PORT: "9090"\n      PAXOS_ACCEPTOR_ID: a2\n      PAXOS_ACCEPTOR_INIT: "1"\n',
    caughtBy: "environment",
  },
  {
    what: "an acceptor on another acceptor's Redis",
    from: '      PAXOS_ADMIN_PORT: "9090"\n      PAXOS_ACCEPTOR_ID: a3\n      REDIS_URL: redis://acceptor:${REDIS_A3_PASSWORD:-a3-local-only}@redis-a3:6379',
    to: '      PAXOS_ADMIN_PORT: "9090"\n      PAXOS_ACCEPTOR_ID: a3\n      REDIS_URL: redis://acceptor:${REDIS_A2_PASSWORD:-a2-local-only}@redis-a2:6379',
    caughtBy: "wiring",
  },
  {
    what: "an acceptor logging in to its Redis as the default user",
    from: "REDIS_URL: redis://acceptor:${REDIS_A1_PASSWORD:-a1-local-only}@redis-a1:6379",
    to: "REDIS_URL: redis://default:${REDIS_A1_PASSWORD:-a1-local-only}@redis-a1:6379",
    caughtBy: "wiring",
  },
  {
    what: "a Redis whose default user stays on",
    from: '      - --user\n      - default\n      - "off"\n',
    to: "",
    caughtBy: "Redis durability",
  },
  {
    what: "a Redis with requirepass again",
    from: "      - --maxmemory-policy\n      - noeviction\n",
    to: "      - --maxmemory-policy\n      - noeviction\n      - --requirepass\n      - ${REDIS_A2_PASSWORD:-a2-local-only}\n",
    caughtBy: "Redis durability",
  },
  { what: "an image on latest", from: "image: redis:7.4.11-alpine", to: "image: redis:latest", caughtBy: "images" },
  {
    what: "NATS without a healthcheck",
    from:
      '    healthcheck:\n      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8222/healthz"]\n' +
      "      interval: 2s\n      timeout: 3s\n      retries: 30\n",
    to: "",
    caughtBy: "healthchecks",
  },
  {
    what: "a healthcheck on a port the service does not serve",
    from: '      PAXOS_ADMIN_PORT: "9090"\n      PAXOS_PROPOSER_NAME: p2',
    to: '      PAXOS_ADMIN_PORT: "9091"\n      PAXOS_PROPOSER_NAME: p2',
    caughtBy: "healthchecks",
  },
  {
    what: "an acceptor that does not wait for its init step",
    from: "      acceptor-a1-init:\n        condition: service_completed_successfully",
    to: "      acceptor-a1-init:\n        condition: service_started",
    caughtBy: "depends_on",
  },
  {
    what: "a published port open beyond this machine",
    from: "127.0.0.1:3000:3000",
    to: "3000:3000",
    caughtBy: "ports",
  },
  {
    what: "an init step without its --once marker",
    from: '["node", "services/acceptor/src/init.ts", "--once", "/var/lib/paxos/acceptor-initialised"]',
    to: '["node", "services/acceptor/src/init.ts"]',
    caughtBy: "volumes",
  },
  {
    what: "a service Prometheus does not scrape",
    from: '      PAXOS_ADMIN_PORT: "9090"\n      PAXOS_LEARNER_ID: l1',
    to: '      PAXOS_ADMIN_PORT: "9191"\n      PAXOS_LEARNER_ID: l1',
    caughtBy: "Prometheus",
  },
  {
    what: "Prometheus without exemplar storage",
    from: "      - --enable-feature=exemplar-storage\n",
    to: "",
    caughtBy: "Prometheus",
  },
  {
    what: "Grafana's dashboards mounted elsewhere",
    from: "./deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro",
    to: "./deploy/grafana/dashboards:/dashboards:ro",
    caughtBy: "Grafana",
  },
  {
    what: "a default that differs from .env.example",
    from: "${GRAFANA_ADMIN_PASSWORD:-paxos-local-only}",
    to: "${GRAFANA_ADMIN_PASSWORD:-admin}",
    caughtBy: "env file",
  },
  {
    what: "a proposer whose NATS user the server does not know (and a user nobody logs in as)",
    from: "PAXOS_PROPOSER_NAME: p2",
    to: "PAXOS_PROPOSER_NAME: p3",
    caughtBy: "NATS logins",
  },
  {
    what: "a learner logging in as another role's user",
    from: "      PAXOS_LEARNER_ID: l1\n",
    to: "      PAXOS_LEARNER_ID: l1\n      NATS_USER: gateway-g1\n",
    caughtBy: "NATS logins",
  },
  {
    what: "services on another cluster's subjects than the server permits",
    from: "PAXOS_CLUSTER: compose",
    to: "PAXOS_CLUSTER: elsewhere",
    caughtBy: "NATS logins",
  },
  {
    what: "a service with the development escape PAXOS_DEV_NATS_ANONYMOUS",
    from: '      PAXOS_HTTP_PORT: "8080"\n',
    to: '      PAXOS_HTTP_PORT: "8080"\n      PAXOS_DEV_NATS_ANONYMOUS: "1"\n',
    caughtBy: "NATS logins",
  },
  {
    what: "a NATS password written into the file",
    from: "NATS_PASSWORD: ${NATS_LEARNER_L1_PASSWORD:-nats-l1-local-only}",
    to: "NATS_PASSWORD: nats-l1-local-only",
    caughtBy: "credentials",
  },
  {
    what: "the gateway given a proposer's NATS password",
    from: "NATS_PASSWORD: ${NATS_GATEWAY_G1_PASSWORD:-nats-g1-local-only}",
    to: "NATS_PASSWORD: ${NATS_PROPOSER_P1_PASSWORD:-nats-p1-local-only}",
    caughtBy: "credentials",
  },
  {
    what: "a Redis ACL password written into the file",
    from: '">${REDIS_A1_PASSWORD:-a1-local-only}"',
    to: '">a1-local-only"',
    caughtBy: "credentials",
  },
  {
    what: "a NATS server without one user's password",
    from: "      NATS_GATEWAY_G1_PASSWORD: ${NATS_GATEWAY_G1_PASSWORD:-nats-g1-local-only}\n",
    to: "",
    caughtBy: "NATS server",
  },
  {
    what: "a NATS server on its built-in configuration",
    from: '["nats-server", "--config", "/etc/nats/nats.conf"]',
    to: '["nats-server"]',
    caughtBy: "NATS server",
  },
  {
    what: "a learner whose admin server listens on 127.0.0.1 only",
    from: '      PAXOS_ADMIN_HOST: 0.0.0.0\n      PAXOS_ADMIN_PORT: "9090"\n      PAXOS_LEARNER_ID: l1',
    to: '      PAXOS_ADMIN_PORT: "9090"\n      PAXOS_LEARNER_ID: l1',
    caughtBy: "bind hosts",
  },
  {
    what: "a gateway listening on 127.0.0.1",
    from: "PAXOS_HTTP_HOST: 0.0.0.0",
    to: "PAXOS_HTTP_HOST: 127.0.0.1",
    caughtBy: "bind hosts",
  },
  {
    what: "a command naming no entry point",
    from: 'command: ["node", "services/proposer/src/main.ts"]',
    to: 'command: ["node", "services/proposer/main.ts"]',
    caughtBy: "commands",
  },
];

describe("each check fails on a broken docker-compose.yml", () => {
  for (const variant of BROKEN) {
    it(`the ${variant.caughtBy} check catches ${variant.what}`, () => {
      const check = CHECKS[variant.caughtBy];
      if (check === undefined) throw new Error(`no check named ${variant.caughtBy}`);
      expect(check(breakText(COMPOSE_TEXT, variant.from, variant.to))).not.toEqual([]);
    });
  }

  it("the Redis ACL check catches a store command the ACL forbids, and an ACL that allows everything", async () => {
    expect(await redisAclProblems(breakText(COMPOSE_TEXT, "      - +hscan\n", ""))).not.toEqual([]);
    expect(await redisAclProblems(breakText(COMPOSE_TEXT, "      - -@all\n", "      - +@all\n"))).not.toEqual([]);
  });

  it("the schema catches a misspelt key", () => {
    expect(schemaProblems(breakText(COMPOSE_TEXT, "stop_grace_period:", "stop_grace_periods:"))).not.toEqual([]);
  });

  it("`docker-compose config` catches a volume that is not declared", () => {
    const { status } = composeConfig(breakText(COMPOSE_TEXT, "      - redis-a1:/data", "      - redis-a9:/data"));
    expect(status).not.toBe(0);
  });

  it("`promtool check config` catches a malformed scrape interval", () => {
    const { status } = promtoolCheck(breakText(PROMETHEUS_YAML, "scrape_interval: 5s", "scrape_interval: 5 seconds"));
    expect(status).not.toBe(0);
  });
});
