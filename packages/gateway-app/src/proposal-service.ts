import { trace } from "@opentelemetry/api";
import { compareBallots, type JsonValue, requestBytes } from "@paxos/core";
import type { Logger } from "pino";
import type { ClusterPort, DeliveryEvent, LogEntryView, ProposeResult } from "./cluster-port.ts";
import type { DeliveryWaiter, DeliveryWaiters } from "./delivery-waiters.ts";
import type { GatewayLimits } from "./gateway-limits.ts";
import type { GatewayMetrics } from "./gateway-metrics.ts";
import type { KnownLeader, LeaderTracker } from "./leader-tracker.ts";
import { HttpProblem } from "./problem.ts";
import { sameJson } from "./same-json.ts";

/** One validated proposal. */
export interface Proposal {
  /**
   * The id the log knows the request by: random for a request without an Idempotency-Key, else
   * derived from the client and its key (`scopedRequestId`), so that keys never cross clients.
   */
  readonly requestId: string;
  readonly value: JsonValue;
  /** The client's Idempotency-Key, or null. Answers show it in place of the derived request id. */
  readonly idempotencyKey: string | null;
}

/** The request id answers show the client: its own Idempotency-Key when it sent one. */
export function shownRequestId(proposal: Proposal): string {
  return proposal.idempotencyKey ?? proposal.requestId;
}

/** How a proposal ended well: decided now (`replayed` false) or decided before (true). */
export interface ProposalResult {
  readonly replayed: boolean;
  readonly entry: LogEntryView;
}

/**
 * What the proposers did with a request by the time the send loop stopped. `mayBeQueued` is false
 * only while every propose request got a sure refusal (or none was sent): only then is a 503,
 * which says the request is not queued anywhere, true. `lastRefusal` says why, for the 503.
 */
interface SendOutcome {
  readonly mayBeQueued: boolean;
  readonly lastRefusal: string;
}

/** A "notLeader" answer's hint: `from` named `proposerId` as the leader. */
interface Hint {
  readonly proposerId: string;
  readonly from: string;
}

/**
 * A request some proposer queued: `holder`, and the leader the heartbeats named at that moment if
 * it is the one whose hint led to the holder (it vouched that the holder leads).
 */
interface Held {
  readonly holder: string;
  /** The holder's ballot as heartbeats told it when it took the request, when they named it. */
  readonly holderBallot: KnownLeader["ballot"] | null;
  readonly vouchedBy: KnownLeader | null;
}

/**
 * Whether the heartbeats' `leader` means that leadership moved away from the holder (who may have
 * crashed with the request, so it must be sent again): another proposer than the holder, unless
 * it is the one that vouched for the holder, still at the same ballot.
 */
function leadershipMoved(held: Held): (leader: KnownLeader) => boolean {
  const { holder, holderBallot, vouchedBy } = held;
  return (leader) => {
    // The holder leads again at a higher ballot: it stepped down in between, dropping what it held.
    if (leader.proposerId === holder) return holderBallot !== null && compareBallots(leader.ballot, holderBallot) > 0;
    return (
      vouchedBy === null ||
      leader.proposerId !== vouchedBy.proposerId ||
      compareBallots(leader.ballot, vouchedBy.ballot) > 0
    );
  };
}

/**
 * Runs one proposal from a validated request to its decided entry: refuses a key already in
 * flight here (409), answers a keyed request decided before from the learners (200, or 422 for
 * another value), sends the request to the leader following "notLeader" hints, and waits for the
 * learners' delivery. Every wait is bounded by `proposalTimeoutMs`, and within it the gateway
 * rides through a leader failover: refusals, timeouts and an unknown leader are retried with
 * bounded, jittered backoff until the deadline. Failures are HttpProblems: 503 when no proposer
 * took the request (it is then certainly not queued), 504 when one may have and no delivery came
 * in time. Retries resend the same request id, which learners deliver once.
 */
export class ProposalService {
  readonly #cluster: ClusterPort;
  readonly #waiters: DeliveryWaiters;
  readonly #leaders: LeaderTracker;
  readonly #limits: GatewayLimits;
  readonly #metrics: GatewayMetrics;
  readonly #logger: Logger;
  readonly #random: () => number;
  readonly #inflight = new Set<string>();
  #inflightBytes = 0;
  /** Cancels each proposal waiting now (see `close`). */
  readonly #cancels = new Set<() => void>();
  #closed = false;

  constructor(options: {
    readonly cluster: ClusterPort;
    readonly waiters: DeliveryWaiters;
    readonly leaders: LeaderTracker;
    readonly limits: GatewayLimits;
    readonly metrics: GatewayMetrics;
    readonly logger: Logger;
    /** Uniform in [0, 1), for the backoff's jitter; `Math.random` when absent. */
    readonly random?: () => number;
  }) {
    this.#cluster = options.cluster;
    this.#waiters = options.waiters;
    this.#leaders = options.leaders;
    this.#limits = options.limits;
    this.#metrics = options.metrics;
    this.#logger = options.logger;
    this.#random = options.random ?? Math.random;
  }

  /**
   * Stops every wait: proposals in flight end at once (503 when no proposer took them, else 504),
   * and later ones are refused with 503.
   */
  close(): void {
    this.#closed = true;
    for (const cancel of [...this.#cancels]) cancel();
  }

  /** Proposals this gateway is waiting on now. */
  get inflight(): number {
    return this.#inflight.size;
  }

  /**
   * Proposes `proposal` and resolves once it is decided, or throws an HttpProblem. `gone` aborts
   * the waiting when the client goes away (the proposal itself may still be decided).
   */
  async submit(proposal: Proposal, gone: AbortSignal): Promise<ProposalResult> {
    const { requestId } = proposal;
    const extensions = { requestId: shownRequestId(proposal) };
    if (this.#closed) {
      this.#metrics.proposals.inc({ outcome: "unavailable" });
      throw this.#unavailable("The gateway is stopping", proposal);
    }
    const bytes = requestBytes({ id: requestId, payload: proposal.value });
    if (bytes > this.#limits.requestBytesMax) {
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
      throw this.#unavailable("The gateway is waiting on too many proposals", proposal);
    }
    if (this.#inflightBytes + bytes > this.#limits.inflightProposalBytesMax) {
      this.#metrics.proposals.inc({ outcome: "unavailable" });
      throw this.#unavailable("The gateway is waiting on too many bytes of proposals", proposal);
    }
    // Marked in flight before the first await, so two concurrent requests cannot both pass.
    this.#inflight.add(requestId);
    this.#inflightBytes += bytes;
    try {
      const result = await this.#run(proposal, gone);
      this.#metrics.proposals.inc({ outcome: result.replayed ? "replayed" : "created" });
      return result;
    } catch (error) {
      if (error instanceof HttpProblem) {
        this.#metrics.proposals.inc({ outcome: outcomeOf(error) });
      }
      throw error;
    } finally {
      this.#inflight.delete(requestId);
      this.#inflightBytes -= bytes;
    }
  }

  async #run(proposal: Proposal, gone: AbortSignal): Promise<ProposalResult> {
    const deadlineMs = Date.now() + this.#limits.proposalTimeoutMs;
    const { requestId } = proposal;
    if (proposal.idempotencyKey !== null) {
      // A key decided before (perhaps through another gateway, or before a restart) is answered
      // from the log without proposing again.
      const found = await this.#cluster.lookup(requestId);
      if (found.result !== null) return this.#compare(proposal, found.result, true);
    }
    const waiter = this.#waiters.register(requestId);
    // Every wait of the send loop ends at once on the delivery, when the client goes away or when
    // the service closes. One controller with a reason of our own for all three: abort() without
    // one builds a DOMException with its stack, and AbortSignal.any cost 3 % of the gateway's CPU.
    const stop = new AbortController();
    const cancel = (): void => stop.abort(CANCELLED);
    void waiter.first.then(() => stop.abort(DELIVERED));
    gone.addEventListener("abort", cancel, { once: true });
    this.#cancels.add(cancel);
    // Gone, or closed, while the idempotency lookup above ran.
    if (gone.aborted || this.#closed) cancel();
    try {
      const sent = await this.#send(proposal, waiter, deadlineMs, stop.signal);
      const event = waiter.settled() ? await waiter.first : null;
      if (event !== null) return await this.#settle(proposal, event);
      // Not delivered, so an aborted stop means cancelled.
      const cancelled = stop.signal.aborted;
      if (!sent.mayBeQueued) {
        const why = cancelled ? "the client went away or the gateway is stopping" : sent.lastRefusal;
        throw this.#unavailable(`No proposer took the proposal: ${why}`, proposal);
      }
      if (cancelled) {
        throw new HttpProblem("outcomeUnknown", "Stopped waiting: the client went away or the gateway is stopping", {
          extensions: { requestId: shownRequestId(proposal) },
        });
      }
      throw new HttpProblem(
        "outcomeUnknown",
        "The proposal was sent but not decided in time; it may still be decided. Retry with the same Idempotency-Key to learn the outcome.",
        { extensions: { requestId: shownRequestId(proposal) } },
      );
    } finally {
      waiter.cancel();
      gone.removeEventListener("abort", cancel);
      this.#cancels.delete(cancel);
    }
  }

  /**
   * Sends the request until its delivery comes, the deadline passes or `stop` aborts (on the
   * delivery, or when the proposal is cancelled; it ends any wait at once). While no proposer holds
   * it, every refusal ("notLeader", "overloaded", no responders, a timed-out reply) is retried after
   * a backoff pause, and while no leader is known (nor hinted) the first heartbeat is waited for. A
   * new leader hint is followed at once, but at most once between two pauses, so two proposers
   * pointing at each other cannot spin. Once a proposer queued it, waits for the delivery, and sends
   * it again when the heartbeats name another leader (the holder may have crashed with it). At most
   * `proposeAttemptsMax` requests in all, and none with less than `proposeReplyMinMs` left. Throws
   * 413 when the leader finds it too large.
   */
  async #send(proposal: Proposal, waiter: DeliveryWaiter, deadlineMs: number, stop: AbortSignal): Promise<SendOutcome> {
    const stopped = (): boolean => waiter.settled() || stop.aborted || Date.now() >= deadlineMs;
    let attempts = 0;
    let refusals = 0;
    // The last leader hint not yet followed, from the proposer that refused with it.
    let hint: Hint | null = null;
    let hopNow = false;
    let hoppedSincePause = false;
    let held: Held | null = null;
    let mayBeQueued = false;
    let lastRefusal = "no leader is known";
    while (!stopped()) {
      // Whom to ask, and who named it as the leader (when it is asked on a hint).
      let target: { readonly proposerId: string; readonly from: string | null };
      if (held !== null) {
        const moved = leadershipMoved(held);
        const leader = await this.#leaders.waitForLeader(deadlineMs - Date.now(), stop, moved);
        if (stopped() || leader === null || !moved(leader)) continue;
        this.#logger.debug(
          { requestId: proposal.requestId, leader: leader.proposerId },
          "leader changed: proposing again",
        );
        trace.getActiveSpan()?.addEvent("leader changed", { "paxos.leader.id": leader.proposerId });
        target = { proposerId: leader.proposerId, from: null };
        held = null;
      } else {
        // Heartbeats are fresher than a refusing proposer's idea of the leader, except right after
        // the refusal named one: that hint is tried at once, and later when no leader is heard.
        const tracked = this.#leaders.leader()?.proposerId ?? null;
        if (hint !== null && (hopNow || tracked === null || tracked === hint.proposerId)) {
          target = hint;
          hint = null;
        } else if (tracked !== null) {
          target = { proposerId: tracked, from: null };
        } else {
          lastRefusal = "no leader is known";
          const heard = await this.#leaders.waitForLeader(deadlineMs - Date.now(), stop);
          if (heard === null || stopped()) continue;
          target = { proposerId: heard.proposerId, from: null };
        }
        hopNow = false;
      }
      const proposerId: string = target.proposerId;
      if (deadlineMs - Date.now() < this.#limits.proposeReplyMinMs) {
        // Too late for an answer to come back: wait out the deadline (a delivery may still come).
        await sleep(deadlineMs - Date.now(), stop);
        break;
      }
      if (attempts >= this.#limits.proposeAttemptsMax) {
        lastRefusal = `all ${attempts} propose requests were refused`;
        // A proposer may hold it: its delivery can still come before the deadline.
        if (mayBeQueued) await sleep(deadlineMs - Date.now(), stop);
        break;
      }
      attempts++;
      const result: ProposeResult | null = await unlessStopped(
        this.#proposeOnce(proposal, proposerId, deadlineMs),
        stop,
      );
      if (result === null) {
        // Cut short by the delivery or the client; in the second case the proposer may hold it.
        mayBeQueued = true;
        continue;
      }
      switch (result.status) {
        case "queued": {
          const tracked = this.#leaders.leader();
          held = {
            holder: proposerId,
            holderBallot: tracked !== null && tracked.proposerId === proposerId ? tracked.ballot : null,
            vouchedBy: tracked !== null && tracked.proposerId === target.from ? tracked : null,
          };
          mayBeQueued = true;
          refusals = 0;
          hint = null;
          continue;
        }
        case "tooLarge":
          throw new HttpProblem("payloadTooLarge", "The leader refused the proposal as too large");
        case "closed":
          lastRefusal = "the gateway is shutting down";
          return { mayBeQueued, lastRefusal };
        case "notLeader":
          lastRefusal = `${proposerId} is not the leader`;
          if (result.leaderHint !== null && result.leaderHint !== proposerId) {
            hint = { proposerId: result.leaderHint, from: proposerId };
            hopNow = !hoppedSincePause;
          }
          break;
        case "overloaded":
          lastRefusal = `${proposerId} is overloaded`;
          break;
        case "noResponders":
          lastRefusal = `${proposerId} is not reachable`;
          break;
        case "timeout":
          // The proposer may hold the request and only the reply was lost: from now on the
          // outcome is unknown rather than refused.
          mayBeQueued = true;
          lastRefusal = `${proposerId} did not answer`;
          break;
      }
      if (hopNow) {
        hoppedSincePause = true;
        continue;
      }
      await sleep(Math.min(this.#backoffMs(refusals), deadlineMs - Date.now()), stop);
      refusals++;
      hoppedSincePause = false;
    }
    return { mayBeQueued, lastRefusal };
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
        extensions: { requestId: shownRequestId(proposal), index: event.index },
      });
    }
    // Without a client key nobody can have proposed this id before: this is our own first decision.
    return this.#compare(proposal, entry, proposal.idempotencyKey !== null);
  }

  /** Same value: the entry (replayed or not); another value under the same key: 422. */
  #compare(proposal: Proposal, entry: LogEntryView, replayed: boolean): ProposalResult {
    if (!sameJson(entry.value, proposal.value)) {
      throw new HttpProblem(
        "idempotencyKeyReused",
        `This Idempotency-Key was decided at index ${entry.index} with a different value`,
        { extensions: { requestId: shownRequestId(proposal), index: entry.index } },
      );
    }
    return { replayed, entry };
  }

  /** One propose request, its wait cut to what is left before the deadline, counted by reply. */
  async #proposeOnce(proposal: Proposal, proposerId: string, deadlineMs: number): Promise<ProposeResult> {
    const timeoutMs = Math.max(1, Math.min(this.#limits.proposeRequestTimeoutMs, deadlineMs - Date.now()));
    const result = await this.#cluster.propose(proposerId, proposal.requestId, proposal.value, timeoutMs);
    this.#metrics.proposeAttempts.inc({ reply: result.status });
    // Each attempt is an event of the request's HTTP span: retries, redirects and timeouts show.
    const span = trace.getActiveSpan();
    span?.setAttribute("paxos.request.id", proposal.requestId);
    span?.addEvent("propose attempt", { "paxos.proposer.id": proposerId, "paxos.propose.reply": result.status });
    return result;
  }

  /**
   * The pause after `refusals` + 1 refusals in a row: `proposeBackoffMsMin` doubled per refusal up
   * to `proposeBackoffMsMax`, drawn in [half, all] of that so that gateways retrying together
   * spread out, yet never below half (which is what bounds the attempts, see `gatewayLimits`).
   */
  #backoffMs(refusals: number): number {
    const { proposeBackoffMsMin, proposeBackoffMsMax } = this.#limits;
    const nominalMs = Math.min(proposeBackoffMsMax, proposeBackoffMsMin * 2 ** Math.min(refusals, 30));
    return nominalMs / 2 + (this.#random() * nominalMs) / 2;
  }

  #unavailable(detail: string, proposal: Proposal): HttpProblem {
    return new HttpProblem("unavailable", detail, {
      headers: { "Retry-After": String(this.#limits.retryAfterSeconds) },
      extensions: { requestId: shownRequestId(proposal) },
    });
  }
}

/** Why a proposal's waits end: not errors, so no stack is captured. */
const DELIVERED = Symbol("delivered");
const CANCELLED = Symbol("cancelled");

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

/** `promise`'s value, or null as soon as `signal` aborts (the promise then runs on unwatched). */
function unlessStopped<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | null> {
  if (signal.aborted) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => resolve(null);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
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
