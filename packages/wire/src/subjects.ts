import { checkId, isValidId } from "./ids.ts";

/** Kinds of subject a proposer publishes on: `<prefix>.proposer.<proposerId>.<kind>`. */
export type ProposerSubjectKind = "prepare" | "accept" | "chosen" | "heartbeat";
/** Kinds of subject a learner publishes on: `<prefix>.learner.<learnerId>.<kind>`. */
export type LearnerSubjectKind = "catchup" | "chosen" | "delivered";

/**
 * A subject taken apart: who published it (role and id, as NATS permissions can bind them), what
 * kind of message it carries, and the one endpoint it is addressed to, if any. The gateway's
 * request subjects name no publisher.
 */
export type ParsedSubject =
  | {
      readonly publisherRole: "proposer";
      readonly publisherId: string;
      readonly kind: ProposerSubjectKind;
      readonly targetId: null;
    }
  | {
      readonly publisherRole: "acceptor";
      readonly publisherId: string;
      readonly kind: "promise" | "nack" | "accepted" | "catchupReply";
      readonly targetId: string;
    }
  | {
      readonly publisherRole: "acceptor";
      readonly publisherId: string;
      readonly kind: "status";
      readonly targetId: null;
    }
  | {
      readonly publisherRole: "learner";
      readonly publisherId: string;
      readonly kind: LearnerSubjectKind;
      readonly targetId: null;
    }
  | {
      readonly publisherRole: "gateway";
      readonly publisherId: null;
      readonly kind: "propose";
      readonly targetId: string;
    }
  | {
      readonly publisherRole: "gateway";
      readonly publisherId: null;
      readonly kind: "learnersQuery";
      readonly targetId: null;
    };

const PROPOSER_KINDS: ReadonlySet<string> = new Set<ProposerSubjectKind>(["prepare", "accept", "chosen", "heartbeat"]);
const LEARNER_KINDS: ReadonlySet<string> = new Set<LearnerSubjectKind>(["catchup", "chosen", "delivered"]);

/**
 * Every NATS subject of one cluster, under the versioned prefix `paxos.v1.<cluster>`. The only
 * place subjects are spelled: publishers put their own role and id in the subject, so NATS
 * permissions can bind an acceptor to its own id and receivers can check the id in the body.
 * Builders throw WireError("invalidId") on an id that is not subject-safe; callers pass configured
 * or validated ids, so that is a configuration error. Wildcard builders (`all…`, `…To`) give the
 * subscription subjects each role needs.
 */
/** Parsed subjects a Subjects keeps (see `parse`). */
const PARSED_SUBJECTS_MAX = 1_024;

export class Subjects {
  readonly cluster: string;
  /** `paxos.v1.<cluster>`. */
  readonly prefix: string;
  readonly #parsed = new Map<string, ParsedSubject | null>();

  constructor(cluster: string) {
    this.cluster = checkId(cluster, "cluster name");
    this.prefix = `paxos.v1.${cluster}`;
  }

  /** Where proposer `proposerId` publishes its prepare, accept, chosen or heartbeat messages. */
  proposer(proposerId: string, kind: ProposerSubjectKind): string {
    return `${this.prefix}.proposer.${checkId(proposerId, "proposer id")}.${kind}`;
  }

  /** Where acceptor `acceptorId` sends a promise to proposer `proposerId`. */
  promise(acceptorId: string, proposerId: string): string {
    return `${this.#acceptor(acceptorId)}.promise.${checkId(proposerId, "proposer id")}`;
  }

  /** Where acceptor `acceptorId` sends a nack to proposer `proposerId`. */
  nack(acceptorId: string, proposerId: string): string {
    return `${this.#acceptor(acceptorId)}.nack.${checkId(proposerId, "proposer id")}`;
  }

  /**
   * Where acceptor `acceptorId` announces a vote at a ballot of proposer `proposerId`: to that
   * proposer (which counts it) and to every learner. Other proposers do not subscribe, so a
   * follower decodes nothing of its leader's phase 2.
   */
  accepted(acceptorId: string, proposerId: string): string {
    return `${this.#acceptor(acceptorId)}.accepted.${checkId(proposerId, "proposer id")}`;
  }

  /** Where acceptor `acceptorId` answers learner `learnerId`'s catch-up. */
  catchupReply(acceptorId: string, learnerId: string): string {
    return `${this.#acceptor(acceptorId)}.catchupReply.${checkId(learnerId, "learner id")}`;
  }

  /** Where acceptor `acceptorId` publishes its AcceptorStatus. */
  status(acceptorId: string): string {
    return `${this.#acceptor(acceptorId)}.status`;
  }

  /** Where learner `learnerId` publishes its catch-up requests, chosen answers or DeliveredEvents. */
  learner(learnerId: string, kind: LearnerSubjectKind): string {
    return `${this.prefix}.learner.${checkId(learnerId, "learner id")}.${kind}`;
  }

  /** The request/reply subject on which proposer `proposerId` takes ProposeRequests. */
  propose(proposerId: string): string {
    return `${this.prefix}.propose.${checkId(proposerId, "proposer id")}`;
  }

  /** The request/reply subject every learner answers LearnerQueries on (no queue group). */
  learnersQuery(): string {
    return `${this.prefix}.learners.query`;
  }

  /** Subscription: `kind` messages from every proposer. */
  allProposers(kind: ProposerSubjectKind): string {
    return `${this.prefix}.proposer.*.${kind}`;
  }

  /** Subscription: promises from every acceptor to proposer `proposerId`. */
  promisesTo(proposerId: string): string {
    return `${this.prefix}.acceptor.*.promise.${checkId(proposerId, "proposer id")}`;
  }

  /** Subscription: nacks from every acceptor to proposer `proposerId`. */
  nacksTo(proposerId: string): string {
    return `${this.prefix}.acceptor.*.nack.${checkId(proposerId, "proposer id")}`;
  }

  /** Subscription: votes of every acceptor at ballots of proposer `proposerId`. */
  acceptedFor(proposerId: string): string {
    return `${this.prefix}.acceptor.*.accepted.${checkId(proposerId, "proposer id")}`;
  }

  /** Subscription: every acceptor's votes, at every proposer's ballots. */
  allAccepted(): string {
    return `${this.prefix}.acceptor.*.accepted.*`;
  }

  /** Subscription: catch-up replies from every acceptor to learner `learnerId`. */
  catchupRepliesTo(learnerId: string): string {
    return `${this.prefix}.acceptor.*.catchupReply.${checkId(learnerId, "learner id")}`;
  }

  /** Subscription: every acceptor's status. */
  allStatus(): string {
    return `${this.prefix}.acceptor.*.status`;
  }

  /** Subscription: `kind` messages from every learner. */
  allLearners(kind: LearnerSubjectKind): string {
    return `${this.prefix}.learner.*.${kind}`;
  }

  /**
   * `subject` with its ids replaced by `*`: the subscription that covers every subject of its
   * kind, such as `paxos.v1.<cluster>.acceptor.*.accepted`. Names spans and other things that must
   * not grow with the number of processes (proposer ids change at every start). A subject that is
   * not one of this cluster's gives `"other"`.
   */
  template(subject: string): string {
    const parsed = this.parse(subject);
    if (parsed === null) return "other";
    switch (parsed.publisherRole) {
      case "proposer":
        return this.allProposers(parsed.kind);
      case "learner":
        return this.allLearners(parsed.kind);
      case "acceptor":
        return `${this.prefix}.acceptor.*.${parsed.kind}${parsed.targetId === null ? "" : ".*"}`;
      case "gateway":
        return parsed.kind === "propose" ? `${this.prefix}.propose.*` : this.learnersQuery();
    }
  }

  /**
   * Takes a concrete subject of this cluster apart. Returns null for anything else: another
   * cluster or version, a wildcard, an unknown kind or an id that is not subject-safe.
   */
  parse(subject: string): ParsedSubject | null {
    // Every message's subject is parsed at least once, and a cluster has few distinct ones: the
    // answers are kept (at most PARSED_SUBJECTS_MAX, forgotten all at once when full, so that
    // subjects made up by a sender cannot grow it).
    const known = this.#parsed.get(subject);
    if (known !== undefined) return known;
    if (this.#parsed.size >= PARSED_SUBJECTS_MAX) this.#parsed.clear();
    const parsed = this.#parse(subject);
    this.#parsed.set(subject, parsed === null ? null : Object.freeze(parsed));
    return parsed;
  }

  #parse(subject: string): ParsedSubject | null {
    if (!subject.startsWith(`${this.prefix}.`)) return null;
    const tokens = subject.slice(this.prefix.length + 1).split(".");
    const [scope, first, second, third] = tokens;
    if (scope === undefined || first === undefined) return null;
    switch (scope) {
      case "proposer":
        if (tokens.length !== 3 || second === undefined || !isValidId(first) || !PROPOSER_KINDS.has(second)) {
          return null;
        }
        return {
          publisherRole: "proposer",
          publisherId: first,
          kind: second as ProposerSubjectKind,
          targetId: null,
        };
      case "learner":
        if (tokens.length !== 3 || second === undefined || !isValidId(first) || !LEARNER_KINDS.has(second)) {
          return null;
        }
        return { publisherRole: "learner", publisherId: first, kind: second as LearnerSubjectKind, targetId: null };
      case "acceptor":
        if (!isValidId(first)) return null;
        if (tokens.length === 3 && second === "status") {
          return { publisherRole: "acceptor", publisherId: first, kind: second, targetId: null };
        }
        if (
          tokens.length === 4 &&
          (second === "promise" || second === "nack" || second === "accepted" || second === "catchupReply") &&
          third !== undefined &&
          isValidId(third)
        ) {
          return { publisherRole: "acceptor", publisherId: first, kind: second, targetId: third };
        }
        return null;
      case "propose":
        if (tokens.length !== 2 || !isValidId(first)) return null;
        return { publisherRole: "gateway", publisherId: null, kind: "propose", targetId: first };
      case "learners":
        if (tokens.length !== 2 || first !== "query") return null;
        return { publisherRole: "gateway", publisherId: null, kind: "learnersQuery", targetId: null };
      default:
        return null;
    }
  }

  #acceptor(acceptorId: string): string {
    return `${this.prefix}.acceptor.${checkId(acceptorId, "acceptor id")}`;
  }
}
