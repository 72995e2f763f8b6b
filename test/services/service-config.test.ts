// Every role service validates its environment before doing anything: a bad or missing variable
// makes it exit with code 2 and a message on stderr naming that variable (and every other bad one),
// with no server needed. The services run as real child processes.
import { afterAll, describe, expect, it } from "vitest";
import { killAll, startNode } from "./support/processes.ts";

const EXIT_CONFIG = 2;

async function runWith(
  service: string,
  env: Record<string, string>,
): Promise<{ code: number | string; output: string }> {
  const proc = startNode(service, `services/${service}/src/main.ts`, env);
  const code = await proc.waitExit(10_000);
  return { code, output: proc.lines.join("\n") };
}

describe("service configuration", () => {
  afterAll(killAll);

  it("acceptor: names a malformed id and a missing REDIS_URL", async () => {
    const { code, output } = await runWith("acceptor", {
      PAXOS_ACCEPTOR_IDS: "a1,a2,a3",
      PAXOS_ACCEPTOR_ID: "not an id!",
    });
    expect(code).toBe(EXIT_CONFIG);
    expect(output).toContain("PAXOS_ACCEPTOR_ID must be 1 to 64 of A-Z a-z 0-9 _ -");
    expect(output).toContain("REDIS_URL is required");
  });

  it("acceptor: names an id that is not one of PAXOS_ACCEPTOR_IDS", async () => {
    const { code, output } = await runWith("acceptor", {
      PAXOS_ACCEPTOR_IDS: "a1,a2,a3",
      PAXOS_ACCEPTOR_ID: "a9",
      REDIS_URL: "redis://127.0.0.1:1",
    });
    expect(code).toBe(EXIT_CONFIG);
    expect(output).toContain('PAXOS_ACCEPTOR_ID "a9" is not one of PAXOS_ACCEPTOR_IDS');
  });

  it("proposer: names a missing PAXOS_PROPOSER_NAME and a bad PAXOS_ADMIN_PORT", async () => {
    const { code, output } = await runWith("proposer", { PAXOS_ACCEPTOR_IDS: "a1,a2,a3", PAXOS_ADMIN_PORT: "70000" });
    expect(code).toBe(EXIT_CONFIG);
    expect(output).toContain("PAXOS_PROPOSER_NAME is required");
    expect(output).toContain("PAXOS_ADMIN_PORT must be a port number");
  });

  it("proposer: names protocol limits that do not fit together, and an unknown host limit", async () => {
    const base = { PAXOS_ACCEPTOR_IDS: "a1,a2,a3", PAXOS_PROPOSER_NAME: "p1", NATS_PASSWORD: "test-password" };
    const mismatch = await runWith("proposer", { ...base, PAXOS_LIMITS: '{"requestBytesMax":262144}' });
    expect(mismatch.code).toBe(EXIT_CONFIG);
    expect(mismatch.output).toContain("PAXOS_LIMITS: requestBytesMax exceeds batchBytesMax");
    const unknown = await runWith("proposer", { ...base, PAXOS_HOST_LIMITS: '{"tickMs":5}' });
    expect(unknown.code).toBe(EXIT_CONFIG);
    expect(unknown.output).toContain('PAXOS_HOST_LIMITS has an unknown key "tickMs"');
  });

  it("learner: names a missing PAXOS_DATA_DIR, a duplicate acceptor id and a bad NATS_URL", async () => {
    const { code, output } = await runWith("learner", {
      PAXOS_LEARNER_ID: "l1",
      PAXOS_ACCEPTOR_IDS: "a1,a1",
      NATS_URL: "http://localhost",
    });
    expect(code).toBe(EXIT_CONFIG);
    expect(output).toContain("PAXOS_DATA_DIR is required");
    expect(output).toContain("PAXOS_ACCEPTOR_IDS lists an id twice");
    expect(output).toContain("NATS_URL must use nats:");
  });
});
