import { type JsonValue, requestBytes } from "@paxos/core";
import type { Logger } from "pino";
import type { ClusterPort, DeliveryEvent, LogEntryView } from "./cluster-port.ts";
import type { DeliveryWaiter, DeliveryWaiters } from "./delivery-waiters.ts";
import type { GatewayLimits } from "./gateway-limits.ts";
import type { GatewayMetrics } from "./gateway-metrics.ts";
import type { LeaderTracker } from "./leader-tracker.ts";
import { HttpProblem } from "./problem.ts";
import { sameJson } from "./same-json.ts";

/** One validated proposal. `keyed`: the request id is the client's Idempotency-Key. */
export interface Proposal {
  readonly requestId: string;
  readonly value: JsonValue;
  readonly keyed: boolean;
}

/** How a proposal ended well: decided now (`replayed` false) or decided before (true). */
export interface ProposalResult {
  readonly replayed: boolean;
  readonly entry: LogEntryView;
}

/**
 * What the send loop learned: a proposer holds the request, one may (its reply timed out), or the
 * delivery came already.
 */
type SendOutcome =
  | { readonly kind: "queued"; readonly proposerId: string }
  | { readonly kind: "maybeQueued"; readonly proposerId: string }
  | { readonly kind: "delivered" };

/**
 * Runs one proposal from a validated request to its decided entry: refuses a key already in
 * flight here (409), answers a keyed request decided before from the learners (200, or 422 for
 * another value), sends the request to the leader following "notLeader" hints, and waits for the
 * learners' delivery. Every wait is bounded by `proposalTimeoutMs`. Failures are HttpProblems:
 * 503 when no proposer took the request (it is then certainly not queued), 504 when one may have
 * and no delivery came in time. Retries resend the same request id, which learners deliver once.
 */
export class ProposalService {
  readonly #cluster: ClusterPort;
  readonly #waiters: DeliveryWaiters;
  readonly #leaders: LeaderTracker;
  readonly #limits: GatewayLimits;
  readonly #metrics: GatewayMetrics;
  readonly #logger: Logger;
  readonly #inflight = new Set<string>();

  constructor(options: {
    readonly cluster: ClusterPort;
    readonly waiters: DeliveryWaiters;
    readonly leaders: LeaderTracker;
    readonly limits: GatewayLimits;
    readonly metrics: GatewayMetrics;
    readonly logger: Logger;
  }) {
    this.#cluster = options.cluster;
    this.#waiters = options.waiters;
    this.#leaders = options.leaders;
    this.#limits = options.limits;
    this.#metrics = options.metrics;
    this.#logger = options.logger;
  }

  /** Proposals this gateway is waiting on now. */
  get inflight(): number {
    return this.#inflight.size;
  }

  /**
   * Proposes `proposal` and resolves once it is decided, or throws an HttpProblem. `signal` aborts
   * the waiting when the client goes away (the proposal itself may still be decided).
   */
  async submit(proposal: Proposal, signal: AbortSignal): Promise<ProposalResult> {
    const { requestId } = proposal;
    const extensions = { requestId };
    if (requestBytes({ id: requestId, payload: proposal.value }) > this.#limits.requestBytesMax) {
      this.#metrics.proposals.inc({ outcome: "tooLarge" });
      throw new HttpProblem("payloadTooLarge", `The proposal exceeds ${this.#limits.requestBytesMax} bytes`);
    }
    if (this.#inflight.has(requestId)) {
      this.#metrics.proposals.inc({ outcome: "inFlight" });
      throw new HttpProblem("idempotencyKeyInFlight", "A request with this Idempotency-Key is still being decided", {
        extensions,
      });
    }
    if (this.#inflight.size >= this.#limits.inflightProposalsMax) {
      this.#metrics.proposals.inc({ outcome: "unavailable" });
      throw this.#unavailable("The gateway is waiting on too many proposals", requestId);
    }
    // Marked in flight before the first await, so two concurrent requests cannot both pass.
    this.#inflight.add(requestId);
    try {
      const result = await this.#run(proposal, signal);
      this.#metrics.proposals.inc({ outcome: result.replayed ? "replayed" : "created" });
      return result;
    } catch (error) {
      if (error instanceof HttpProblem) {
        this.#metrics.proposals.inc({ outcome: outcomeOf(error) });
      }
      throw error;
    } finally {
      this.#inflight.delete(requestId);
    }
  }

  async #run(proposal: Proposal, signal: AbortSignal): Promise<ProposalResult> {
    const deadlineMs = Date.now() + this.#limits.proposalTimeoutMs;
    if (proposal.keyed) {
      // A key decided before (perhaps through another gateway, or before a restart) is answered
      // from the log without proposing again.
      const found = await this.#cluster.lookup(proposal.requestId);
      if (found.result !== null) return this.#compare(proposal, found.result, true);
    }
    const waiter = this.#waiters.register(proposal.requestId);
    try {
      const sent = await this.#send(proposal, waiter, deadlineMs, signal);
      if (sent.kind !== "delivered") await this.#awaitDelivery(proposal, sent.proposerId, waiter, deadlineMs, signal);
      const event = waiter.settled() ? await waiter.first : null;
      if (event === null) {
        if (signal.aborted) {
          throw new HttpProblem("outcomeUnknown", "Stopped waiting: the client went away or the gateway is stopping", {
            extensions: { requestId: proposal.requestId },
          });
        }
        throw new HttpProblem(
          "outcomeUnknown",
          "The proposal was sent but not decided in time; it may still be decided. Retry with the same Idempotency-Key to learn the outcome.",
          { extensions: { requestId: proposal.requestId } },
        );
      }
      return await this.#settle(proposal, event);
    } finally {
      waiter.cancel();
    }
  }

  /**
   * Sends the request until a proposer queues it, following hints and waiting for a leader.
   * Throws 503 when every attempt was refused for sure, 413 when the leader finds it too large.
   */
  async #send(
    proposal: Proposal,
    waiter: DeliveryWaiter,
    deadlineMs: number,
    signal: AbortSignal,
  ): Promise<SendOutcome> {
    let hint: string | null = null;
    let maybeQueuedAt: string | null = null;
    let lastRefusal = "no leader is known";
    for (let attempt = 0; attempt < this.#limits.proposeAttemptsMax; attempt++) {
      if (waiter.settled()) return { kind: "delivered" };
      const remainingMs = deadlineMs - Date.now();
      if (remainingMs <= 0 || signal.aborted) break;
      const proposerId: string | null =
        hint ??
        (await this.#leaders.waitForLeader(Math.min(this.#limits.leaderWaitMs, remainingMs), signal))?.proposerId ??
        null;
      hint = null;
      if (proposerId === null) {
        lastRefusal = "no leader is known";
        break;
      }
      const result = await this.#cluster.propose(
        proposerId,
        proposal.requestId,
        proposal.value,
        Math.max(1, Math.min(this.#limits.proposeRequestTimeoutMs, deadlineMs - Date.now())),
      );
      this.#metrics.proposeAttempts.inc({ reply: result.status });
      switch (result.status) {
        case "queued":
          return { kind: "queued", proposerId };
        case "tooLarge":
          throw new HttpProblem("payloadTooLarge", "The leader refused the proposal as too large");
        case "overloaded":
        case "closed":
          // After a timed-out attempt the request may be queued already: then a 503 (which
          // says it is not) would be wrong, and the answer is to wait for its outcome.
          if (maybeQueuedAt !== null) return { kind: "maybeQueued", proposerId: maybeQueuedAt };
          throw this.#unavailable(
            result.status === "overloaded" ? "The leader is overloaded" : "The gateway is shutting down",
            proposal.requestId,
          );
        case "notLeader":
          lastRefusal = `${proposerId} is not the leader`;
          if (result.leaderHint !== null && result.leaderHint !== proposerId) {
            hint = result.leaderHint;
            continue;
          }
          break;
        case "noResponders":
          lastRefusal = `${proposerId} is not reachable`;
          break;
        case "timeout":
          // The proposer may hold the request and only the reply was lost: from now on the
          // outcome is unknown rather than refused.
          maybeQueuedAt = proposerId;
          lastRefusal = `${proposerId} did not answer`;
          break;
      }
      await sleep(Math.min(this.#limits.proposeRetryBackoffMs, Math.max(0, deadlineMs - Date.now())), signal);
    }
    if (waiter.settled()) return { kind: "delivered" };
    if (maybeQueuedAt !== null) return { kind: "maybeQueued", proposerId: maybeQueuedAt };
    if (signal.aborted) lastRefusal = "the client went away or the gateway is stopping";
    throw this.#unavailable(`No proposer took the proposal: ${lastRefusal}`, proposal.requestId);
  }

  /**
   * Waits for the delivery until the deadline. When the leader changes meanwhile (the old one may
   * have crashed with the request queued), sends the request again to the new one.
   */
  async #awaitDelivery(
    proposal: Proposal,
    queuedAt: string,
    waiter: DeliveryWaiter,
    deadlineMs: number,
    signal: AbortSignal,
  ): Promise<void> {
    let sentTo = queuedAt;
    let resends = 0;
    while (!waiter.settled() && !signal.aborted) {
      const remainingMs = deadlineMs - Date.now();
      if (remainingMs <= 0) return;
      await Promise.race([waiter.first, sleep(Math.min(remainingMs, this.#limits.leaderStaleMs / 2), signal)]);
      if (waiter.settled()) return;
      const leader = this.#leaders.leader()?.proposerId ?? null;
      if (leader !== null && leader !== sentTo && resends < this.#limits.proposeAttemptsMax) {
        resends++;
        sentTo = leader;
        this.#logger.debug({ requestId: proposal.requestId, leader }, "leader changed: proposing again");
        const timeoutMs = Math.max(1, Math.min(this.#limits.proposeRequestTimeoutMs, deadlineMs - Date.now()));
        const result = await this.#cluster.propose(leader, proposal.requestId, proposal.value, timeoutMs);
        this.#metrics.proposeAttempts.inc({ reply: result.status });
      }
    }
  }

  /**
   * Turns the first delivery of the request id into the answer. A "delivered" event carries the
   * value that was decided for this id; a "duplicate" carries the index of the first decision,
   * whose value is read back from the learners.
   */
  async #settle(proposal: Proposal, event: DeliveryEvent): Promise<ProposalResult> {
    if (event.kind === "delivered" && event.value !== undefined) {
      return this.#compare(proposal, { index: event.index, value: event.value, requestId: event.requestId }, false);
    }
    const atIndex = await this.#cluster.readEntry(event.index);
    const entry =
      atIndex.result !== null && atIndex.result.requestId === proposal.requestId
        ? atIndex.result
        : (await this.#cluster.lookup(proposal.requestId)).result;
    if (entry === null) {
      throw new HttpProblem("outcomeUnknown", "The proposal was decided but its entry could not be read back in time", {
        extensions: { requestId: proposal.requestId, index: event.index },
      });
    }
    // Without a client key nobody can have proposed this id before: this is our own first decision.
    return this.#compare(proposal, entry, proposal.keyed);
  }

  /** Same value: the entry (replayed or not); another value under the same key: 422. */
  #compare(proposal: Proposal, entry: LogEntryView, replayed: boolean): ProposalResult {
    if (!sameJson(entry.value, proposal.value)) {
      throw new HttpProblem(
        "idempotencyKeyReused",
        `This Idempotency-Key was decided at index ${entry.index} with a different value`,
        { extensions: { requestId: proposal.requestId, index: entry.index } },
      );
    }
    return { replayed, entry };
  }

  #unavailable(detail: string, requestId: string): HttpProblem {
    return new HttpProblem("unavailable", detail, {
      headers: { "Retry-After": String(this.#limits.retryAfterSeconds) },
      extensions: { requestId },
    });
  }
}

function outcomeOf(problem: HttpProblem): string {
  switch (problem.code) {
    case "idempotencyKeyReused":
      return "conflict";
    case "payloadTooLarge":
      return "tooLarge";
    case "outcomeUnknown":
      return "timeout";
    case "unavailable":
      return "unavailable";
    default:
      return "error";
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
