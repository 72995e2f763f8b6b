// The role services as real child processes on test servers: start an acceptor, proposer or
// learner with the environment COMMON.md describes (each with its own NATS user and password),
// read its admin endpoints, and talk to the cluster from the test through a NatsBus and the
// service API, as a role whose permissions allow what the test does.
import { type ClusterCredentials, NatsBus, type NatsBusStatus } from "@paxos/transport-nats";
import {
  type AcceptorStatus,
  type ClusterRole,
  proposeBatch,
  queryLearners,
  Subjects,
  subscribeAcceptorStatus,
} from "@paxos/wire";
import { TEST_IDS } from "../../support/test-credentials.ts";
import { eventually, listenPort, getJson, startNode, type TestProcess } from "./processes.ts";

/** The acceptors of every test cluster; testCredentials covers them. */
export const ACCEPTOR_IDS = TEST_IDS.acceptor;

/** A role service started by a test, with its admin port. */
export class ServiceProcess {
  readonly proc: TestProcess;
  readonly adminPort: number;

  constructor(proc: TestProcess, adminPort: number) {
    this.proc = proc;
    this.adminPort = adminPort;
  }

  get name(): string {
    return this.proc.name;
  }

  get pid(): number {
    return this.proc.pid;
  }

  get done(): boolean {
    return this.proc.done;
  }

  get lines(): readonly string[] {
    return this.proc.lines;
  }

  /** GET /readyz: status code and JSON detail. */
  async readyz(): Promise<{ status: number; body: Record<string, unknown> }> {
    const { status, body } = await getJson(`http://127.0.0.1:${this.adminPort}/readyz`);
    return { status, body: (body ?? {}) as Record<string, unknown> };
  }
}

/** Where the services of one test file run. */
export interface ServiceEnv {
  readonly cluster: string;
  readonly natsUrl: string;
  /**
   * The NATS users the server was started with (testCredentials): each service connects as its
   * own identity, and the test's clients as the role whose messages they send or read.
   */
  readonly credentials: ClusterCredentials;
  /** More variables for every service (OTEL_* settings, for instance). */
  readonly env?: Readonly<Record<string, string>>;
}

async function startService(name: string, service: string, env: Record<string, string>): Promise<ServiceProcess> {
  const adminPort = await listenPort();
  const proc = startNode(name, `services/${service}/src/main.ts`, {
    PAXOS_ADMIN_PORT: String(adminPort),
    PAXOS_ADMIN_HOST: "127.0.0.1",
    PAXOS_ACCEPTOR_IDS: ACCEPTOR_IDS.join(","),
    LOG_LEVEL: "info",
    ...env,
  });
  return new ServiceProcess(proc, adminPort);
}

/** Starts acceptor `id` on `redisUrl`; `init` sets PAXOS_ACCEPTOR_INIT=1. */
export function startAcceptor(
  where: ServiceEnv,
  id: string,
  redisUrl: string,
  init: boolean,
  extraEnv: Record<string, string> = {},
): Promise<ServiceProcess> {
  return startService(`acceptor ${id}`, "acceptor", {
    PAXOS_CLUSTER: where.cluster,
    NATS_URL: where.natsUrl,
    PAXOS_ACCEPTOR_ID: id,
    REDIS_URL: redisUrl,
    PAXOS_ACCEPTOR_INIT: init ? "1" : "0",
    ...where.credentials.env("acceptor", id),
    ...where.env,
    ...extraEnv,
  });
}

export function startProposer(where: ServiceEnv, name: string): Promise<ServiceProcess> {
  return startService(`proposer ${name}`, "proposer", {
    PAXOS_CLUSTER: where.cluster,
    NATS_URL: where.natsUrl,
    PAXOS_PROPOSER_NAME: name,
    ...where.credentials.env("proposer", name),
    ...where.env,
  });
}

export function startLearner(where: ServiceEnv, id: string, dataDir: string): Promise<ServiceProcess> {
  return startService(`learner ${id}`, "learner", {
    PAXOS_CLUSTER: where.cluster,
    NATS_URL: where.natsUrl,
    PAXOS_LEARNER_ID: id,
    PAXOS_DATA_DIR: dataDir,
    ...where.credentials.env("learner", id),
    ...where.env,
  });
}

/** Waits until the service answers /readyz with 200. */
export async function waitReady(service: ServiceProcess, timeoutMs: number): Promise<void> {
  await eventually(
    async () => {
      if (service.done) throw new Error(`${service.name} exited:\n${service.lines.join("\n")}`);
      return (await service.readyz()).status === 200;
    },
    timeoutMs,
    `${service.name} to be ready`,
  ).catch((error: unknown) => {
    throw new Error(`${String(error)}\n--- ${service.name} output:\n${service.lines.join("\n")}`, { cause: error });
  });
}

/**
 * The status handler of the test's own clients. The server refuses a publish or a subscription
 * outside the client's permissions with an asynchronous error only; thrown here, NatsBus rethrows
 * it outside the client (its default onHandlerError), so the run fails instead of a test passing
 * on a message that was never sent or a subscription that never was.
 */
export function failOnPermissionViolation(status: NatsBusStatus): void {
  if (status.type === "error" && status.error.name === "PermissionViolationError") throw status.error;
}

/**
 * A NatsBus connected to the test's server as `role`/`id` (one of TEST_IDS), holding exactly that
 * identity's permissions; anything they refuse fails the run (failOnPermissionViolation). The
 * caller closes it.
 */
export function connectAs(where: ServiceEnv, role: ClusterRole, id: string): Promise<NatsBus> {
  return NatsBus.connect({
    servers: where.natsUrl,
    name: `test ${role} ${id}`,
    credentials: where.credentials.of(role, id),
    onStatus: failOnPermissionViolation,
  });
}

/**
 * The test's own view of the cluster: a NatsBus client and the service API. It acts as gateway
 * `test`: it proposes, queries the learners and reads the acceptors' statuses, as a gateway may.
 */
export class TestClient {
  readonly bus: NatsBus;
  readonly subjects: Subjects;
  readonly statuses = new Map<string, AcceptorStatus>();

  private constructor(bus: NatsBus, subjects: Subjects) {
    this.bus = bus;
    this.subjects = subjects;
    subscribeAcceptorStatus(
      bus,
      subjects,
      [...ACCEPTOR_IDS],
      (status) => this.statuses.set(status.acceptorId, status),
      {
        onDrop: () => undefined,
      },
    );
  }

  static async connect(where: ServiceEnv): Promise<TestClient> {
    const bus = await connectAs(where, "gateway", "test");
    return new TestClient(bus, new Subjects(where.cluster));
  }

  /** The proposer id that some proposer's /readyz reports as leading, once one does. */
  async leaderOf(
    proposers: readonly ServiceProcess[],
    timeoutMs: number,
  ): Promise<{ proposer: ServiceProcess; id: string }> {
    let found: { proposer: ServiceProcess; id: string } | null = null;
    await eventually(
      async () => {
        for (const proposer of proposers) {
          if (proposer.done) continue;
          const { body } = await proposer.readyz();
          if (body["role"] === "leader" && typeof body["proposerId"] === "string") {
            found = { proposer, id: body["proposerId"] };
            return true;
          }
        }
        return false;
      },
      timeoutMs,
      "a leading proposer",
    );
    if (found === null) throw new Error("unreachable");
    return found;
  }

  /**
   * Proposes `payload` as `requestId` to the current leader until it is queued, then waits until
   * the learners report it; resolves with its index in the log.
   */
  async proposeAndWait(
    proposers: readonly ServiceProcess[],
    requestId: string,
    payload: string,
    timeoutMs: number,
  ): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    let index: number | null = null;
    let lastQueuedMs = 0;
    await eventually(
      async () => {
        // (Re)send to whoever leads now: a leader change may drop requests not yet in a slot.
        if (Date.now() - lastQueuedMs > 2_000) {
          const { id } = await this.leaderOf(proposers, Math.max(1, deadline - Date.now()));
          const [reply] = await proposeBatch(this.bus, this.subjects, id, [{ requestId, payload }], 1_000);
          if (reply?.status === "queued") lastQueuedMs = Date.now();
        }
        const answers = await queryLearners(this.bus, this.subjects, { op: "lookup", requestId }, 300);
        for (const answer of answers) {
          if (answer.op === "lookup" && answer.entry !== null) index = answer.entry.index;
        }
        return index !== null;
      },
      timeoutMs,
      `request ${requestId} to be chosen and delivered`,
    );
    if (index === null) throw new Error("unreachable");
    return index;
  }

  async close(): Promise<void> {
    await this.bus.close();
  }
}
