// A worker thread of the simulator CLI: runs a range of seeds and posts its progress.
import { parentPort, workerData } from "node:worker_threads";
import { runBatch } from "./batch.ts";
import type { VariantName } from "./variants.ts";

const data = workerData as { fromSeed: number; toSeed: number; variant: VariantName };
runBatch({
  ...data,
  progressEvery: 50,
  progress: (part) => parentPort?.postMessage(part),
});
