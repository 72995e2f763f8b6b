// `npm run dashboards`: writes the dashboard's JSON model and the Grafana provisioning files under
// deploy/grafana/, and docker compose's Prometheus config under deploy/prometheus/, from the
// builder. Commit what it writes; dashboard.test.ts fails while the checked-in files differ from
// the builder's.
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { generatedFiles } from "./generated-files.ts";

const repoRoot = resolve(import.meta.dirname, "..", "..", "..");
for (const file of generatedFiles()) {
  const path = resolve(repoRoot, file.path);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, file.text);
  process.stdout.write(`wrote ${file.path}\n`);
}
