import { DEFAULT_LIMITS, type Limits, MESSAGE_OVERHEAD_BYTES, requestBytes } from "@paxos/core";
import { type Bus, BusError } from "./bus.ts";
import { proposeBatch } from "./service-api.ts";
import type { ProposeReply, ProposeRequest } from "./service-messages.ts";
import type { Subjects } from "./subjects.ts";

/** What a ProposeBatcher needs. */
export interface ProposeBatcherOptions {
  readonly bus: Bus;
  readonly subjects: Subjects;
  /** The protocol limits of the cluster: a batch holds at most `batchRequestsMax` proposals. */
  readonly limits?: Limits;
}

/** One proposal waiting for its batch to be sent. */
interface Waiting {
  readonly request: ProposeRequest;
  readonly bytes: number;
  readonly timeoutMs: number;
  readonly resolve: (reply: ProposeReply) => void;
  readonly reject: (error: unknown) => void;
}

/** The JSON around one proposal in a batch (`{"requestId":…,"payload":…},`), beyond requestBytes. */
const PROPOSAL_OVERHEAD_BYTES = 32;

/**
 * Gathers the proposals made in one turn of the event loop into one ProposeBatch per proposer:
 * a gateway under load then sends one NATS request, and the leader answers one, per turn instead
 * of per value (issue 11: per-value requests were a sixth of the gateway's CPU, and their
 * replies a quarter of the leader's). A batch is sent at the end of the turn (`setImmediate`), or
 * at once when the next proposal would take it past `batchRequestsMax` proposals or
 * `messageBytesMax`. Each proposal gets its own reply, or the batch's failure (BusError or
 * ServiceError, as `proposeBatch` rejects); each waits at most its own `timeoutMs` (a shorter
 * one than its batch's fails alone with BusError("timeout")).
 */
export class ProposeBatcher {
  readonly #bus: Bus;
  readonly #subjects: Subjects;
  readonly #limits: Limits;
  readonly #waiting = new Map<string, { proposals: Waiting[]; bytes: number }>();
  #scheduled = false;

  constructor(options: ProposeBatcherOptions) {
    this.#bus = options.bus;
    this.#subjects = options.subjects;
    this.#limits = options.limits ?? DEFAULT_LIMITS;
  }

  /** Proposes `request` to `proposerId` in the next batch for it; resolves with its reply. */
  propose(proposerId: string, request: ProposeRequest, timeoutMs: number): Promise<ProposeReply> {
    return new Promise((resolve, reject) => {
      const bytes = requestBytes({ id: request.requestId, payload: request.payload }) + PROPOSAL_OVERHEAD_BYTES;
      let queue = this.#waiting.get(proposerId);
      if (
        queue !== undefined &&
        (queue.proposals.length >= this.#limits.batchRequestsMax ||
          queue.bytes + bytes > this.#limits.messageBytesMax - MESSAGE_OVERHEAD_BYTES)
      ) {
        this.#send(proposerId, queue.proposals);
        queue = undefined;
      }
      if (queue === undefined) {
        queue = { proposals: [], bytes: 0 };
        this.#waiting.set(proposerId, queue);
      }
      queue.proposals.push({ request, bytes, timeoutMs, resolve, reject });
      queue.bytes += bytes;
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#scheduled = false;
    const waiting = [...this.#waiting];
    this.#waiting.clear();
    for (const [proposerId, queue] of waiting) this.#send(proposerId, queue.proposals);
  }

  #send(proposerId: string, batch: readonly Waiting[]): void {
    this.#waiting.delete(proposerId);
    const timeoutMs = Math.max(...batch.map((w) => w.timeoutMs));
    const timers = batch.map((w) =>
      w.timeoutMs < timeoutMs
        ? setTimeout(
            () => w.reject(new BusError("timeout", `no answer from proposer ${proposerId} within ${w.timeoutMs} ms`)),
            w.timeoutMs,
          )
        : undefined,
    );
    const settled = (): void => timers.forEach((timer) => clearTimeout(timer));
    proposeBatch(
      this.#bus,
      this.#subjects,
      proposerId,
      batch.map((w) => w.request),
      timeoutMs,
      undefined,
      this.#limits,
    ).then(
      (replies) => {
        settled();
        batch.forEach((w, i) => {
          const reply = replies[i];
          if (reply !== undefined) w.resolve(reply);
        });
      },
      (error: unknown) => {
        settled();
        for (const w of batch) w.reject(error);
      },
    );
  }
}
