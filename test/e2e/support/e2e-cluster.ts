// A whole cluster for the end-to-end tests, every piece a real process: one nats-server with the
// cluster's permission file, one redis-server (AOF, fsync always) per acceptor, 3 acceptors, 2
// proposers, 2 learners with their own data folders and 2 REST gateways on free ports, each
// process with its own NATS user. Built on the services tests' helpers, which start the role
// services as child processes and kill them by pid.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NatsBus, type NatsExtraUser } from "@paxos/transport-nats";
import { queryLearners } from "@paxos/wire";
import { type NatsServer, startNats } from "../../support/nats-server.ts";
import { type RedisServer, startRedis } from "../../support/redis-server.ts";
import { testCredentials, testObserver } from "../../support/test-credentials.ts";
import {
  eventually,
  listenPort,
  getJson,
  killAll,
  startNode,
  type TestProcess,
} from "../../services/support/processes.ts";
import {
  ACCEPTOR_IDS,
  failOnPermissionViolation,
  type ServiceEnv,
  type ServiceProcess,
  startAcceptor,
  startLearner,
  startProposer,
  TestClient,
  waitReady,
} from "../../services/support/services.ts";

export const LEARNER_IDS = ["l1", "l2"] as const;
export const PROPOSER_NAMES = ["p1", "p2"] as const;

/** A gateway service started by a test: the process and the base URL of its REST API. */
export interface GatewayProcess {
  readonly proc: TestProcess;
  readonly port: number;
  /** `http://127.0.0.1:<port>`, without a trailing slash. */
  readonly url: string;
}

/**
 * Starts `services/gateway` (shown as gateway `name`) on a free loopback port as NATS identity
 * `gatewayName` (PAXOS_GATEWAY_NAME, with its own credentials); it is killed by pid with `killAll`.
 */
export async function startGateway(where: ServiceEnv, name: string, gatewayName: string): Promise<GatewayProcess> {
  const port = await listenPort();
  const proc = startNode(`gateway ${name}`, "services/gateway/src/main.ts", {
    PAXOS_CLUSTER: where.cluster,
    NATS_URL: where.natsUrl,
    PAXOS_GATEWAY_NAME: gatewayName,
    ...where.credentials.env("gateway", gatewayName),
    PAXOS_ACCEPTOR_IDS: ACCEPTOR_IDS.join(","),
    PAXOS_HTTP_PORT: String(port),
    PAXOS_HTTP_HOST: "127.0.0.1",
    // The gateway refuses to start until told how clients authenticate; these tests are not about
    // HTTP authentication, so they ask for none by name (a test may set another mode in `env`).
    PAXOS_AUTH: "none",
    LOG_LEVEL: "info",
    ...where.env,
  });
  return { proc, port, url: `http://127.0.0.1:${port}` };
}

/** Waits until the gateway answers /readyz with 200 (connected, and a leader is known). */
export async function waitGatewayReady(gateway: GatewayProcess, timeoutMs: number): Promise<void> {
  await eventually(
    async () => {
      if (gateway.proc.done) throw new Error(`${gateway.proc.name} exited`);
      return (await getJson(`${gateway.url}/readyz`)).status === 200;
    },
    timeoutMs,
    `${gateway.proc.name} to be ready`,
  ).catch((error: unknown) => {
    throw new Error(`${String(error)}\n--- ${gateway.proc.name} output:\n${gateway.proc.lines.join("\n")}`, {
      cause: error,
    });
  });
}

/**
 * One cluster of real processes for one test file: `start` in beforeAll, `stop` in afterAll.
 * The maps and arrays are the test's handles; a test that restarts a service puts the new one in.
 */
export class E2eCluster {
  readonly where: ServiceEnv;
  readonly nats: NatsServer;
  readonly redis: ReadonlyMap<string, RedisServer>;
  readonly acceptors = new Map<string, ServiceProcess>();
  readonly proposers: ServiceProcess[] = [];
  readonly learners: ServiceProcess[] = [];
  readonly gateways: GatewayProcess[] = [];
  /** The test's own NatsBus client, acting as gateway `test` (and the acceptor statuses it hears). */
  readonly client: TestClient;
  readonly #observer: NatsExtraUser;
  readonly #dataDir: string;

  private constructor(
    where: ServiceEnv,
    nats: NatsServer,
    redis: ReadonlyMap<string, RedisServer>,
    client: TestClient,
    observer: NatsExtraUser,
    dataDir: string,
  ) {
    this.where = where;
    this.nats = nats;
    this.redis = redis;
    this.client = client;
    this.#observer = observer;
    this.#dataDir = dataDir;
  }

  /**
   * Starts the servers and every service (each with `env` added), and resolves once the acceptors and learners are ready
   * and both gateways know a leader. On failure it stops what it started and rejects.
   */
  static async start(cluster: string, env?: Readonly<Record<string, string>>): Promise<E2eCluster> {
    const dataDir = await mkdtemp(join(tmpdir(), "paxos-e2e-"));
    const credentials = testCredentials(cluster);
    // A test-only user beside the cluster's: tests watch with it what no role may see (connectObserver).
    const observer = testObserver();
    const servers = await Promise.allSettled([
      startNats({ credentials, extraUsers: [observer] }),
      ...ACCEPTOR_IDS.map(() => startRedis()),
    ]);
    const failed = servers.find((s) => s.status === "rejected");
    const [natsResult, ...redisResults] = servers;
    if (failed !== undefined || natsResult?.status !== "fulfilled") {
      for (const s of servers) if (s.status === "fulfilled") await s.value.stop();
      await rm(dataDir, { recursive: true, force: true });
      throw failed?.reason ?? new Error("nats-server did not start");
    }
    const nats = natsResult.value;
    const redis = new Map<string, RedisServer>();
    ACCEPTOR_IDS.forEach((id, i) => {
      const result = redisResults[i];
      if (result?.status === "fulfilled") redis.set(id, result.value);
    });
    const where: ServiceEnv = { cluster, natsUrl: nats.url, credentials, ...(env === undefined ? {} : { env }) };
    let client: TestClient | null = null;
    try {
      client = await TestClient.connect(where);
      const e2e = new E2eCluster(where, nats, redis, client, observer, dataDir);
      await e2e.#startServices();
      return e2e;
    } catch (error) {
      await client?.close();
      await killAll();
      for (const server of redis.values()) await server.stop();
      await nats.stop();
      await rm(dataDir, { recursive: true, force: true });
      throw error;
    }
  }

  async #startServices(): Promise<void> {
    const [acceptors, learners, proposers] = await Promise.all([
      Promise.all(ACCEPTOR_IDS.map((id) => startAcceptor(this.where, id, this.redisUrl(id), true))),
      Promise.all(LEARNER_IDS.map((id) => startLearner(this.where, id, join(this.#dataDir, `learner-${id}`)))),
      Promise.all(PROPOSER_NAMES.map((name) => startProposer(this.where, name))),
    ]);
    acceptors.forEach((acceptor, i) => this.acceptors.set(ACCEPTOR_IDS[i] ?? "", acceptor));
    this.learners.push(...learners);
    this.proposers.push(...proposers);
    this.gateways.push(
      ...(await Promise.all([startGateway(this.where, "A", "g1"), startGateway(this.where, "B", "g2")])),
    );
    await Promise.all([...acceptors, ...learners].map((service) => waitReady(service, 30_000)));
    await Promise.all(this.gateways.map((gateway) => waitGatewayReady(gateway, 30_000)));
  }

  /**
   * A NatsBus as the test-only observer, which may publish and subscribe to every subject: for a
   * test that watches all of a subject tree, wider than any role's permissions. The caller closes it.
   */
  connectObserver(): Promise<NatsBus> {
    return NatsBus.connect({
      servers: this.where.natsUrl,
      name: "test observer",
      credentials: { user: this.#observer.user, password: this.#observer.password },
      onStatus: failOnPermissionViolation,
    });
  }

  /** The URL of acceptor `id`'s own redis-server. */
  redisUrl(id: string): string {
    const server = this.redis.get(id);
    if (server === undefined) throw new Error(`no redis-server for ${id}`);
    return server.url;
  }

  /** Gateway `i` (0: A, 1: B; later ones are those a test started). */
  gateway(i: number): GatewayProcess {
    const gateway = this.gateways[i];
    if (gateway === undefined) throw new Error(`no gateway ${i}`);
    return gateway;
  }

  /** Each learner's nextIndex (it holds [0, nextIndex)), by learner id, from a status query. */
  async learnerNextIndexes(): Promise<Map<string, number>> {
    const answers = await queryLearners(this.client.bus, this.client.subjects, { op: "status" }, 1_000, {
      maxReplies: LEARNER_IDS.length,
    });
    const byId = new Map<string, number>();
    for (const answer of answers) if (answer.op === "status") byId.set(answer.learnerId, answer.nextIndex);
    return byId;
  }

  /** Waits until every learner reports a nextIndex of at least `nextIndex`. */
  async waitLearnersAt(nextIndex: number, timeoutMs: number): Promise<void> {
    await eventually(
      async () => {
        const byId = await this.learnerNextIndexes();
        return LEARNER_IDS.every((id) => (byId.get(id) ?? -1) >= nextIndex);
      },
      timeoutMs,
      `both learners to hold the log up to index ${nextIndex - 1}`,
    );
  }

  /** Stops every process by pid, then the servers, and removes the data folders. */
  async stop(): Promise<void> {
    await this.client.close().catch(() => undefined);
    await killAll();
    for (const server of this.redis.values()) await server.stop();
    await this.nats.stop();
    await rm(this.#dataDir, { recursive: true, force: true });
  }
}
