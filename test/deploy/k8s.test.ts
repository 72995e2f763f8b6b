// The Kubernetes manifests work the first time they are applied, although no cluster runs here:
// every overlay renders with `kubectl kustomize`, every rendered object validates against the
// Kubernetes schemas (kubernetes-models), and policy checks run over the rendered objects against
// what the services really read (their config readers), export (the scrape jobs the dashboard
// queries) and require (Redis durability, NATS logins with their role's permissions, which
// `nats-server -t` accepts). Each acceptor's store runs against a real redis-server started with
// its Redis sidecar's arguments (redis-acl.ts). Each check is also run once on a deliberately
// broken copy of the rendered objects, to show that it can fail.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { parseAllDocuments, parse as parseYaml } from "yaml";
import * as appsV1 from "kubernetes-models/apps/v1";
import * as networkingV1 from "kubernetes-models/networking.k8s.io/v1";
import * as policyV1 from "kubernetes-models/policy/v1";
import * as coreV1 from "kubernetes-models/v1";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dashboardJson, SCRAPE_JOBS, type ScrapedRole } from "@paxos/dashboards";
import { acceptorConfig, learnerConfig, proposerConfig, ROLE_VARIABLES } from "@paxos/host";
import { REQUIRED_SETTINGS } from "@paxos/store-redis";
import { GATEWAY_VARIABLES, gatewayConfig } from "../../services/gateway/src/config.ts";
import { loginProblems, natsServerProblems, parseAuthorization, unusedUserProblems } from "./nats-checks.ts";
import { acceptorRedisProblems, redisAuthProblems } from "./redis-acl.ts";

const repoRoot = resolve(import.meta.dirname, "..", "..");

/** Per overlay: the Secrets it expects to be created outside kustomize (README, "Kubernetes"). */
const OVERLAYS: Readonly<Record<string, { externalSecrets: readonly string[] }>> = {
  dev: { externalSecrets: [] },
  prod: {
    externalSecrets: ["paxos-redis", "paxos-nats", "paxos-nats-users", "paxos-gateway-tokens", "paxos-grafana"],
  },
};

// The parts of the Kubernetes objects the checks read. Rendered YAML is cast to these once.
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    fieldRef?: { fieldPath: string };
    secretKeyRef?: { name: string; key: string };
    configMapKeyRef?: { name: string; key: string };
  };
}
interface Probe {
  httpGet?: { path: string; port: string | number };
  exec?: { command: string[] };
  tcpSocket?: { port: string | number };
}
interface SecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  allowPrivilegeEscalation?: boolean;
  readOnlyRootFilesystem?: boolean;
  capabilities?: { drop?: string[]; add?: string[] };
  seccompProfile?: { type: string };
  privileged?: boolean;
}
interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  ports?: { name?: string; containerPort: number }[];
  restartPolicy?: string;
  startupProbe?: Probe;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: SecurityContext;
  volumeMounts?: { name: string; mountPath: string; subPath?: string; subPathExpr?: string; readOnly?: boolean }[];
}
interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  securityContext?: SecurityContext;
  volumes?: {
    name: string;
    secret?: { secretName: string; defaultMode?: number };
    configMap?: { name: string };
    emptyDir?: object;
  }[];
}
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: {
    replicas?: number;
    minAvailable?: number | string;
    selector?: { matchLabels?: Record<string, string> } | Record<string, string>;
    template?: { metadata?: { labels?: Record<string, string> }; spec: PodSpec };
    podSelector?: { matchLabels?: Record<string, string>; matchExpressions?: unknown[] };
    policyTypes?: string[];
    ingress?: unknown[];
    egress?: unknown[];
    clusterIP?: string;
    ports?: { name?: string; port: number; targetPort?: string | number }[];
  };
  data?: Record<string, string>;
}

/** What kustomize rendered for one overlay. */
type Rendered = K8sObject[];

function render(overlay: string): Rendered {
  const output = execFileSync("kubectl", ["kustomize", join(repoRoot, "k8s", "overlays", overlay)], {
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  return parseAllDocuments(output).map((document) => document.toJS() as K8sObject);
}

const clone = (rendered: Rendered): Rendered => structuredClone(rendered);
const find = (rendered: Rendered, kind: string, name: string): K8sObject => {
  const object = rendered.find((o) => o.kind === kind && o.metadata.name === name);
  if (object === undefined) throw new Error(`no ${kind} ${name}`);
  return object;
};
const podSpecOf = (object: K8sObject): PodSpec => {
  const spec = object.spec?.template?.spec;
  if (spec === undefined) throw new Error(`${object.kind} ${object.metadata.name} has no pod template`);
  return spec;
};
const containerOf = (object: K8sObject, name: string): Container => {
  const spec = podSpecOf(object);
  const container = [...spec.containers, ...(spec.initContainers ?? [])].find((c) => c.name === name);
  if (container === undefined) throw new Error(`${object.metadata.name} has no container ${name}`);
  return container;
};

// --- schemas ---------------------------------------------------------------------------------

type ModelClass = (new (data: unknown) => { validate(): void }) & { apiVersion: string; kind: string };

/** Every kubernetes-models class of the API groups the manifests may use, by "apiVersion/kind". */
const MODELS: ReadonlyMap<string, ModelClass> = new Map(
  [coreV1, appsV1, policyV1, networkingV1]
    .flatMap((module) => Object.values(module as Record<string, unknown>))
    .filter(
      (value): value is ModelClass =>
        typeof value === "function" && typeof (value as Partial<ModelClass>).kind === "string",
    )
    .map((model) => [`${model.apiVersion}/${model.kind}`, model]),
);

function schemaProblems(rendered: Rendered): string[] {
  const problems: string[] = [];
  for (const object of rendered) {
    const where = `${object.kind} ${object.metadata.name}`;
    const Model = MODELS.get(`${object.apiVersion}/${object.kind}`);
    if (Model === undefined) {
      problems.push(`${where}: no schema for ${object.apiVersion} ${object.kind}`);
      continue;
    }
    try {
      new Model(object).validate();
    } catch (error) {
      problems.push(`${where}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return problems;
}

// --- pods: probes, resources, security ------------------------------------------------------

/** Every workload with a pod template. */
const workloads = (rendered: Rendered): K8sObject[] =>
  rendered.filter((o) => ["Deployment", "StatefulSet", "DaemonSet", "Job"].includes(o.kind));

/** Every container of a pod with the name of its workload; `longRunning` excludes one-off init steps. */
function containersOf(
  rendered: Rendered,
): { where: string; container: Container; pod: PodSpec; longRunning: boolean }[] {
  return workloads(rendered).flatMap((workload) => {
    const pod = podSpecOf(workload);
    const where = (c: Container) => `${workload.kind} ${workload.metadata.name} container ${c.name}`;
    return [
      ...pod.containers.map((container) => ({ where: where(container), container, pod, longRunning: true })),
      ...(pod.initContainers ?? []).map((container) => ({
        where: where(container),
        container,
        pod,
        // A native sidecar (restartPolicy Always) runs as long as the pod; a plain init container once.
        longRunning: container.restartPolicy === "Always",
      })),
    ];
  });
}

function probeProblems(rendered: Rendered): string[] {
  return containersOf(rendered)
    .filter(({ longRunning }) => longRunning)
    .flatMap(({ where, container }) =>
      (["startupProbe", "readinessProbe", "livenessProbe"] as const)
        .filter((probe) => container[probe] === undefined)
        .map((probe) => `${where} has no ${probe}`),
    );
}

function resourceProblems(rendered: Rendered): string[] {
  return containersOf(rendered).flatMap(({ where, container }) =>
    (["requests", "limits"] as const).flatMap((kind) =>
      ["cpu", "memory"]
        .filter((resource) => container.resources?.[kind]?.[resource] === undefined)
        .map((resource) => `${where} has no ${resource} ${kind}`),
    ),
  );
}

/** The restricted Pod Security Standard, plus a read-only root filesystem. */
function securityProblems(rendered: Rendered): string[] {
  return containersOf(rendered).flatMap(({ where, container, pod }) => {
    const own = container.securityContext ?? {};
    const ofPod = pod.securityContext ?? {};
    const problems: string[] = [];
    if ((own.runAsNonRoot ?? ofPod.runAsNonRoot) !== true) problems.push(`${where}: runAsNonRoot is not true`);
    if ((own.runAsUser ?? ofPod.runAsUser) === 0) problems.push(`${where}: runs as uid 0`);
    if ((own.seccompProfile ?? ofPod.seccompProfile)?.type !== "RuntimeDefault")
      problems.push(`${where}: seccompProfile is not RuntimeDefault`);
    if (own.allowPrivilegeEscalation !== false) problems.push(`${where}: allowPrivilegeEscalation is not false`);
    if (own.readOnlyRootFilesystem !== true) problems.push(`${where}: readOnlyRootFilesystem is not true`);
    if (own.privileged === true) problems.push(`${where}: privileged`);
    if (!(own.capabilities?.drop ?? []).includes("ALL")) problems.push(`${where}: does not drop ALL capabilities`);
    if ((own.capabilities?.add ?? []).length > 0) problems.push(`${where}: adds capabilities`);
    return problems;
  });
}

function imageProblems(rendered: Rendered): string[] {
  return containersOf(rendered).flatMap(({ where, container }) => {
    const image = container.image ?? "";
    const lastPart = image.split("/").at(-1) ?? "";
    const tag = lastPart.includes(":") ? lastPart.split(":").at(-1) : undefined;
    if (tag === undefined || tag === "" || tag === "latest") return [`${where}: image ${image} is not pinned by tag`];
    return [];
  });
}

// --- acceptors: majority, Redis durability, no permanent init --------------------------------

const acceptorSet = (rendered: Rendered): K8sObject => find(rendered, "StatefulSet", "acceptor");

function majorityProblems(rendered: Rendered): string[] {
  const replicas = acceptorSet(rendered).spec?.replicas ?? 1;
  const majority = Math.floor(replicas / 2) + 1;
  const podLabels = acceptorSet(rendered).spec?.template?.metadata?.labels ?? {};
  const budgets = rendered.filter(
    (o) =>
      o.kind === "PodDisruptionBudget" &&
      Object.entries((o.spec?.selector as { matchLabels?: Record<string, string> }).matchLabels ?? {}).every(
        ([key, value]) => podLabels[key] === value,
      ),
  );
  if (budgets.length !== 1) return [`want one PodDisruptionBudget over the acceptors, found ${budgets.length}`];
  const minAvailable = budgets[0]?.spec?.minAvailable;
  if (minAvailable !== majority)
    return [`acceptor PodDisruptionBudget minAvailable ${String(minAvailable)}: want ${majority} of ${replicas}`];
  return [];
}

function redisProblems(rendered: Rendered): string[] {
  const redises = containersOf(rendered).filter(({ container }) => (container.image ?? "").startsWith("redis:"));
  if (redises.length === 0) return ["no Redis container"];
  return redises.flatMap(({ where, container }) => {
    const args = [...(container.command ?? []), ...(container.args ?? [])];
    const problems = Object.entries(REQUIRED_SETTINGS)
      .filter(([name, value]) => {
        const at = args.indexOf(`--${name}`);
        return at === -1 || args[at + 1] !== value;
      })
      .map(([name, value]) => `${where}: not run with --${name} ${value}`);
    problems.push(...redisAuthProblems(where, args));
    return problems;
  });
}

function initFlagProblems(rendered: Rendered): string[] {
  return containersOf(rendered).flatMap(({ where, container }) =>
    (container.env ?? [])
      .filter((env) => env.name === "PAXOS_ACCEPTOR_INIT")
      .map(() => `${where} sets PAXOS_ACCEPTOR_INIT: a wiped volume would be claimed again (amnesia)`),
  );
}

// --- Secrets ----------------------------------------------------------------------------------

function secretProblems(rendered: Rendered, externalSecrets: readonly string[]): string[] {
  const secrets = new Map(rendered.filter((o) => o.kind === "Secret").map((o) => [o.metadata.name, o]));
  const referenced = new Set<string>();
  const problems: string[] = [];
  for (const { where, container, pod } of containersOf(rendered)) {
    for (const env of container.env ?? []) {
      const ref = env.valueFrom?.secretKeyRef;
      if (ref !== undefined) {
        referenced.add(ref.name);
        const secret = secrets.get(ref.name);
        if (secret === undefined && !externalSecrets.includes(ref.name))
          problems.push(`${where}: env ${env.name} names Secret ${ref.name}, which is neither rendered nor external`);
        if (secret !== undefined && secret.data?.[ref.key] === undefined)
          problems.push(`${where}: env ${env.name} names key ${ref.key}, which Secret ${ref.name} lacks`);
      }
      // A `…_FILE` variable names where a credential is mounted, not the credential.
      if (/PASSWORD|TOKEN|SECRET/i.test(env.name) && !/_FILE$/.test(env.name) && env.value !== undefined)
        problems.push(`${where}: env ${env.name} is a credential with a literal value`);
    }
    const secretNames = [
      ...(container.envFrom ?? []).flatMap((source) => (source.secretRef ? [source.secretRef.name] : [])),
      ...(pod.volumes ?? []).flatMap((volume) => (volume.secret ? [volume.secret.secretName] : [])),
    ];
    for (const name of secretNames) {
      referenced.add(name);
      if (!secrets.has(name) && !externalSecrets.includes(name))
        problems.push(`${where}: names Secret ${name}, which is neither rendered nor external`);
    }
  }
  for (const name of secrets.keys())
    if (!referenced.has(name)) problems.push(`Secret ${name} is rendered but nothing references it`);
  for (const name of externalSecrets) if (!referenced.has(name)) problems.push(`external Secret ${name} is unused`);
  return problems;
}

// --- role environments ------------------------------------------------------------------------

type Role = "acceptor" | "proposer" | "learner" | "gateway";

/** The role a container runs, from its command (`node services/<role>/src/<entry>.ts`). */
function roleOf(container: Container): Role | null {
  const script = (container.command ?? []).find((part) => part.startsWith("services/"));
  const role = script?.split("/")[1];
  return role === "acceptor" || role === "proposer" || role === "learner" || role === "gateway" ? role : null;
}

const CONFIG_READERS = {
  acceptor: acceptorConfig,
  proposer: proposerConfig,
  learner: learnerConfig,
  gateway: gatewayConfig,
} as const satisfies Readonly<Record<Role, (env: NodeJS.ProcessEnv) => unknown>>;
const VARIABLES: Readonly<Record<Role, readonly string[]>> = { ...ROLE_VARIABLES, gateway: GATEWAY_VARIABLES };

/** One container in one pod of its workload. */
interface PodContainer {
  readonly where: string;
  readonly container: Container;
  readonly pod: PodSpec;
  readonly podName: string;
}

/** A role container in one pod of its workload. */
interface RolePod extends PodContainer {
  readonly role: Role;
}

/** Every role container, once per pod name its workload gives (each ordinal of a StatefulSet). */
function rolePods(rendered: Rendered): RolePod[] {
  return workloads(rendered).flatMap((workload) => {
    const pod = podSpecOf(workload);
    const replicas = workload.spec?.replicas ?? 1;
    const podNames =
      workload.kind === "StatefulSet"
        ? Array.from({ length: replicas }, (_, ordinal) => `${workload.metadata.name}-${ordinal}`)
        : [`${workload.metadata.name}-6c9f8d7b5-x2x4z`];
    return [...pod.containers, ...(pod.initContainers ?? [])].flatMap((container) => {
      const role = roleOf(container);
      if (role === null) return [];
      return podNames.map((podName) => ({
        where: `${workload.kind} ${workload.metadata.name} pod ${podName} container ${container.name}`,
        role,
        container,
        pod,
        podName,
      }));
    });
  });
}

/** `text` with every $(VAR) that `env` defines expanded, as the kubelet expands env, args and subPathExpr. */
function expand(text: string, env: Readonly<Record<string, string>>): string {
  return text.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name: string) => env[name] ?? whole);
}

/** What a Secret placeholder holds: every secretKeyRef and every mounted Secret file reads this. */
const PLACEHOLDER_SECRET = "placeholder-secret-value";

/** Where this test writes the Secret files that containers mount (so file-reading readers run). */
const SECRET_FILES = mkdtempSync(join(tmpdir(), "paxos-k8s-secrets-"));
afterAll(() => rmSync(SECRET_FILES, { recursive: true, force: true }));

/**
 * The Secret and key that `path` in the container is, through a Secret volume mounted there
 * (one key with subPath or subPathExpr, else every key as a file of the folder); null when no
 * Secret volume holds it. `env` expands subPathExpr.
 */
function secretFileOf(
  podContainer: PodContainer,
  env: Readonly<Record<string, string>>,
  path: string,
): { secret: string; key: string } | null {
  for (const mount of podContainer.container.volumeMounts ?? []) {
    const secret = podContainer.pod.volumes?.find((volume) => volume.name === mount.name)?.secret?.secretName;
    if (secret === undefined) continue;
    const subPath = mount.subPathExpr === undefined ? mount.subPath : expand(mount.subPathExpr, env);
    if (subPath !== undefined) {
      if (path === mount.mountPath) return { secret, key: subPath };
    } else if (dirname(path) === mount.mountPath) return { secret, key: basename(path) };
  }
  return null;
}

/**
 * The environment the container's process sees, as the kubelet builds it: envFrom ConfigMaps
 * first, then env in order with $(VAR) expanded from what came before; fieldRefs and Secrets
 * resolve to placeholders. A `…_FILE` variable naming a mounted Secret file names a placeholder
 * file written by this test instead, unless `secretFiles` is false.
 */
function environmentOf(rendered: Rendered, rolePod: PodContainer, secretFiles = true): Record<string, string> {
  const env: Record<string, string> = {};
  for (const source of rolePod.container.envFrom ?? []) {
    if (source.configMapRef) Object.assign(env, find(rendered, "ConfigMap", source.configMapRef.name).data ?? {});
    if (source.secretRef) throw new Error(`${rolePod.where}: envFrom a Secret is not modelled by this test`);
  }
  for (const variable of rolePod.container.env ?? []) {
    const from = variable.valueFrom;
    if (variable.value !== undefined) {
      env[variable.name] = expand(variable.value, env);
    } else if (from?.fieldRef?.fieldPath === "metadata.name") {
      env[variable.name] = rolePod.podName;
    } else if (from?.secretKeyRef) {
      env[variable.name] = PLACEHOLDER_SECRET;
    } else if (from?.configMapKeyRef) {
      const data = find(rendered, "ConfigMap", from.configMapKeyRef.name).data ?? {};
      const value = data[from.configMapKeyRef.key];
      if (value === undefined) throw new Error(`${rolePod.where}: ConfigMap key ${from.configMapKeyRef.key} missing`);
      env[variable.name] = value;
    } else {
      throw new Error(`${rolePod.where}: env ${variable.name} has a source this test does not model`);
    }
  }
  for (const [name, value] of Object.entries(env)) {
    const file = secretFiles && name.endsWith("_FILE") ? secretFileOf(rolePod, env, value) : null;
    if (file === null) continue;
    const path = join(SECRET_FILES, rolePod.where.replace(/[^A-Za-z0-9-]+/g, "_"), file.secret, file.key);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, `${PLACEHOLDER_SECRET}\n`);
    env[name] = path;
  }
  return env;
}

/** The role's own config reader on the pod's environment; null when it refuses (environmentProblems says why). */
function configOf(rendered: Rendered, rolePod: RolePod): ReturnType<(typeof CONFIG_READERS)[Role]> | null {
  try {
    return CONFIG_READERS[rolePod.role](environmentOf(rendered, rolePod));
  } catch {
    return null;
  }
}

function environmentProblems(rendered: Rendered): string[] {
  const problems: string[] = [];
  for (const rolePod of rolePods(rendered)) {
    const env = environmentOf(rendered, rolePod);
    const explicit = (rolePod.container.env ?? []).map((variable) => variable.value ?? "").join("\n");
    for (const name of Object.keys(env)) {
      // A variable no role reads is allowed only as the source of another's $(NAME) expansion.
      const known = VARIABLES[rolePod.role].includes(name) || name.startsWith("OTEL_");
      if (!known && !explicit.includes(`$(${name})`))
        problems.push(`${rolePod.where}: sets ${name}, which the ${rolePod.role} does not read`);
    }
    try {
      CONFIG_READERS[rolePod.role](env);
    } catch (error) {
      problems.push(`${rolePod.where}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return problems;
}

function acceptorIdProblems(rendered: Rendered): string[] {
  const replicas = acceptorSet(rendered).spec?.replicas ?? 1;
  const want = Array.from({ length: replicas }, (_, ordinal) => `acceptor-${ordinal}`).join(",");
  const problems: string[] = [];
  for (const rolePod of rolePods(rendered)) {
    const ids = environmentOf(rendered, rolePod)["PAXOS_ACCEPTOR_IDS"];
    if (ids !== want) problems.push(`${rolePod.where}: PAXOS_ACCEPTOR_IDS ${ids}, want ${want} (the acceptor pods)`);
  }
  return problems;
}

// --- NATS: logins, passwords, the server's configuration -------------------------------------

/** The NATS StatefulSet and its container. */
const natsServer = (rendered: Rendered): { workload: K8sObject; container: Container } => {
  const workload = find(rendered, "StatefulSet", "nats");
  return { workload, container: containerOf(workload, "nats") };
};

/**
 * The files of the ConfigMap the NATS container reads its --config from (mounted as a folder),
 * and the config file's name in it.
 */
function natsConfigFiles(rendered: Rendered): { files: Record<string, string>; main: string } {
  const { workload, container } = natsServer(rendered);
  const config = (container.args ?? []).find((arg) => arg.startsWith("--config="))?.slice("--config=".length);
  if (config === undefined) throw new Error("the nats container has no --config=");
  const mount = container.volumeMounts?.find((m) => m.mountPath === dirname(config));
  const name = podSpecOf(workload).volumes?.find((volume) => volume.name === mount?.name)?.configMap?.name;
  if (name === undefined) throw new Error(`no ConfigMap mounted on ${dirname(config)} in the nats container`);
  return { files: { ...find(rendered, "ConfigMap", name).data }, main: basename(config) };
}

const natsAuthorizationOf = (rendered: Rendered): string => natsConfigFiles(rendered).files["authorization.conf"] ?? "";

/**
 * Every role container (the acceptor's init step too) logs in to NATS as a user of the server's
 * authorization block (its NATS_USER, or the default its config reader gives) with exactly its
 * role's permissions on the subjects of its own PAXOS_CLUSTER; every user of the block is some
 * pod's; the block holds no literal password; no container sets PAXOS_DEV_NATS_ANONYMOUS.
 */
function natsLoginProblems(rendered: Rendered): string[] {
  const { users, problems } = parseAuthorization(natsAuthorizationOf(rendered));
  for (const { where, container } of containersOf(rendered)) {
    if ((container.env ?? []).some((env) => env.name === "PAXOS_DEV_NATS_ANONYMOUS"))
      problems.push(`${where}: sets PAXOS_DEV_NATS_ANONYMOUS`);
  }
  const used = new Set<string>();
  for (const rolePod of rolePods(rendered)) {
    const config = configOf(rendered, rolePod);
    if (config === null) continue;
    const login = loginProblems(rolePod.where, rolePod.role, config, users);
    problems.push(...login.problems);
    if (login.user !== null) used.add(login.user);
  }
  return [...problems, ...unusedUserProblems(users, used)];
}

/** Where a container's env variable `name` comes from, when it is a Secret key. */
function secretKeyOf(container: Container, name: string): { secret: string; key: string } | null {
  const ref = container.env?.find((env) => env.name === name)?.valueFrom?.secretKeyRef;
  return ref === undefined ? null : { secret: ref.name, key: ref.key };
}

/**
 * Each role pod's NATS password is one Secret key, the one named after its own user: from
 * NATS_PASSWORD's secretKeyRef or the Secret file NATS_PASSWORD_FILE names (which the pod mounts
 * alone, by subPath, when the Secret holds other users' keys); and the NATS container gets the
 * variable the block reads for that user from the very same key. A rendered Secret has the key.
 */
function natsPasswordProblems(rendered: Rendered): string[] {
  const problems: string[] = [];
  const { users } = parseAuthorization(natsAuthorizationOf(rendered));
  const nats = natsServer(rendered).container;
  const secrets = new Map(rendered.filter((o) => o.kind === "Secret").map((o) => [o.metadata.name, o]));
  for (const rolePod of rolePods(rendered)) {
    const user = configOf(rendered, rolePod)?.nats.credentials?.user;
    const entry = users.find((u) => u.user === user);
    if (user === undefined || entry === undefined || !("env" in entry.password)) continue;
    let source = secretKeyOf(rolePod.container, "NATS_PASSWORD");
    const env = environmentOf(rendered, rolePod, false);
    const file = env["NATS_PASSWORD_FILE"];
    if (source === null && file !== undefined) {
      source = secretFileOf(rolePod, env, file);
      const mount = rolePod.container.volumeMounts?.find((m) => m.mountPath === file);
      if (source !== null && mount?.subPath === undefined && mount?.subPathExpr === undefined)
        problems.push(`${rolePod.where}: mounts all of Secret ${source.secret}, not only its own key`);
    }
    if (source === null) {
      problems.push(`${rolePod.where}: its NATS password is neither a Secret key nor a mounted Secret file`);
      continue;
    }
    if (source.key !== user)
      problems.push(`${rolePod.where}: reads Secret key ${source.key}, not its own user's ${user}`);
    const server = secretKeyOf(nats, entry.password.env);
    if (server?.secret !== source.secret || server.key !== source.key)
      problems.push(`${rolePod.where}: NATS gets ${entry.password.env} (${user}) from another Secret key than the pod`);
    const secret = secrets.get(source.secret);
    if (secret !== undefined && secret.data?.[source.key] === undefined)
      problems.push(`${rolePod.where}: Secret ${source.secret} has no key ${source.key}`);
  }
  return problems;
}

/**
 * nats-server accepts the configuration the NATS container reads (its ConfigMap, authorization
 * block included) with the environment the container gets: pod name, route credentials and every
 * user's password set (placeholders), nothing else.
 */
function natsServerCheckProblems(rendered: Rendered): string[] {
  const { workload, container } = natsServer(rendered);
  const env = environmentOf(rendered, {
    where: "StatefulSet nats container nats",
    container,
    pod: podSpecOf(workload),
    podName: "nats-0",
  });
  const { files, main } = natsConfigFiles(rendered);
  return natsServerProblems(files, main, env);
}

/**
 * Every long-running role container listens beyond its pod: the roles' admin server
 * (PAXOS_ADMIN_HOST) and the gateway (PAXOS_HTTP_HOST) on 0.0.0.0, as their config readers read
 * it, since the kubelet's probes, Prometheus and the gateway's Service reach them from outside.
 */
function bindProblems(rendered: Rendered): string[] {
  const problems: string[] = [];
  for (const rolePod of rolePods(rendered)) {
    if (!rolePod.pod.containers.includes(rolePod.container)) continue;
    const config = configOf(rendered, rolePod);
    if (config === null) continue;
    const [variable, host] =
      "httpHost" in config ? ["PAXOS_HTTP_HOST", config.httpHost] : ["PAXOS_ADMIN_HOST", config.adminHost];
    if (host !== "0.0.0.0") problems.push(`${rolePod.where}: ${variable} is ${host}, unreachable from outside the pod`);
  }
  return problems;
}

/** Every acceptor pod's store against a real Redis started with its sidecar's expanded arguments. */
async function redisAclProblems(rendered: Rendered): Promise<string[]> {
  const set = acceptorSet(rendered);
  const pod = podSpecOf(set);
  const redis = containerOf(set, "redis");
  const acceptor = containerOf(set, "acceptor");
  const pods = Array.from({ length: set.spec?.replicas ?? 1 }, (_, ordinal) => `acceptor-${ordinal}`);
  const results = await Promise.all(
    pods.map((podName) => {
      const redisEnv = environmentOf(rendered, {
        where: `pod ${podName} container redis`,
        container: redis,
        pod,
        podName,
      });
      const env = environmentOf(rendered, {
        where: `pod ${podName} container acceptor`,
        container: acceptor,
        pod,
        podName,
      });
      return acceptorRedisProblems({
        where: `pod ${podName}`,
        words: [...(redis.command ?? []), ...(redis.args ?? [])].map((word) => expand(word, redisEnv)),
        redisUrl: env["REDIS_URL"] ?? "",
        cluster: env["PAXOS_CLUSTER"] ?? "local",
        acceptorId: env["PAXOS_ACCEPTOR_ID"] ?? "",
      });
    }),
  );
  return results.flat();
}

// --- Prometheus and Grafana -------------------------------------------------------------------

const prometheusYaml = (rendered: Rendered): string => {
  const config = rendered.find((o) => o.kind === "ConfigMap" && o.metadata.name.startsWith("prometheus-config"));
  const text = config?.data?.["prometheus.yml"];
  if (text === undefined) throw new Error("no prometheus-config ConfigMap with prometheus.yml");
  return text;
};

function promtoolProblems(text: string): string[] {
  const dir = mkdtempSync(join(tmpdir(), "paxos-k8s-prometheus-"));
  try {
    const file = join(dir, "prometheus.yml");
    writeFileSync(file, text);
    const result = spawnSync("promtool", ["check", "config", file], { encoding: "utf8" });
    if (result.error) throw result.error;
    return result.status === 0 ? [] : [`promtool check config: ${result.stdout}${result.stderr}`];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface ScrapeConfig {
  job_name: string;
  dns_sd_configs?: { names: string[]; type: string }[];
}

/** The port (number) a container serves /metrics on: the admin port, or the gateway's REST port. */
function metricsPortOf(rendered: Rendered, rolePod: RolePod): number {
  const env = environmentOf(rendered, rolePod);
  return Number(rolePod.role === "gateway" ? (env["PAXOS_HTTP_PORT"] ?? 8080) : (env["PAXOS_ADMIN_PORT"] ?? 9090));
}

/**
 * Every role's metrics port is scraped: its job (named as the dashboard expects) discovers the SRV
 * records of a headless Service that selects the role's pods, on a named port whose target is the
 * port the role's process serves /metrics on.
 */
function scrapeProblems(rendered: Rendered): string[] {
  const config = parseYaml(prometheusYaml(rendered)) as { scrape_configs?: ScrapeConfig[] };
  const problems: string[] = [];
  for (const [role, job] of Object.entries(SCRAPE_JOBS) as [ScrapedRole, string][]) {
    const scrape = (config.scrape_configs ?? []).find((c) => c.job_name === job);
    const names = (scrape?.dns_sd_configs ?? []).filter((c) => c.type === "SRV").flatMap((c) => c.names);
    if (names.length === 0) {
      problems.push(`no job ${job} discovering the ${role}s by SRV records`);
      continue;
    }
    const pods = rolePods(rendered).filter((p) => p.role === role && p.container.command?.at(-1)?.endsWith("main.ts"));
    if (pods.length === 0) problems.push(`no ${role} container`);
    for (const rolePod of pods) {
      const workload = workloads(rendered).find((w) => podSpecOf(w).containers.includes(rolePod.container));
      const podLabels = workload?.spec?.template?.metadata?.labels ?? {};
      const covered = names.some((name) => {
        const match = /^_([a-z0-9-]+)\._tcp\.([a-z0-9-]+)$/.exec(name);
        if (match === null) return false;
        const [, portName, serviceName] = match;
        const service = rendered.find((o) => o.kind === "Service" && o.metadata.name === serviceName);
        if (service?.spec?.clusterIP !== "None") return false;
        const selector = (service.spec.selector ?? {}) as Record<string, string>;
        if (!Object.entries(selector).every(([key, value]) => podLabels[key] === value)) return false;
        const target = service.spec.ports?.find((p) => p.name === portName)?.targetPort;
        const containerPort =
          typeof target === "number" ? target : rolePod.container.ports?.find((p) => p.name === target)?.containerPort;
        return containerPort === metricsPortOf(rendered, rolePod);
      });
      if (!covered) problems.push(`${rolePod.where}: job ${job} does not scrape its metrics port`);
    }
  }
  return problems;
}

function dashboardProblems(rendered: Rendered): string[] {
  const dashboards = rendered.find((o) => o.kind === "ConfigMap" && o.metadata.name.startsWith("grafana-dashboards"));
  return dashboards?.data?.["paxos.json"] === dashboardJson()
    ? []
    : ["the dashboard Grafana provisions is not the one packages/dashboards builds"];
}

// --- NetworkPolicies --------------------------------------------------------------------------

function defaultDenyProblems(rendered: Rendered): string[] {
  const denies = rendered.filter(
    (o) =>
      o.kind === "NetworkPolicy" &&
      Object.keys(o.spec?.podSelector ?? {}).length === 0 &&
      ["Ingress", "Egress"].every((type) => o.spec?.policyTypes?.includes(type)) &&
      (o.spec?.ingress ?? []).length === 0 &&
      (o.spec?.egress ?? []).length === 0,
  );
  return denies.length > 0 ? [] : ["no NetworkPolicy denying all ingress and egress by default"];
}

// --- the tests --------------------------------------------------------------------------------

beforeAll(() => {
  const found = spawnSync("kubectl", ["version", "--client"], { encoding: "utf8" });
  if (found.error || found.status !== 0)
    throw new Error("kubectl is missing: `apt-get install kubectl` (Debian's package brings `kubectl kustomize`)");
});

for (const [overlay, { externalSecrets }] of Object.entries(OVERLAYS)) {
  describe(`k8s/overlays/${overlay}`, () => {
    let rendered: Rendered = [];
    beforeAll(() => {
      rendered = render(overlay);
    });

    it("renders with kubectl kustomize", () => {
      expect(rendered.length).toBeGreaterThan(0);
    });

    it("validates every object against the Kubernetes schemas", () => {
      expect(schemaProblems(rendered)).toEqual([]);
    });

    it("gives every container its probes, resources and a restricted security context", () => {
      expect(probeProblems(rendered)).toEqual([]);
      expect(resourceProblems(rendered)).toEqual([]);
      expect(securityProblems(rendered)).toEqual([]);
    });

    it("pins every image by tag", () => {
      expect(imageProblems(rendered)).toEqual([]);
    });

    it("keeps a majority of the acceptors through disruptions", () => {
      expect(majorityProblems(rendered)).toEqual([]);
    });

    it("runs every Redis durable, and never leaves PAXOS_ACCEPTOR_INIT on", () => {
      expect(redisProblems(rendered)).toEqual([]);
      expect(initFlagProblems(rendered)).toEqual([]);
    });

    it("references only Secrets that exist or are documented as external, and inlines no credential", () => {
      expect(secretProblems(rendered, externalSecrets)).toEqual([]);
      const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
      for (const name of externalSecrets) expect(readme.includes(name), `README documents Secret ${name}`).toBe(true);
    });

    it("sets on each role only variables it reads, and every one it requires", () => {
      expect(environmentProblems(rendered)).toEqual([]);
    });

    it("gives every role the same PAXOS_ACCEPTOR_IDS: the acceptor pods", () => {
      expect(acceptorIdProblems(rendered)).toEqual([]);
    });

    it("logs every role pod in to NATS as its own user, with its role's permissions, never anonymously", () => {
      expect(natsLoginProblems(rendered)).toEqual([]);
    });

    it("gives each role pod its own NATS password from the Secret key the NATS pods read for it", () => {
      expect(natsPasswordProblems(rendered)).toEqual([]);
    });

    it("has a NATS configuration that `nats-server -t` accepts with the NATS pods' environment", () => {
      expect(natsServerCheckProblems(rendered)).toEqual([]);
    });

    it("lets the probes, Prometheus and the Services reach every role: it listens on 0.0.0.0", () => {
      expect(bindProblems(rendered)).toEqual([]);
    });

    it("lets each acceptor's own store run on its Redis sidecar, and nobody and nothing else", async () => {
      expect(await redisAclProblems(rendered)).toEqual([]);
    });

    it("has a Prometheus config that passes promtool and scrapes every role's metrics port", () => {
      expect(promtoolProblems(prometheusYaml(rendered))).toEqual([]);
      expect(scrapeProblems(rendered)).toEqual([]);
    });

    it("provisions the dashboard packages/dashboards builds", () => {
      expect(dashboardProblems(rendered)).toEqual([]);
    });

    it("denies all traffic by default", () => {
      expect(defaultDenyProblems(rendered)).toEqual([]);
    });
  });
}

// Each check, once, on a deliberately broken copy of the dev overlay: a check that cannot fail
// proves nothing.
describe("each check fails on a broken manifest", () => {
  let good: Rendered = [];
  beforeAll(() => {
    good = render("dev");
  });
  const broken = (breakIt: (rendered: Rendered) => void): Rendered => {
    const copy = clone(good);
    breakIt(copy);
    return copy;
  };
  const gateway = (r: Rendered) => containerOf(find(r, "Deployment", "gateway"), "gateway");
  const redis = (r: Rendered) => containerOf(acceptorSet(r), "redis");

  it("kubectl kustomize: a missing overlay", () => {
    expect(() => render("no-such-overlay")).toThrow();
  });

  it("schemas: a wrongly typed field, and an unknown kind", () => {
    expect(schemaProblems(broken((r) => Object.assign(acceptorSet(r).spec ?? {}, { replicas: "3" })))).not.toEqual([]);
    expect(schemaProblems(broken((r) => r.push({ apiVersion: "v9", kind: "Nope", metadata: { name: "x" } })))).toEqual([
      "Nope x: no schema for v9 Nope",
    ]);
  });

  it("probes: a container without a startup probe", () => {
    expect(probeProblems(broken((r) => delete gateway(r).startupProbe))).not.toEqual([]);
  });

  it("resources: a container without a memory limit", () => {
    expect(resourceProblems(broken((r) => delete redis(r).resources?.limits?.["memory"]))).not.toEqual([]);
  });

  it("security: a writable root filesystem, and privilege escalation", () => {
    expect(securityProblems(broken((r) => delete gateway(r).securityContext?.readOnlyRootFilesystem))).not.toEqual([]);
    expect(
      securityProblems(
        broken((r) => Object.assign(redis(r).securityContext ?? {}, { allowPrivilegeEscalation: true })),
      ),
    ).not.toEqual([]);
  });

  it("images: an untagged image, and :latest", () => {
    expect(imageProblems(broken((r) => (redis(r).image = "redis")))).not.toEqual([]);
    expect(imageProblems(broken((r) => (gateway(r).image = "ghcr.io/paxos-ps/paxos:latest")))).not.toEqual([]);
  });

  it("majority: a budget that lets a majority go, after scaling acceptors without it", () => {
    expect(majorityProblems(broken((r) => Object.assign(acceptorSet(r).spec ?? {}, { replicas: 5 })))).not.toEqual([]);
  });

  it("redis: appendfsync everysec, and PAXOS_ACCEPTOR_INIT left on", () => {
    expect(
      redisProblems(
        broken((r) => {
          const args = redis(r).args ?? [];
          args[args.indexOf("--appendfsync") + 1] = "everysec";
        }),
      ),
    ).not.toEqual([]);
    expect(
      initFlagProblems(
        broken((r) => containerOf(acceptorSet(r), "acceptor").env?.push({ name: "PAXOS_ACCEPTOR_INIT", value: "1" })),
      ),
    ).not.toEqual([]);
  });

  it("secrets: an inlined password, an unknown Secret, and one documented nowhere", () => {
    expect(
      secretProblems(
        broken((r) =>
          containerOf(find(r, "Deployment", "grafana"), "grafana").env?.push({
            name: "GF_DATABASE_PASSWORD",
            value: "hunter2",
          }),
        ),
        [],
      ),
    ).not.toEqual([]);
    const prod = render("prod");
    expect(secretProblems(prod, [])).not.toEqual([]);
  });

  it("environment: a variable no role reads, and a required one missing", () => {
    expect(
      environmentProblems(broken((r) => gateway(r).env?.push({ name: "PAXOS_HTTP_PROT", value: "8080" }))),
    ).not.toEqual([]);
    expect(
      environmentProblems(
        broken((r) => {
          const learner = containerOf(find(r, "StatefulSet", "learner"), "learner");
          learner.env = learner.env?.filter((variable) => variable.name !== "PAXOS_DATA_DIR") ?? [];
        }),
      ),
    ).not.toEqual([]);
  });

  it("acceptor ids: a fourth acceptor pod the id list does not name", () => {
    const fourAcceptors = broken((r) => Object.assign(acceptorSet(r).spec ?? {}, { replicas: 4 }));
    expect(acceptorIdProblems(fourAcceptors)).not.toEqual([]);
    // and the acceptor's own config refuses acceptor-3, which is not one of the ids
    expect(environmentProblems(fourAcceptors).join("\n")).toContain("acceptor-3");
  });

  it("prometheus: a config promtool refuses, and a role not scraped", () => {
    expect(promtoolProblems("scrape_configs:\n  - job_name: x\n    scrape_interval: soon\n")).not.toEqual([]);
    expect(
      scrapeProblems(
        broken((r) => {
          const config = r.find((o) => o.metadata.name.startsWith("prometheus-config"));
          if (config?.data)
            config.data["prometheus.yml"] =
              config.data["prometheus.yml"]?.replace("_admin._tcp.learner", "_admin._tcp.lerner") ?? "";
        }),
      ),
    ).not.toEqual([]);
    expect(
      scrapeProblems(
        broken((r) => {
          const port = find(r, "Service", "acceptor").spec?.ports?.[0];
          if (port) port.targetPort = 9091;
        }),
      ),
    ).not.toEqual([]);
  });

  it("dashboard: an edited copy", () => {
    expect(
      dashboardProblems(
        broken((r) => {
          const dashboards = r.find((o) => o.metadata.name.startsWith("grafana-dashboards"));
          if (dashboards?.data) dashboards.data["paxos.json"] = "{}";
        }),
      ),
    ).not.toEqual([]);
  });

  const envOf = (container: Container, name: string): EnvVar => {
    const variable = container.env?.find((env) => env.name === name);
    if (variable === undefined) throw new Error(`${container.name} has no env ${name}`);
    return variable;
  };
  const proposer = (r: Rendered) => containerOf(find(r, "Deployment", "proposer"), "proposer");
  const learner = (r: Rendered) => containerOf(find(r, "StatefulSet", "learner"), "learner");
  const natsConfig = (r: Rendered) => {
    const config = r.find((o) => o.kind === "ConfigMap" && o.metadata.name.startsWith("nats-config"));
    if (config?.data === undefined) throw new Error("no nats-config ConfigMap");
    return config.data;
  };

  it("NATS logins: an unknown user, another cluster's subjects, a literal password, the anonymous escape", () => {
    expect(natsLoginProblems(broken((r) => (envOf(proposer(r), "NATS_USER").value = "proposer-other")))).not.toEqual(
      [],
    );
    expect(
      natsLoginProblems(
        broken((r) => {
          const cluster = r.find((o) => o.kind === "ConfigMap" && o.metadata.name.startsWith("paxos-cluster"));
          if (cluster?.data) cluster.data["PAXOS_CLUSTER"] = "elsewhere";
        }),
      ),
    ).not.toEqual([]);
    expect(
      natsLoginProblems(
        broken((r) => {
          const data = natsConfig(r);
          data["authorization.conf"] = (data["authorization.conf"] ?? "").replace(
            "$NATS_GATEWAY_GATEWAY_PASSWORD",
            '"hunter2"',
          );
        }),
      ),
    ).not.toEqual([]);
    expect(
      natsLoginProblems(broken((r) => learner(r).env?.push({ name: "PAXOS_DEV_NATS_ANONYMOUS", value: "1" }))),
    ).not.toEqual([]);
  });

  it("NATS passwords: another user's key, a literal value, the NATS pod reading another key, all keys mounted", () => {
    expect(
      natsPasswordProblems(
        broken((r) => {
          const ref = envOf(proposer(r), "NATS_PASSWORD").valueFrom?.secretKeyRef;
          if (ref) ref.key = "gateway-gateway";
        }),
      ),
    ).not.toEqual([]);
    expect(
      natsPasswordProblems(
        broken((r) => Object.assign(envOf(proposer(r), "NATS_PASSWORD"), { value: "x", valueFrom: undefined })),
      ),
    ).not.toEqual([]);
    expect(
      natsPasswordProblems(
        broken((r) => {
          const ref = envOf(natsServer(r).container, "NATS_PROPOSER_PROPOSER_PASSWORD").valueFrom?.secretKeyRef;
          if (ref) ref.key = "gateway-gateway";
        }),
      ),
    ).not.toEqual([]);
    expect(
      natsPasswordProblems(
        broken((r) => {
          const container = learner(r);
          const mount = container.volumeMounts?.find((m) => m.name === "nats-users");
          if (mount === undefined) throw new Error("the learner mounts no nats-users");
          delete mount.subPathExpr;
          mount.mountPath = "/var/run/secrets/paxos-nats";
          envOf(container, "NATS_PASSWORD_FILE").value = "/var/run/secrets/paxos-nats/learner-$(PAXOS_LEARNER_ID)";
        }),
      ),
    ).not.toEqual([]);
  });

  it("nats-server -t: a user's password missing from the NATS pod's environment, and a syntax error", () => {
    expect(
      natsServerCheckProblems(
        broken((r) => {
          const container = natsServer(r).container;
          container.env = container.env?.filter((env) => env.name !== "NATS_LEARNER_LEARNER_0_PASSWORD") ?? [];
        }),
      ),
    ).not.toEqual([]);
    expect(
      natsServerCheckProblems(
        broken((r) => {
          const data = natsConfig(r);
          data["nats.conf"] = `${data["nats.conf"] ?? ""}\ncluster {\n`;
        }),
      ),
    ).not.toEqual([]);
  });

  it("bind hosts: an acceptor's admin server on 127.0.0.1 (the default), and the gateway's", () => {
    expect(
      bindProblems(
        broken((r) => {
          const acceptor = containerOf(acceptorSet(r), "acceptor");
          acceptor.env = acceptor.env?.filter((env) => env.name !== "PAXOS_ADMIN_HOST") ?? [];
        }),
      ),
    ).not.toEqual([]);
    expect(bindProblems(broken((r) => (envOf(gateway(r), "PAXOS_HTTP_HOST").value = "127.0.0.1")))).not.toEqual([]);
  });

  it("redis: the default user left on", () => {
    expect(
      redisProblems(
        broken((r) => {
          const container = redis(r);
          const args = container.args ?? [];
          args.splice(args.indexOf("default") - 1, 3);
        }),
      ),
    ).not.toEqual([]);
  });

  it("redis ACL: a store command the ACL forbids, and an ACL that allows everything", async () => {
    const withoutHscan = broken((r) => {
      const container = redis(r);
      container.args = container.args?.filter((arg) => arg !== "+hscan") ?? [];
    });
    expect(await redisAclProblems(withoutHscan)).not.toEqual([]);
    const everything = broken((r) => {
      const container = redis(r);
      container.args = container.args?.map((arg) => (arg === "-@all" ? "+@all" : arg)) ?? [];
    });
    expect(await redisAclProblems(everything)).not.toEqual([]);
  });

  it("network policies: no default deny", () => {
    expect(
      defaultDenyProblems(
        broken((r) =>
          r.splice(
            r.findIndex((o) => o.metadata.name === "default-deny"),
            1,
          ),
        ),
      ),
    ).not.toEqual([]);
  });
});
