import {
  DEFAULT_LIMITS,
  invariant,
  InvariantViolation,
  type Endpoint,
  type Limits,
  type Message,
  type Transport,
} from "@paxos/core";
import type { Bus, BusMessage, BusSubscription } from "./bus.ts";
import { decodeMessage, encode, type DecodeFailureReason } from "./codec.ts";
import { rethrowLater } from "./rethrow.ts";
import type { Subjects } from "./subjects.ts";
import { traceHeaders } from "./trace.ts";

/** Called for each inbound message refused at the boundary: count it, log it, go on. */
export type DropHandler = (reason: DecodeFailureReason, subject: string, detail: string) => void;

/** What a BusTransport needs. */
export interface BusTransportOptions {
  readonly bus: Bus;
  readonly subjects: Subjects;
  /** The configured acceptors: messages from any other acceptor id are dropped. */
  readonly acceptorIds: readonly string[];
  /**
   * Told of every dropped inbound message (metrics and logs), and of outbound messages too large
   * to send. Must not throw.
   */
  readonly onDrop: DropHandler;
  /**
   * Told when a role's handler throws. The default rethrows outside the bus callback, so an
   * InvariantViolation still stops the process as it must; hosts may pass their fatal handler.
   */
  readonly onHandlerError?: (error: unknown, subject: string) => void;
  /** Must be the limits every process of the cluster runs with. */
  readonly limits?: Limits;
}

/**
 * The core Transport over any Bus (NATS, or memory for the embedded cluster). Publishing picks
 * the subject from the message type and the publisher, so every subject names its publisher;
 * subscribing listens to what the endpoint's role needs, decodes and validates each message
 * (dropping and reporting what fails), and hands the role only its trace headers as context.
 * Broadcast subjects use no queue group: every acceptor must see every prepare and accept.
 */
export class BusTransport implements Transport {
  readonly #bus: Bus;
  readonly #subjects: Subjects;
  readonly #acceptorIds: ReadonlySet<string>;
  readonly #onDrop: DropHandler;
  readonly #onHandlerError: (error: unknown, subject: string) => void;
  readonly #limits: Limits;
  readonly #subscriptions = new Set<BusSubscription>();

  constructor(options: BusTransportOptions) {
    this.#bus = options.bus;
    this.#subjects = options.subjects;
    this.#acceptorIds = new Set(options.acceptorIds);
    this.#onDrop = options.onDrop;
    this.#onHandlerError = options.onHandlerError ?? rethrowLater;
    this.#limits = options.limits ?? DEFAULT_LIMITS;
  }

  /**
   * Publishes `msg` from `from` on the subject its type and publisher give, with `context` as
   * message headers. A message that encodes above `messageBytesMax` is not sent (receivers would
   * refuse it) and is reported to `onDrop` as "tooLarge"; like any lost message, the protocol's
   * retransmissions carry on. A role publishing a type it never sends (an acceptor's prepare, any
   * ProposeMsg: clients use the service API) is a bug in the host and throws.
   */
  publish(from: Endpoint, msg: Message, context?: Readonly<Record<string, string>>): void {
    const subject = this.subjectFor(from, msg);
    const data = encode(this.#subjects.cluster, msg);
    if (data.byteLength > this.#limits.messageBytesMax) {
      this.#onDrop(
        "tooLarge",
        subject,
        `outbound ${msg.type}: ${data.byteLength} bytes > ${this.#limits.messageBytesMax}`,
      );
      return;
    }
    this.#bus.publish(subject, data, context === undefined ? undefined : { ...context });
  }

  /**
   * Delivers to `handler` every valid message `endpoint`'s role needs:
   * - acceptor: every proposer's prepare, accept and heartbeat, every learner's catch-up;
   * - proposer: promises, nacks and votes at its own ballots, every proposer's chosen and
   *   heartbeat (its own included);
   * - learner: every accepted, catch-up replies addressed to it, every proposer's chosen and
   *   heartbeat, every learner's catch-up and chosen (its own included).
   */
  subscribe(
    endpoint: Endpoint,
    handler: (msg: Message, context: Readonly<Record<string, string>>) => void,
  ): { unsubscribe(): void } {
    const subscriptions = this.subscriptionSubjects(endpoint).map((subject) =>
      this.#bus.subscribe(subject, (m) => this.#deliver(m, handler)),
    );
    for (const subscription of subscriptions) this.#subscriptions.add(subscription);
    return {
      unsubscribe: () => {
        for (const subscription of subscriptions) {
          subscription.unsubscribe();
          this.#subscriptions.delete(subscription);
        }
      },
    };
  }

  /** Unsubscribes everything this transport subscribed; the bus itself belongs to the caller. */
  close(): Promise<void> {
    for (const subscription of this.#subscriptions) subscription.unsubscribe();
    this.#subscriptions.clear();
    return Promise.resolve();
  }

  /** The subject `from` publishes `msg` on. Throws when that role never sends that type. */
  subjectFor(from: Endpoint, msg: Message): string {
    const s = this.#subjects;
    switch (msg.type) {
      case "prepare":
      case "accept":
      case "heartbeat":
        expectRole(from, "proposer", msg.type);
        return s.proposer(from.id, msg.type);
      case "chosen":
        if (from.role === "learner") return s.learner(from.id, "chosen");
        expectRole(from, "proposer", msg.type);
        return s.proposer(from.id, "chosen");
      case "promise":
        expectRole(from, "acceptor", msg.type);
        return s.promise(from.id, msg.ballot.proposerId);
      case "nack":
        expectRole(from, "acceptor", msg.type);
        return s.nack(from.id, msg.ballot.proposerId);
      case "accepted":
        expectRole(from, "acceptor", msg.type);
        return s.accepted(from.id, msg.ballot.proposerId);
      case "catchupReply":
        expectRole(from, "acceptor", msg.type);
        return s.catchupReply(from.id, msg.learnerId);
      case "catchup":
        expectRole(from, "learner", msg.type);
        return s.learner(from.id, "catchup");
      case "propose":
        throw new InvariantViolation("ProposeMsg does not travel over the transport: use the service API's propose()");
    }
  }

  /** The subscription subjects of `endpoint`'s role (see `subscribe`). */
  subscriptionSubjects(endpoint: Endpoint): string[] {
    const s = this.#subjects;
    switch (endpoint.role) {
      case "acceptor":
        return [
          s.allProposers("prepare"),
          s.allProposers("accept"),
          s.allProposers("heartbeat"),
          s.allLearners("catchup"),
        ];
      case "proposer":
        return [
          s.promisesTo(endpoint.id),
          s.nacksTo(endpoint.id),
          s.acceptedFor(endpoint.id),
          s.allProposers("chosen"),
          s.allProposers("heartbeat"),
        ];
      case "learner":
        return [
          s.allAccepted(),
          s.catchupRepliesTo(endpoint.id),
          s.allProposers("chosen"),
          s.allProposers("heartbeat"),
          s.allLearners("catchup"),
          s.allLearners("chosen"),
        ];
    }
  }

  #deliver(m: BusMessage, handler: (msg: Message, context: Readonly<Record<string, string>>) => void): void {
    const decoded = decodeMessage(this.#subjects, m.subject, m.data, this.#acceptorIds, this.#limits);
    if (!decoded.ok) {
      try {
        this.#onDrop(decoded.reason, m.subject, decoded.detail);
      } catch (error) {
        this.#onHandlerError(error, m.subject);
      }
      return;
    }
    try {
      handler(decoded.msg, traceHeaders(m.headers));
    } catch (error) {
      this.#onHandlerError(error, m.subject);
    }
  }
}

function expectRole(from: Endpoint, role: Endpoint["role"], type: Message["type"]): void {
  invariant(from.role === role, `a ${from.role} does not send ${type} messages`);
}
