// Test harness for the gateway's HTTP contract: a gateway app over a MemoryBus, listening on
// 127.0.0.1:0, with scripted stand-ins for the cluster (a proposer that answers propose requests
// and heartbeats, learners that deliver and answer queries). No NATS, no real roles. The gateway
// authenticates with one static token by default (TEST_TOKEN, client TEST_CLIENT_ID); `apiFetch`
// and `postProposal` send it.
import type { AddressInfo } from "node:net";
import type { JsonValue, Limits } from "@paxos/core";
import { MemoryBus } from "@paxos/embedded";
import {
  createGatewayApp,
  type GatewayApp,
  type GatewayAuth,
  type GatewayLimits,
  type GatewayServerLimits,
  SCOPES,
  scopedRequestId,
  staticTokenVerifier,
} from "@paxos/gateway-app";
import {
  type Bus,
  type BusMessage,
  type BusSubscription,
  decodeService,
  encode,
  type LearnerQuery,
  type LearnerReply,
  type LogEntryWire,
  type ProposeReply,
  type ProposeRequest,
  publishAcceptorStatus,
  publishDelivered,
  serveLearnerQueries,
  serveProposals,
  Subjects,
} from "@paxos/wire";

export const CLUSTER = "gwtest";
export const ACCEPTOR_IDS = ["a1", "a2", "a3"] as const;

/** Short bounds so every failure path ends within a second or two. */
export const TEST_LIMITS: Partial<GatewayLimits> = {
  proposalTimeoutMs: 1_500,
  proposeRequestTimeoutMs: 300,
  // A loaded test machine can stall a reply for tens of ms; a cut-short last attempt would then
  // time out and turn a 503 into a 504.
  proposeReplyMinMs: 150,
  leaderStaleMs: 400,
  learnerQueryWaitMs: 150,
  streamKeepaliveMs: 200,
  streamGapRetryMs: 50,
  streamPageLimit: 2,
};

/** The client of the harness's gateways, and its token (both scopes). */
export const TEST_CLIENT_ID = "tester";
export const TEST_TOKEN = "harness-token-0123456789";

/** What the harness's gateways authenticate with unless a test says otherwise. */
export const TEST_AUTH: GatewayAuth = {
  mode: "bearer",
  verifier: staticTokenVerifier([{ clientId: TEST_CLIENT_ID, token: TEST_TOKEN, scopes: [SCOPES.read, SCOPES.write] }]),
  openPaths: ["/metrics"],
};

/** The request id the log holds for `key` sent by `clientId` (the test client by default). */
export function keyedRequestId(key: string, clientId: string = TEST_CLIENT_ID): string {
  return scopedRequestId(clientId, key);
}

/** `fetch` with `Authorization: Bearer TEST_TOKEN`, unless `init` sets an Authorization itself. */
export function apiFetch(url: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (!headers.has("Authorization")) headers.set("Authorization", `Bearer ${TEST_TOKEN}`);
  return fetch(url, { ...init, headers });
}

const ignore = { onDrop: () => undefined, onHandlerError: (error: unknown) => console.error(error) };

/** One thing the gateway sent on the bus, decoded where it is a learner query. */
export interface SentByGateway {
  readonly kind: "publish" | "request" | "requestMany";
  readonly subject: string;
  readonly query: LearnerQuery | null;
}

/** A Bus that records what the gateway sends, and passes everything to the shared MemoryBus. */
class RecordingBus implements Bus {
  readonly sent: SentByGateway[] = [];
  readonly #inner: Bus;
  readonly #subjects: Subjects;

  constructor(inner: Bus, subjects: Subjects) {
    this.#inner = inner;
    this.#subjects = subjects;
  }

  publish(subject: string, data: Uint8Array, headers?: Record<string, string>): void {
    this.sent.push({ kind: "publish", subject, query: null });
    this.#inner.publish(subject, data, headers);
  }

  subscribe(subject: string, handler: (m: BusMessage) => void, opts?: { queue?: string }): BusSubscription {
    return this.#inner.subscribe(subject, handler, opts);
  }

  request(subject: string, data: Uint8Array, opts: { timeoutMs: number; headers?: Record<string, string> }) {
    this.sent.push({ kind: "request", subject, query: null });
    return this.#inner.request(subject, data, opts);
  }

  requestMany(subject: string, data: Uint8Array, opts: { maxWaitMs: number; maxReplies?: number }) {
    const decoded = decodeService(this.#subjects.cluster, "learnerQuery", data);
    this.sent.push({ kind: "requestMany", subject, query: decoded.ok ? decoded.msg : null });
    return this.#inner.requestMany(subject, data, opts);
  }

  flush(): Promise<void> {
    return this.#inner.flush();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** The decided log the fake learners serve: client values only, deduplicated by request id. */
export class FakeLog {
  readonly entries: LogEntryWire[] = [];
  readonly #indexByRequestId = new Map<string, number>();

  /** Appends a request (or finds its first index): what a learner would deliver. */
  decide(requestId: string, value: JsonValue): { kind: "delivered" | "duplicate"; index: number } {
    const first = this.#indexByRequestId.get(requestId);
    if (first !== undefined) return { kind: "duplicate", index: first };
    const index = this.entries.length;
    this.entries.push({ index, slot: index, requestId, value });
    this.#indexByRequestId.set(requestId, index);
    return { kind: "delivered", index };
  }

  byRequestId(requestId: string): LogEntryWire | null {
    const index = this.#indexByRequestId.get(requestId);
    return index === undefined ? null : (this.entries[index] ?? null);
  }
}

/**
 * A learner stand-in answering LearnerQueries from a FakeLog. `visibleEntries` (when set) makes
 * it lag: it knows only that many entries. `hideLookups` makes its lookups miss.
 */
export class FakeLearner {
  readonly learnerId: string;
  visibleEntries: number | null = null;
  hideLookups = false;
  readonly #log: FakeLog;
  readonly #subscription: BusSubscription;

  constructor(bus: Bus, subjects: Subjects, learnerId: string, log: FakeLog) {
    this.learnerId = learnerId;
    this.#log = log;
    this.#subscription = serveLearnerQueries(bus, subjects, learnerId, (query) => this.#answer(query), ignore);
  }

  #known(): LogEntryWire[] {
    return this.visibleEntries === null ? this.#log.entries : this.#log.entries.slice(0, this.visibleEntries);
  }

  #answer(query: LearnerQuery): LearnerReply {
    const known = this.#known();
    switch (query.op) {
      case "entry":
        return { op: "entry", entry: known[query.index] ?? null };
      case "range": {
        const entries = known.slice(query.from, query.from + query.limit);
        return { op: "range", entries, next: query.from + entries.length };
      }
      case "lookup": {
        const entry = this.hideLookups ? null : this.#log.byRequestId(query.requestId);
        return { op: "lookup", entry: entry !== null && entry.index < known.length ? entry : null };
      }
      case "status":
        return {
          op: "status",
          learnerId: this.learnerId,
          nextIndex: known.length,
          nextSlot: known.length,
          gapSlots: 0,
        };
    }
  }

  stop(): void {
    this.#subscription.unsubscribe();
  }
}

/** What a fake proposer does with one proposal of a batch: reply, or stay silent. */
export type ProposeScript = (req: ProposeRequest) => ProposeReply | "silent";

/**
 * A proposer stand-in: heartbeats at `round` every 25 ms while `leading`, answers propose requests
 * by `script` (default: "queued"), and on "queued" decides the request in `log` after
 * `deliverAfterMs` and publishes each learner's DeliveredEvent (unless `deliver` is false).
 */
export class FakeProposer {
  readonly proposerId: string;
  readonly received: ProposeRequest[] = [];
  round: number;
  deliver = true;
  deliverAfterMs = 10;
  script: ProposeScript = () => ({ status: "queued", leaderHint: null });
  readonly #bus: Bus;
  readonly #subjects: Subjects;
  readonly #cluster: FakeCluster;
  readonly #subscription: BusSubscription;
  #heartbeat: NodeJS.Timeout | null = null;
  readonly #timers = new Set<NodeJS.Timeout>();

  constructor(bus: Bus, subjects: Subjects, cluster: FakeCluster, proposerId: string, round: number) {
    this.#bus = bus;
    this.#subjects = subjects;
    this.#cluster = cluster;
    this.proposerId = proposerId;
    this.round = round;
    this.#subscription = serveProposals(
      bus,
      subjects,
      proposerId,
      (proposals) => {
        const replies: ProposeReply[] = [];
        for (const req of proposals) {
          this.received.push(req);
          const reply = this.script(req);
          // One silent proposal leaves its whole batch unanswered, as a stuck proposer would.
          if (reply === "silent") return new Promise<ProposeReply[]>(() => undefined);
          if (reply.status === "queued" && this.deliver) {
            const timer = setTimeout(() => {
              this.#timers.delete(timer);
              this.#cluster.decide(req.requestId, req.payload);
            }, this.deliverAfterMs);
            this.#timers.add(timer);
          }
          replies.push(reply);
        }
        return replies;
      },
      ignore,
    );
  }

  /** Starts heartbeating (the gateway then takes it for the leader if its round is highest). */
  lead(): this {
    this.#heartbeat ??= setInterval(() => this.beat(), 25);
    this.beat();
    return this;
  }

  beat(): void {
    const ballot = { round: this.round, proposerId: this.proposerId };
    this.#bus.publish(
      this.#subjects.proposer(this.proposerId, "heartbeat"),
      encode(this.#subjects.cluster, { type: "heartbeat", ballot, nextSlot: 0, chosenBelow: 0 }),
    );
  }

  /** Stops heartbeating; the gateway forgets it once `leaderStaleMs` passed. */
  silence(): void {
    if (this.#heartbeat !== null) clearInterval(this.#heartbeat);
    this.#heartbeat = null;
  }

  /**
   * Stops heartbeating and answering, as a killed process would: propose requests to it then find
   * no responders, and the gateway forgets it once `leaderStaleMs` passed. Idempotent.
   */
  stop(): void {
    this.silence();
    for (const timer of this.#timers) clearTimeout(timer);
    this.#subscription.unsubscribe();
  }
}

/** The scripted cluster: one log, learners serving it, proposers feeding it. */
export class FakeCluster {
  readonly bus: MemoryBus;
  readonly subjects = new Subjects(CLUSTER);
  readonly log = new FakeLog();
  readonly learners: FakeLearner[];
  readonly proposers: FakeProposer[] = [];

  constructor(learnerIds: readonly string[] = ["l1", "l2"]) {
    this.bus = new MemoryBus();
    this.learners = learnerIds.map((id) => new FakeLearner(this.bus, this.subjects, id, this.log));
  }

  proposer(proposerId: string, round: number): FakeProposer {
    const proposer = new FakeProposer(this.bus, this.subjects, this, proposerId, round);
    this.proposers.push(proposer);
    return proposer;
  }

  /** Decides a request and publishes every learner's delivery, as real learners would. */
  decide(requestId: string, value: JsonValue): number {
    const decided = this.log.decide(requestId, value);
    for (const learner of this.learners) {
      const { index, kind } = decided;
      publishDelivered(this.bus, this.subjects, learner.learnerId, [
        kind === "delivered" ? { kind, index, slot: index, requestId, value } : { kind, index, slot: index, requestId },
      ]);
    }
    return decided.index;
  }

  acceptorStatus(acceptorId: string, round: number, proposerId: string): void {
    publishAcceptorStatus(this.bus, this.subjects, {
      acceptorId,
      promised: { round, proposerId },
      acceptedSlots: this.log.entries.length,
      storage: "ok",
    });
  }

  async stop(): Promise<void> {
    for (const proposer of this.proposers) proposer.stop();
    for (const learner of this.learners) learner.stop();
    await this.bus.close();
  }
}

/** A gateway app listening on loopback, over the cluster's bus through a RecordingBus. */
export interface RunningGateway {
  readonly url: string;
  readonly gateway: GatewayApp;
  /** Everything this gateway sent on the bus so far. */
  readonly sent: SentByGateway[];
  close(): Promise<void>;
}

export async function startGateway(
  cluster: FakeCluster,
  limits: Partial<GatewayLimits> = {},
  serverLimits: Partial<GatewayServerLimits> = {},
  auth: GatewayAuth = TEST_AUTH,
  protocolLimits?: Limits,
): Promise<RunningGateway> {
  const bus = new RecordingBus(cluster.bus, cluster.subjects);
  const gateway = createGatewayApp({
    bus,
    subjects: cluster.subjects,
    acceptorIds: ACCEPTOR_IDS,
    auth,
    limits: { ...TEST_LIMITS, ...limits },
    serverLimits,
    ...(protocolLimits === undefined ? {} : { protocolLimits }),
  });
  const server = await gateway.listen(0, "127.0.0.1");
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    gateway,
    sent: bus.sent,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await gateway.close();
      server.closeAllConnections();
      await closed;
    },
  };
}

/**
 * POSTs a proposal body (an object, serialised here, or raw text) to the gateway with `token`
 * (TEST_TOKEN unless given; null sends no Authorization); `signal` hangs up.
 */
export async function postProposal(
  url: string,
  body: unknown,
  options: { key?: string; contentType?: string; raw?: boolean; signal?: AbortSignal; token?: string | null } = {},
): Promise<Response> {
  const headers: Record<string, string> = { "Content-Type": options.contentType ?? "application/json" };
  if (options.key !== undefined) headers["Idempotency-Key"] = options.key;
  const token = options.token === undefined ? TEST_TOKEN : options.token;
  if (token !== null) headers["Authorization"] = `Bearer ${token}`;
  return await fetch(`${url}/v1/proposals`, {
    method: "POST",
    headers,
    body: options.raw === true ? (body as string) : JSON.stringify(body),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
}

/** Resolves once `check` holds, polling every 10 ms; rejects after `timeoutMs`. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** One server-sent event. */
export interface SseEvent {
  readonly id: string | null;
  readonly data: string;
}

/** Reads a text/event-stream response event by event (comments and `retry:` are skipped). */
export class SseReader {
  readonly comments: string[] = [];
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #decoder = new TextDecoder();
  #buffer = "";

  constructor(response: Response) {
    if (response.body === null) throw new Error("no body");
    this.#reader = response.body.getReader();
  }

  /** The next event, or rejects when none arrives within `timeoutMs` or the stream ends. */
  async next(timeoutMs = 2_000): Promise<SseEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const end = this.#buffer.indexOf("\n\n");
      if (end >= 0) {
        const block = this.#buffer.slice(0, end);
        this.#buffer = this.#buffer.slice(end + 2);
        let id: string | null = null;
        const data: string[] = [];
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) this.comments.push(line);
          else if (line.startsWith("id: ")) id = line.slice(4);
          else if (line.startsWith("data: ")) data.push(line.slice(6));
        }
        if (data.length > 0) return { id, data: data.join("\n") };
        continue;
      }
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0) throw new Error("no event in time");
      let timer: NodeJS.Timeout | undefined;
      const chunk = await Promise.race([
        this.#reader.read(),
        new Promise<never>((_resolve, reject) => {
          timer = setTimeout(() => reject(new Error("no event in time")), remainingMs);
        }),
      ]).finally(() => clearTimeout(timer));
      if (chunk.done) throw new Error("stream ended");
      this.#buffer += this.#decoder.decode(chunk.value, { stream: true });
    }
  }

  async cancel(): Promise<void> {
    await this.#reader.cancel();
  }
}
