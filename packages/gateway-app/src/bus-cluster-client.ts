import { trace, TraceFlags } from "@opentelemetry/api";
import type { Ballot, JsonValue, Limits } from "@paxos/core";
import {
  type AcceptorStatus,
  type Bus,
  BusError,
  type BusSubscription,
  decodeMessage,
  type DropHandler,
  type LearnerQuery,
  type LearnerReply,
  type LogEntryWire,
  ProposeBatcher,
  proposeBatch,
  queryLearners,
  ServiceError,
  type Subjects,
  subscribeAcceptorStatus,
  subscribeDelivered,
} from "@paxos/wire";
import type {
  ClusterPort,
  DeliveryEvent,
  LearnerRead,
  LearnerStatusView,
  LogEntryView,
  ProposeResult,
} from "./cluster-port.ts";

/** What a BusClusterClient needs. */
export interface BusClusterClientOptions {
  readonly bus: Bus;
  readonly subjects: Subjects;
  readonly acceptorIds: readonly string[];
  readonly protocolLimits: Limits;
  /** How long one learner read collects answers (less when every known learner answered). */
  readonly learnerQueryWaitMs: number;
  /** Told of each valid proposer heartbeat. */
  readonly onHeartbeat: (ballot: Ballot) => void;
  /** Told of each valid acceptor status. */
  readonly onAcceptorStatus: (status: AcceptorStatus) => void;
  /** Told of each inbound message refused at the boundary (and of unknown acceptors). Must not throw. */
  readonly onDrop: DropHandler;
}

/**
 * How often the client asks every learner for its status in the background, to know how many
 * learners to wait for: a read returns as soon as that many answered instead of waiting the
 * whole `learnerQueryWaitMs`. A learner not heard from for three periods is no longer waited for.
 */
const LEARNER_REFRESH_MS = 5_000;
const LEARNER_FORGET_MS = 3 * LEARNER_REFRESH_MS;

/**
 * The ClusterPort over a Bus: propose requests to one proposer, reads from every learner (no
 * queue group: each answers, the best answer wins), and the three broadcasts the gateway
 * listens to (proposer heartbeats, acceptor statuses, learner deliveries), each decoded and
 * checked against its subject at the boundary. Subscribes on construction; `close` unsubscribes.
 */
export class BusClusterClient implements ClusterPort {
  readonly #bus: Bus;
  readonly #subjects: Subjects;
  readonly #limits: Limits;
  readonly #queryWaitMs: number;
  readonly #onDrop: BusClusterClientOptions["onDrop"];
  readonly #subscriptions: BusSubscription[] = [];
  readonly #deliveryHandlers = new Set<(event: DeliveryEvent) => void>();
  /** Learners heard from lately, by id: a read stops waiting once all of them answered. */
  readonly #learnersSeenAtMs = new Map<string, number>();
  readonly #refreshTimer: NodeJS.Timeout;
  readonly #batcher: ProposeBatcher;

  constructor(options: BusClusterClientOptions) {
    this.#bus = options.bus;
    this.#subjects = options.subjects;
    this.#limits = options.protocolLimits;
    this.#queryWaitMs = options.learnerQueryWaitMs;
    this.#onDrop = options.onDrop;
    this.#batcher = new ProposeBatcher({ bus: this.#bus, subjects: this.#subjects, limits: this.#limits });
    const acceptorIds = new Set(options.acceptorIds);
    const serviceOptions = { onDrop: this.#onDrop, limits: this.#limits };
    this.#subscriptions.push(
      // Heartbeats only: a learner endpoint of BusTransport would also pull every accepted message.
      this.#bus.subscribe(this.#subjects.allProposers("heartbeat"), (m) => {
        const decoded = decodeMessage(this.#subjects, m.subject, m.data, acceptorIds, this.#limits);
        if (!decoded.ok) this.#onDrop(decoded.reason, m.subject, decoded.detail);
        else if (decoded.msg.type === "heartbeat") options.onHeartbeat(decoded.msg.ballot);
      }),
      subscribeAcceptorStatus(this.#bus, this.#subjects, options.acceptorIds, options.onAcceptorStatus, serviceOptions),
      subscribeDelivered(
        this.#bus,
        this.#subjects,
        (event) => {
          this.#learnersSeenAtMs.set(event.learnerId, Date.now());
          const { learnerId, kind, index, requestId } = event;
          const delivery: DeliveryEvent =
            event.kind === "delivered"
              ? { learnerId, kind, index, requestId, value: event.value }
              : { learnerId, kind, index, requestId };
          for (const handler of [...this.#deliveryHandlers]) handler(delivery);
        },
        serviceOptions,
      ),
    );
    const refresh = (): void => void this.#query({ op: "status" }, true);
    refresh();
    this.#refreshTimer = setInterval(refresh, LEARNER_REFRESH_MS);
    this.#refreshTimer.unref();
  }

  async propose(proposerId: string, requestId: string, payload: JsonValue, timeoutMs: number): Promise<ProposeResult> {
    try {
      const request = { requestId, payload };
      // A proposal of a sampled trace goes alone, in the request's context, so that its trace
      // shows the hop to the proposer (the bus traces requests made in a sampled context).
      const [reply] = sampledSpanActive()
        ? await proposeBatch(this.#bus, this.#subjects, proposerId, [request], timeoutMs, undefined, this.#limits)
        : [await this.#batcher.propose(proposerId, request, timeoutMs)];
      if (reply === undefined) return { status: "timeout" };
      return reply.status === "notLeader"
        ? { status: reply.status, leaderHint: reply.leaderHint }
        : { status: reply.status };
    } catch (error) {
      // The proposer got the request but its answer is unusable: what it did is unknown.
      if (error instanceof ServiceError) return { status: "timeout" };
      if (!(error instanceof BusError)) throw error;
      switch (error.code) {
        case "timeout":
          return { status: "timeout" };
        case "closed":
          return { status: "closed" };
        case "noResponders":
        case "failed":
          // Nobody took the request (no subscriber, or the server refused to carry it).
          return { status: "noResponders" };
      }
    }
  }

  async readEntry(index: number): Promise<LearnerRead<LogEntryView | null>> {
    const replies = await this.#query({ op: "entry", index });
    const found = replies.find((reply) => reply.op === "entry" && reply.entry?.index === index);
    return {
      answered: replies.length,
      result: found?.op === "entry" && found.entry !== null ? view(found.entry) : null,
    };
  }

  async readRange(from: number, limit: number): Promise<LearnerRead<{ entries: LogEntryView[]; next: number }>> {
    const replies = await this.#query({ op: "range", from, limit });
    let best: { entries: readonly LogEntryWire[]; next: number } | null = null;
    for (const reply of replies) {
      if (reply.op !== "range" || !isRangeFrom(reply.entries, from, limit)) continue;
      if (best === null || reply.entries.length > best.entries.length) best = reply;
    }
    return {
      answered: replies.length,
      result: best === null ? { entries: [], next: from } : { entries: best.entries.map(view), next: best.next },
    };
  }

  async lookup(requestId: string): Promise<LearnerRead<LogEntryView | null>> {
    const replies = await this.#query({ op: "lookup", requestId });
    const found = replies.find((reply) => reply.op === "lookup" && reply.entry?.requestId === requestId);
    return {
      answered: replies.length,
      result: found?.op === "lookup" && found.entry !== null ? view(found.entry) : null,
    };
  }

  async learnerStatuses(): Promise<LearnerStatusView[]> {
    const replies = await this.#query({ op: "status" });
    const byId = new Map<string, LearnerStatusView>();
    for (const reply of replies) {
      if (reply.op !== "status") continue;
      const { learnerId, nextIndex, nextSlot, gapSlots } = reply;
      byId.set(learnerId, { learnerId, nextIndex, nextSlot, gapSlots });
    }
    return [...byId.values()].sort((a, b) => (a.learnerId < b.learnerId ? -1 : a.learnerId > b.learnerId ? 1 : 0));
  }

  onDelivery(handler: (event: DeliveryEvent) => void): () => void {
    this.#deliveryHandlers.add(handler);
    return () => this.#deliveryHandlers.delete(handler);
  }

  /** Unsubscribes from the bus; reads and proposals already running finish on their own. */
  close(): void {
    clearInterval(this.#refreshTimer);
    for (const subscription of this.#subscriptions) subscription.unsubscribe();
    this.#subscriptions.length = 0;
    this.#deliveryHandlers.clear();
  }

  /**
   * Asks every learner and returns the valid answers of the query's kind that arrived within the
   * wait, which ends early once every known learner answered (unless `waitForAll`: the background
   * status refresh waits the whole time, which is how new learners become known). Never rejects:
   * a closed bus or a failure is the same as no answer.
   */
  async #query(query: LearnerQuery, waitForAll = false): Promise<LearnerReply[]> {
    const known = waitForAll ? 0 : this.#knownLearners();
    let replies: LearnerReply[];
    try {
      replies = await queryLearners(this.#bus, this.#subjects, query, this.#queryWaitMs, {
        ...(known > 0 ? { maxReplies: known } : {}),
        onDrop: this.#onDrop,
        limits: this.#limits,
      });
    } catch (error) {
      if (error instanceof BusError) return [];
      throw error;
    }
    for (const reply of replies) {
      if (reply.op === "status") this.#learnersSeenAtMs.set(reply.learnerId, Date.now());
    }
    return replies;
  }

  #knownLearners(): number {
    const now = Date.now();
    for (const [learnerId, seenAtMs] of this.#learnersSeenAtMs) {
      if (now - seenAtMs > LEARNER_FORGET_MS) this.#learnersSeenAtMs.delete(learnerId);
    }
    return this.#learnersSeenAtMs.size;
  }
}

/** True when the active span (the HTTP request's) is sampled. */
function sampledSpanActive(): boolean {
  const span = trace.getActiveSpan();
  return span !== undefined && (span.spanContext().traceFlags & TraceFlags.SAMPLED) !== 0;
}

/** A range answer must start at `from` and count up by one; anything else is not trusted. */
function isRangeFrom(entries: readonly LogEntryWire[], from: number, limit: number): boolean {
  return entries.length <= limit && entries.every((entry, i) => entry.index === from + i);
}

function view(entry: LogEntryWire): LogEntryView {
  return { index: entry.index, value: entry.value, requestId: entry.requestId };
}
