// docker-compose.yml and k8s/ describe the same cluster twice: the third-party images they share
// must be the same versions (a setting proven in one and not the other is a guess), and settings
// one needs for the image to work at all must be in both.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { parseCompose, REPO_ROOT } from "./compose-checks.ts";

interface Container {
  readonly image?: string;
  readonly env?: readonly { readonly name: string; readonly value?: string }[];
}

/** Every container and init container of every workload an overlay renders. */
function k8sContainers(overlay: string): Container[] {
  const rendered = execFileSync("kubectl", ["kustomize", join(REPO_ROOT, "k8s", "overlays", overlay)], {
    encoding: "utf8",
  });
  const containers: Container[] = [];
  for (const document of parseAllDocuments(rendered)) {
    const object = document.toJS() as { spec?: { template?: { spec?: Record<string, Container[]> } } } | null;
    const pod = object?.spec?.template?.spec;
    if (pod !== undefined) containers.push(...(pod["containers"] ?? []), ...(pod["initContainers"] ?? []));
  }
  return containers;
}

/** `repository → tag` of every image but this project's own. */
function thirdPartyImages(images: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const image of images) {
    const at = image.lastIndexOf(":");
    const repository = image.slice(0, at);
    if (repository === "paxos" || repository.endsWith("/paxos")) continue;
    out.set(repository, image.slice(at + 1));
  }
  return out;
}

const compose = parseCompose(readFileSync(join(REPO_ROOT, "docker-compose.yml"), "utf8"));
const composeImages = thirdPartyImages(
  Object.values(compose.services).flatMap((service) => (service.image === undefined ? [] : [service.image])),
);

describe("compose and k8s agree", () => {
  for (const overlay of ["dev", "prod"]) {
    it(`pins the same third-party images in compose and the ${overlay} overlay`, () => {
      const k8sImages = thirdPartyImages(
        k8sContainers(overlay).flatMap((c) => (c.image === undefined ? [] : [c.image])),
      );
      expect(Object.fromEntries(k8sImages)).toEqual(Object.fromEntries(composeImages));
    });

    it(`lets Jaeger listen beyond localhost in compose and the ${overlay} overlay`, () => {
      const jaeger = k8sContainers(overlay).find((c) => c.image?.startsWith("jaegertracing/jaeger:") === true);
      expect(jaeger?.env?.find((e) => e.name === "JAEGER_LISTEN_HOST")?.value).toBe("0.0.0.0");
      const service = Object.values(compose.services).find(
        (s) => s.image?.startsWith("jaegertracing/jaeger:") === true,
      );
      expect((service?.environment as Record<string, string> | undefined)?.["JAEGER_LISTEN_HOST"]).toBe("0.0.0.0");
    });
  }
});
