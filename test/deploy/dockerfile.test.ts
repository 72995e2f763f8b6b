// The Dockerfile builds the image the deployments run, although no Docker engine runs here: it is
// parsed, and its base images are pinned Node 24 (the repository's engines), the runtime stage
// runs as a numeric non-root user under tini with production dependencies only, and every entry
// point it or docker-compose.yml names exists and is what the services' package files run.
// .dockerignore keeps node_modules, build output, git and secrets out of the build context, and
// nothing the image needs.
import { readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { commandWords, paxosProcess, parseCompose, REPO_ROOT, repoFile } from "./compose-checks.ts";

/** One instruction of a Dockerfile: its keyword (upper case) and the rest of the line. */
interface Instruction {
  readonly keyword: string;
  readonly args: string;
}

/** The instructions of a Dockerfile, with continuation lines joined and comments dropped. */
function parseDockerfile(text: string): Instruction[] {
  const logical: string[] = [];
  let current = "";
  for (const line of text.split("\n")) {
    if (/^\s*#/.test(line)) continue;
    const continued = /\\\s*$/.test(line);
    current += continued ? line.replace(/\\\s*$/, " ") : line;
    if (continued) continue;
    if (current.trim() !== "") logical.push(current.trim());
    current = "";
  }
  return logical.map((line) => {
    const [keyword = "", ...rest] = line.split(/\s+/);
    return { keyword: keyword.toUpperCase(), args: rest.join(" ") };
  });
}

/** The instructions of each stage, by stage name (or index), with ARG defaults before FROM applied. */
function stages(instructions: readonly Instruction[]): { name: string; image: string; body: Instruction[] }[] {
  const globalArgs = new Map<string, string>();
  const result: { name: string; image: string; body: Instruction[] }[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === "ARG" && result.length === 0) {
      const [name = "", value = ""] = instruction.args.split("=");
      globalArgs.set(name, value);
    } else if (instruction.keyword === "FROM") {
      const [image = "", , name] = instruction.args.split(/\s+/);
      const resolved = image.replace(/\$\{?(\w+)\}?/g, (_, arg: string) => globalArgs.get(arg) ?? "");
      result.push({ name: name ?? String(result.length), image: resolved, body: [] });
    } else {
      result.at(-1)?.body.push(instruction);
    }
  }
  return result;
}

const DOCKERFILE = parseDockerfile(repoFile("Dockerfile"));
const STAGES = stages(DOCKERFILE);
const RUNTIME = STAGES.at(-1);
const exec = (instruction: Instruction | undefined): unknown =>
  instruction === undefined ? undefined : JSON.parse(instruction.args);

/** What `npm start` runs in services/<role>/package.json, as a path from the repository root. */
function serviceStartScript(role: string): string {
  const manifest = JSON.parse(repoFile(`services/${role}/package.json`)) as { scripts?: { start?: string } };
  const match = /^node (\S+\.ts)$/.exec(manifest.scripts?.start ?? "");
  if (match === null) throw new Error(`services/${role}/package.json: start is not "node <file>.ts"`);
  return `services/${role}/${match[1]}`;
}

describe("Dockerfile", () => {
  it("builds every stage on a pinned Node of the repository's major version, slim", () => {
    const engines = (JSON.parse(repoFile("package.json")) as { engines: { node: string } }).engines.node;
    const major = /^>=(\d+)/.exec(engines)?.[1];
    expect(major).toBeDefined();
    expect(STAGES.length).toBeGreaterThan(1);
    for (const stage of STAGES) {
      const stageNames = STAGES.map((other) => other.name);
      if (stageNames.includes(stage.image)) continue;
      expect(stage.image, stage.name).toMatch(new RegExp(`^node:${major}\\.\\d+\\.\\d+-[a-z]+-slim$`));
    }
  });

  it("runs as a numeric non-root user under tini, with the gateway as the default command", () => {
    const user = RUNTIME?.body.filter((instruction) => instruction.keyword === "USER").at(-1)?.args ?? "";
    // Numeric, so that Kubernetes' runAsNonRoot can check it without reading /etc/passwd.
    expect(user).toMatch(/^\d+(:\d+)?$/);
    expect(Number(user.split(":")[0])).toBeGreaterThan(0);
    const entrypoint = exec(RUNTIME?.body.find((instruction) => instruction.keyword === "ENTRYPOINT"));
    expect(entrypoint).toEqual(["/usr/bin/tini", "--"]);
    expect(RUNTIME?.body.some((i) => i.keyword === "RUN" && /apt-get install .*\btini\b/.test(i.args))).toBe(true);
    const command = exec(RUNTIME?.body.find((instruction) => instruction.keyword === "CMD"));
    expect(command).toEqual(["node", serviceStartScript("gateway")]);
  });

  it("installs production dependencies only, from the lockfile, and copies every workspace", () => {
    const installs = DOCKERFILE.filter((i) => i.keyword === "RUN" && /\bnpm (ci|install)\b/.test(i.args));
    expect(installs.length).toBe(1);
    expect(installs[0]?.args).toMatch(/\bnpm ci\b.*--omit=dev/);
    const workspaces = (JSON.parse(repoFile("package.json")) as { workspaces: string[] }).workspaces;
    const copies = RUNTIME?.body.filter((i) => i.keyword === "COPY").map((i) => i.args) ?? [];
    for (const workspace of workspaces) {
      const folder = workspace.replace(/\/\*$/, "");
      expect(copies, workspace).toContain(`${folder}/ ${folder}/`);
    }
  });

  it("names only entry points that exist, and compose runs the ones the package files start", () => {
    const text = repoFile("Dockerfile");
    for (const [, script] of text.matchAll(/node (services\/\S+\.ts)/g)) {
      expect(statSync(resolve(REPO_ROOT, script ?? "")).isFile(), script).toBe(true);
    }
    const compose = parseCompose(repoFile("docker-compose.yml"));
    for (const [name, service] of Object.entries(compose.services)) {
      const run = paxosProcess(service);
      if (run === null) continue;
      const [script = ""] = commandWords(service).slice(1);
      expect(statSync(resolve(REPO_ROOT, script)).isFile(), `${name}: ${script}`).toBe(true);
      if (!run.init) expect(script, name).toBe(serviceStartScript(run.role));
    }
  });
});

/** A .dockerignore pattern as a regex over context-relative paths (Go filepath.Match, plus **). */
function ignoreRegex(pattern: string): RegExp {
  const body = pattern
    .replace(/^\/+|\/+$/g, "")
    .split("/")
    .map((part) =>
      part === "**"
        ? "(?:.*)"
        : part
            .replace(/[.+^${}()|[\]\\]/g, "\\$&")
            .replace(/\*/g, "[^/]*")
            .replace(/\?/g, "[^/]"),
    )
    .join("/")
    .replace(/\(\?:\.\*\)\//g, "(?:.*/)?");
  return new RegExp(`^${body}$`);
}

/** True when `.dockerignore` excludes `path` or a folder holding it. */
function ignored(patterns: readonly RegExp[], path: string): boolean {
  const parts = path.split("/");
  return parts.some((_, index) => patterns.some((pattern) => pattern.test(parts.slice(0, index + 1).join("/"))));
}

/** Every file under `dir` (relative to the repository), skipping node_modules and build output. */
function filesUnder(dir: string): string[] {
  return readdirSync(resolve(REPO_ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.name === "node_modules" || entry.name === "build") return [];
    return entry.isDirectory() ? filesUnder(path) : [path];
  });
}

describe(".dockerignore", () => {
  const lines = repoFile(".dockerignore")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
  const patterns = lines.map(ignoreRegex);

  it("keeps dependencies, build output, git, local data and env files out of the build context", () => {
    for (const path of [
      "node_modules/x",
      "packages/host/node_modules/x",
      "packages/host/build/mod.js",
      ".git/HEAD",
      ".data/redis",
      ".env",
      "packages/host/src/env.test.ts",
    ]) {
      expect(ignored(patterns, path), path).toBe(true);
    }
    // Exceptions (!pattern) would need Docker's ordering rules; there are none to get wrong.
    expect(lines.filter((line) => line.startsWith("!"))).toEqual([]);
  });

  it("keeps in every file the image runs: manifests, lockfile and the non-test sources", () => {
    const needed = [
      "package.json",
      "package-lock.json",
      ...["packages", "services"].flatMap((dir) =>
        filesUnder(dir).filter(
          (path) => /\/(package\.json|src\/.*\.ts)$/.test(path) && !/\.test(-helper)?\.ts$/.test(path),
        ),
      ),
    ];
    expect(needed.length).toBeGreaterThan(20);
    expect(needed.filter((path) => ignored(patterns, path))).toEqual([]);
  });
});
