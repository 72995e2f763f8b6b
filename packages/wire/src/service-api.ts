import { DEFAULT_LIMITS, invariant, type Limits } from "@paxos/core";
import type { Bus, BusMessage, BusSubscription } from "./bus.ts";
import type { DropHandler } from "./bus-transport.ts";
import { decodeService, encodeService, type DecodeFailureReason } from "./codec.ts";
import type { ServiceKind, ServiceMessages } from "./schemas.ts";
import type {
  AcceptorStatus,
  Delivered,
  DeliveredEvent,
  LearnerQuery,
  LearnerReply,
  ProposeBatch,
  ProposeBatchReply,
  ProposeReply,
  ProposeRequest,
} from "./service-messages.ts";
import { rethrowLater } from "./rethrow.ts";
import type { Subjects } from "./subjects.ts";
import { traceHeaders } from "./trace.ts";

/*
 * Typed helpers for the service messages over a Bus: proposals (gateway → proposer), reads
 * (gateway → every learner), delivery events and acceptor status. Inbound data is validated here,
 * once; what fails is dropped and reported to `onDrop`, never thrown at the bus.
 */

/** What the serving and subscribing helpers need besides the bus. */
export interface ServiceOptions {
  /** Told of every inbound message refused at the boundary. Must not throw. */
  readonly onDrop: DropHandler;
  /**
   * Told when a handler throws or rejects. The default rethrows outside the bus callback, so a
   * broken invariant still stops the process; hosts may pass their fatal handler or a logger.
   */
  readonly onHandlerError?: (error: unknown, subject: string) => void;
  /** Must be the limits every process of the cluster runs with. */
  readonly limits?: Limits;
}

/** Why a service call got an answer it cannot use. */
export type ServiceErrorCode =
  /** The reply failed validation (`reason` says how). */
  "badReply";

/** A typed failure of a service call; bus failures (timeout, noResponders, closed) stay BusErrors. */
export class ServiceError extends Error {
  override readonly name = "ServiceError";
  readonly code: ServiceErrorCode;
  readonly reason: DecodeFailureReason;

  constructor(code: ServiceErrorCode, reason: DecodeFailureReason, message: string) {
    super(message);
    this.code = code;
    this.reason = reason;
  }
}

/** Trace headers of an inbound request, handed to service handlers as their context. */
export type ServiceContext = Readonly<Record<string, string>>;

/**
 * Serves ProposeBatches addressed to `proposerId` (no queue group: the subject names one
 * proposer). Each valid batch goes to `handler`, which answers every proposal in order; the
 * replies go back as one ProposeBatchReply. An invalid batch is dropped unanswered (the gateway
 * times out) and reported. Call once per proposer process.
 */
export function serveProposals(
  bus: Bus,
  subjects: Subjects,
  proposerId: string,
  handler: (
    proposals: readonly ProposeRequest[],
    context: ServiceContext,
  ) => readonly ProposeReply[] | Promise<readonly ProposeReply[]>,
  options: ServiceOptions,
): BusSubscription {
  const answered = (batch: ProposeBatch, context: ServiceContext): ProposeBatchReply | Promise<ProposeBatchReply> =>
    then(handler(batch.proposals, context), (replies) => {
      invariant(replies.length === batch.proposals.length, "a proposer must answer every proposal of a batch");
      return { replies };
    });
  return bus.subscribe(subjects.propose(proposerId), (m) => {
    serve(subjects, m, "proposeBatch", "proposeBatchReply", answered, options);
  });
}

/**
 * Sends `proposals` (1 to `batchRequestsMax`) to proposer `proposerId` in one request and
 * resolves with its replies, in order. Rejects with BusError ("timeout", "noResponders",
 * "closed", "failed") or ServiceError("badReply"). ProposeBatcher gathers single proposals into
 * such calls.
 */
export async function proposeBatch(
  bus: Bus,
  subjects: Subjects,
  proposerId: string,
  proposals: readonly ProposeRequest[],
  timeoutMs: number,
  headers?: Record<string, string>,
  limits: Limits = DEFAULT_LIMITS,
): Promise<readonly ProposeReply[]> {
  const data = encodeService(subjects.cluster, "proposeBatch", { proposals });
  const reply = await bus.request(
    subjects.propose(proposerId),
    data,
    headers === undefined ? { timeoutMs } : { timeoutMs, headers },
  );
  const decoded = decodeService(subjects.cluster, "proposeBatchReply", reply.data, limits);
  if (!decoded.ok) {
    throw new ServiceError("badReply", decoded.reason, `proposer ${proposerId} replied badly: ${decoded.detail}`);
  }
  if (decoded.msg.replies.length !== proposals.length) {
    throw new ServiceError(
      "badReply",
      "schema",
      `proposer ${proposerId} answered ${decoded.msg.replies.length} of ${proposals.length} proposals`,
    );
  }
  return decoded.msg.replies;
}

/**
 * Serves LearnerQueries for learner `learnerId`. Every learner subscribes without a queue group,
 * so every learner answers and the reader picks the best answer. `handler` must answer with the
 * query's `op`, and a status answer must carry `learnerId`; a range answer must stay within
 * `messageBytesMax` once encoded (cut it short and set `next` accordingly). A handler that
 * returns null sends no answer.
 */
export function serveLearnerQueries(
  bus: Bus,
  subjects: Subjects,
  learnerId: string,
  handler: (query: LearnerQuery, context: ServiceContext) => LearnerReply | null | Promise<LearnerReply | null>,
  options: ServiceOptions,
): BusSubscription {
  const checked = async (query: LearnerQuery, context: ServiceContext): Promise<LearnerReply | null> => {
    const reply = await handler(query, context);
    if (reply === null) return null;
    invariant(reply.op === query.op, `learner answered a ${query.op} query with ${reply.op}`);
    invariant(reply.op !== "status" || reply.learnerId === learnerId, "status answer names another learner");
    return reply;
  };
  return bus.subscribe(subjects.learnersQuery(), (m) => {
    serve(subjects, m, "learnerQuery", "learnerReply", checked, options);
  });
}

/**
 * Asks every learner `query` and collects the valid answers that arrive within `maxWaitMs` (at
 * most `maxReplies`, when given), possibly none. Invalid answers, and answers to another op, are
 * dropped and reported to `onDrop` when given. Rejects only with BusError("closed" or "failed").
 */
export async function queryLearners(
  bus: Bus,
  subjects: Subjects,
  query: LearnerQuery,
  maxWaitMs: number,
  opts: { maxReplies?: number; onDrop?: DropHandler; headers?: Record<string, string>; limits?: Limits } = {},
): Promise<LearnerReply[]> {
  const subject = subjects.learnersQuery();
  const data = encodeService(subjects.cluster, "learnerQuery", query);
  const manyOpts: { maxWaitMs: number; maxReplies?: number; headers?: Record<string, string> } = { maxWaitMs };
  if (opts.maxReplies !== undefined) manyOpts.maxReplies = opts.maxReplies;
  if (opts.headers !== undefined) manyOpts.headers = opts.headers;
  const replies = await bus.requestMany(subject, data, manyOpts);
  const answers: LearnerReply[] = [];
  for (const reply of replies) {
    const decoded = decodeService(subjects.cluster, "learnerReply", reply.data, opts.limits ?? DEFAULT_LIMITS);
    if (!decoded.ok) {
      opts.onDrop?.(decoded.reason, reply.subject, decoded.detail);
    } else if (decoded.msg.op !== query.op) {
      opts.onDrop?.("schema", reply.subject, `answer to ${decoded.msg.op}, asked ${query.op}`);
    } else {
      answers.push(decoded.msg);
    }
  }
  return answers;
}

/**
 * Publishes learner `learnerId`'s deliveries on its own `delivered` subject (for gateways): one
 * DeliveredBatch, or as few as fit within `messageBytesMax` each, in order.
 */
export function publishDelivered(
  bus: Bus,
  subjects: Subjects,
  learnerId: string,
  deliveries: readonly Delivered[],
  headers?: Record<string, string>,
  limits: Limits = DEFAULT_LIMITS,
): void {
  if (deliveries.length === 0) return;
  const data = encodeService(subjects.cluster, "delivered", { learnerId, deliveries });
  if (data.byteLength > limits.messageBytesMax && deliveries.length > 1) {
    const half = Math.ceil(deliveries.length / 2);
    publishDelivered(bus, subjects, learnerId, deliveries.slice(0, half), headers, limits);
    publishDelivered(bus, subjects, learnerId, deliveries.slice(half), headers, limits);
    return;
  }
  bus.publish(subjects.learner(learnerId, "delivered"), data, headers);
}

/**
 * Calls `handler` with every delivery of every valid DeliveredBatch of every learner, in order.
 * Batches whose learnerId differs from the learner named in the subject are dropped as
 * "subjectMismatch".
 */
export function subscribeDelivered(
  bus: Bus,
  subjects: Subjects,
  handler: (event: DeliveredEvent, context: ServiceContext) => void,
  options: ServiceOptions,
): BusSubscription {
  return bus.subscribe(subjects.allLearners("delivered"), (m) => {
    const batch = receive(subjects, m, "delivered", options);
    if (batch === null) return;
    const parsed = subjects.parse(m.subject);
    if (parsed?.publisherRole !== "learner" || parsed.publisherId !== batch.learnerId) {
      options.onDrop("subjectMismatch", m.subject, "learnerId differs from the subject");
      return;
    }
    const context = traceHeaders(m.headers);
    const { learnerId } = batch;
    for (const delivery of batch.deliveries)
      call(() => handler({ ...delivery, learnerId }, context), m.subject, options);
  });
}

/** Publishes an acceptor's status on its own `status` subject. */
export function publishAcceptorStatus(bus: Bus, subjects: Subjects, status: AcceptorStatus): void {
  bus.publish(subjects.status(status.acceptorId), encodeService(subjects.cluster, "acceptorStatus", status));
}

/**
 * Calls `handler` with every valid AcceptorStatus from a configured acceptor. A status whose
 * acceptorId differs from the subject is dropped as "subjectMismatch", one from an acceptor not in
 * `acceptorIds` as "unknownAcceptor".
 */
export function subscribeAcceptorStatus(
  bus: Bus,
  subjects: Subjects,
  acceptorIds: readonly string[],
  handler: (status: AcceptorStatus) => void,
  options: ServiceOptions,
): BusSubscription {
  const configured = new Set(acceptorIds);
  return bus.subscribe(subjects.allStatus(), (m) => {
    const status = receive(subjects, m, "acceptorStatus", options);
    if (status === null) return;
    const parsed = subjects.parse(m.subject);
    if (parsed?.publisherRole !== "acceptor" || parsed.publisherId !== status.acceptorId) {
      options.onDrop("subjectMismatch", m.subject, "acceptorId differs from the subject");
      return;
    }
    if (!configured.has(status.acceptorId)) {
      options.onDrop("unknownAcceptor", m.subject, `acceptor ${status.acceptorId} is not configured`);
      return;
    }
    call(() => handler(status), m.subject, options);
  });
}

/** Decodes one inbound service message, reporting a refusal; null when refused. */
function receive<K extends ServiceKind>(
  subjects: Subjects,
  m: BusMessage,
  kind: K,
  options: ServiceOptions,
): ServiceMessages[K] | null {
  const decoded = decodeService(subjects.cluster, kind, m.data, options.limits ?? DEFAULT_LIMITS);
  if (decoded.ok) return decoded.msg;
  options.onDrop(decoded.reason, m.subject, decoded.detail);
  return null;
}

/** Answers one request: decode, run the handler, encode and send its reply. */
function serve<Q extends ServiceKind, R extends ServiceKind>(
  subjects: Subjects,
  m: BusMessage,
  requestKind: Q,
  replyKind: R,
  handler: (
    req: ServiceMessages[Q],
    context: ServiceContext,
  ) => ServiceMessages[R] | null | Promise<ServiceMessages[R] | null>,
  options: ServiceOptions,
): void {
  const req = receive(subjects, m, requestKind, options);
  if (req === null) return;
  const context = traceHeaders(m.headers);
  call(
    () =>
      then(handler(req, context), (reply) => {
        // Null: the handler has no answer to give (the asker hears from others, or times out).
        if (reply !== null) m.respond(encodeService(subjects.cluster, replyKind, reply));
      }),
    m.subject,
    options,
  );
}

/**
 * `next(value)`, at once when `value` is already there, else once it resolves. A handler that
 * answers synchronously is answered in the same turn as what it published meanwhile (a leader's
 * accept and its "queued" reply), so the NATS client sends both in one write, not two, and the
 * server reads them at once. A leader's write calls per slot went from 2.7 to 1.6
 * (/proc/<pid>/io, one `npm start` cluster under 64 REST clients).
 */
function then<T, U>(value: T | Promise<T>, next: (value: T) => U): U | Promise<U> {
  return value instanceof Promise ? value.then(next) : next(value);
}

/** Runs a handler, sending what it throws or rejects with to `onHandlerError`. */
function call(run: () => void | Promise<void>, subject: string, options: ServiceOptions): void {
  const onError = options.onHandlerError ?? rethrowLater;
  try {
    const result = run();
    if (result instanceof Promise) result.catch((error: unknown) => onError(error, subject));
  } catch (error) {
    onError(error, subject);
  }
}
