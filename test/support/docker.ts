// Whether a Docker engine answers here. Real-server tests use testcontainers where one does and
// start local nats-server and redis-server processes where none does (as on the CI machines).
import { getContainerRuntimeClient } from "testcontainers";

let cached: Promise<boolean> | undefined;

/** True when testcontainers can reach a container runtime. Decided once per test process. */
export function dockerAvailable(): Promise<boolean> {
  if (process.env["PAXOS_TEST_NO_DOCKER"] === "1") return Promise.resolve(false);
  cached ??= getContainerRuntimeClient().then(
    () => true,
    () => false,
  );
  return cached;
}
