// `npm run deploy-config`: writes the NATS authorization blocks of docker-compose.yml and k8s/,
// and the Kubernetes patches giving the NATS pods their users' passwords (deploy-config.ts).
// Commit what it writes; test/deploy/nats-config.test.ts fails while the checked-in files differ.
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { deployConfigFiles } from "./deploy-config.ts";

const repoRoot = resolve(import.meta.dirname, "..", "..", "..");
for (const file of deployConfigFiles()) {
  const path = resolve(repoRoot, file.path);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, file.text);
  process.stdout.write(`wrote ${file.path}\n`);
}
