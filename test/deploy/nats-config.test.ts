// The checked-in NATS configuration of the deployments (deploy/nats/authorization.conf, the
// kustomize base's and the prod overlay's authorization.conf and password patches) is exactly what
// packages/transport-nats generates, so nobody edits a user or a permission by hand and nobody
// forgets to regenerate after changing the roles' permissions. Whether each deployment's services
// log in as those users is compose.test.ts's and k8s.test.ts's business.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { type DeployConfigFile, deployConfigFiles } from "../../packages/transport-nats/src/deploy-config.ts";
import { REPO_ROOT } from "./compose-checks.ts";

/** The checked-in text of `path`, or null when it is missing. */
function checkedIn(path: string): string | null {
  try {
    return readFileSync(resolve(REPO_ROOT, path), "utf8");
  } catch {
    return null;
  }
}

/** Why the checked-in copy of `file` (as `read` gives it) is not the generated one; [] when it is. */
function freshnessProblems(file: DeployConfigFile, read: (path: string) => string | null): string[] {
  const text = read(file.path);
  if (text === file.text) return [];
  return [
    `${file.path} ${text === null ? "is missing" : "differs from what packages/transport-nats generates"}: run ` +
      "`npm run deploy-config` and commit the files it writes (edit deploy-config.ts, never the generated file).",
  ];
}

describe("the checked-in NATS configuration", () => {
  for (const file of deployConfigFiles()) {
    it(`${file.path} is what packages/transport-nats generates`, () => {
      expect(freshnessProblems(file, checkedIn)).toEqual([]);
    });
  }

  it("the freshness check catches a hand-edited copy, and a missing one", () => {
    const file = deployConfigFiles().find((f) => f.path === "deploy/nats/authorization.conf");
    if (file === undefined) throw new Error("deploy/nats/authorization.conf is not generated");
    const edited = (path: string): string | null => checkedIn(path)?.replace('"acceptor-a1"', '"acceptor-a9"') ?? null;
    expect(freshnessProblems(file, edited)).not.toEqual([]);
    expect(freshnessProblems(file, () => null)).not.toEqual([]);
  });
});
