import { BusError, subjectMatches, type Bus, type BusMessage, type BusSubscription } from "@paxos/wire";

/** Options of a MemoryBus. */
export interface MemoryBusOptions {
  /**
   * Told when a subscriber's handler throws. The default rethrows it outside the delivery loop,
   * so a broken invariant still reaches the process; handlers are not supposed to throw.
   */
  readonly onHandlerError?: (error: unknown, subject: string) => void;
}

interface Subscriber {
  readonly pattern: string;
  readonly handler: (m: BusMessage) => void;
  readonly queue: string | undefined;
  live: boolean;
}

interface Delivery {
  readonly subscriber: Subscriber;
  readonly message: BusMessage;
}

/** Requests waiting for replies; settled by reply, timeout or close. */
interface PendingRequest {
  readonly onReply: (m: BusMessage) => void;
  readonly onClose: () => void;
}

/** How a request ends: `#exchange` stops listening before it settles the caller's promise. */
interface RequestEnd<T> {
  resolve(value: T): void;
  reject(error: BusError): void;
}

/** What one kind of request does at a reply, at its deadline and when nobody listens. */
interface ExchangeHandlers<T> {
  /** Called with each reply; ends the request through `end`, or leaves it open for more. */
  readonly reply: (m: BusMessage, end: RequestEnd<T>) => void;
  readonly timeout: (end: RequestEnd<T>) => void;
  readonly noResponders: (end: RequestEnd<T>) => void;
}

const INBOX_PREFIX = "_INBOX.memory";

/**
 * The Bus inside one process, with NATS's semantics where the roles can tell: `*` and `>`
 * wildcards, queue groups (each message to one member of each group, round robin), delivery that
 * is always asynchronous (a handler never runs inside `publish`, and each delivery round yields to
 * timers and I/O so that chattering roles cannot starve them), request/reply with timeouts and
 * "noResponders" when nobody subscribes. Messages are copied, so senders may reuse buffers.
 * The embedded cluster runs every role over one MemoryBus.
 */
export class MemoryBus implements Bus {
  readonly #subscribers = new Set<Subscriber>();
  readonly #queueTurns = new Map<string, number>();
  readonly #onHandlerError: (error: unknown, subject: string) => void;
  readonly #pending = new Set<PendingRequest>();
  #deliveries: Delivery[] = [];
  #drainScheduled = false;
  #inboxSequence = 0;
  #closed = false;

  constructor(options: MemoryBusOptions = {}) {
    this.#onHandlerError = options.onHandlerError ?? rethrowLater;
  }

  /** Queues `data` for every matching subscriber. Throws BusError("closed") once closed. */
  publish(subject: string, data: Uint8Array, headers?: Record<string, string>): void {
    this.#checkOpen();
    this.#route(subject, data, headers, null);
  }

  subscribe(subject: string, handler: (m: BusMessage) => void, opts?: { queue?: string }): BusSubscription {
    this.#checkOpen();
    const subscriber: Subscriber = { pattern: subject, handler, queue: opts?.queue, live: true };
    this.#subscribers.add(subscriber);
    return {
      unsubscribe: () => {
        subscriber.live = false;
        this.#subscribers.delete(subscriber);
      },
    };
  }

  request(
    subject: string,
    data: Uint8Array,
    opts: { timeoutMs: number; headers?: Record<string, string> },
  ): Promise<BusMessage> {
    return this.#exchange<BusMessage>(subject, data, opts.headers, opts.timeoutMs, {
      reply: (m, end) => end.resolve(m),
      timeout: (end) =>
        end.reject(new BusError("timeout", `request on ${subject}: no reply within ${opts.timeoutMs} ms`)),
      // NATS answers a request nobody listens to at once, from the server; so do we, asynchronously.
      noResponders: (end) => end.reject(new BusError("noResponders", `request on ${subject}: no responders`)),
    });
  }

  requestMany(
    subject: string,
    data: Uint8Array,
    opts: { maxWaitMs: number; maxReplies?: number; headers?: Record<string, string> },
  ): Promise<BusMessage[]> {
    const replies: BusMessage[] = [];
    return this.#exchange<BusMessage[]>(subject, data, opts.headers, opts.maxWaitMs, {
      reply: (m, end) => {
        replies.push(m);
        if (opts.maxReplies !== undefined && replies.length >= opts.maxReplies) end.resolve(replies);
      },
      timeout: (end) => end.resolve(replies),
      // As over NATS, nobody listening is known at once: the answer is no replies.
      noResponders: (end) => end.resolve(replies),
    });
  }

  /** Resolves once every message published before the call has been handed to its subscribers. */
  flush(): Promise<void> {
    if (this.#closed) return Promise.reject(new BusError("closed", "the bus is closed"));
    // setImmediate callbacks run in order, so this runs after the drain already scheduled.
    return new Promise((resolve) => setImmediate(resolve));
  }

  /**
   * Delivers what was published before the call, then closes: subscriptions end, and pending
   * requests reject with BusError("closed"). Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush();
    this.#closed = true;
    for (const subscriber of this.#subscribers) subscriber.live = false;
    this.#subscribers.clear();
    this.#deliveries = [];
    for (const pending of [...this.#pending]) pending.onClose();
  }

  /** Queues one message for delivery; returns how many subscribers will get it. */
  #route(
    subject: string,
    data: Uint8Array,
    headers: Record<string, string> | undefined,
    replyTo: string | null,
  ): number {
    const message = this.#message(subject, data, headers, replyTo);
    const groups = new Map<string, Subscriber[]>();
    let count = 0;
    for (const subscriber of this.#subscribers) {
      if (!subjectMatches(subscriber.pattern, subject)) continue;
      if (subscriber.queue === undefined) {
        this.#deliveries.push({ subscriber, message });
        count++;
      } else {
        const members = groups.get(subscriber.queue) ?? [];
        members.push(subscriber);
        groups.set(subscriber.queue, members);
      }
    }
    for (const [queue, members] of groups) {
      const turn = this.#queueTurns.get(queue) ?? 0;
      this.#queueTurns.set(queue, turn + 1);
      const subscriber = members[turn % members.length];
      if (subscriber !== undefined) {
        this.#deliveries.push({ subscriber, message });
        count++;
      }
    }
    if (count > 0) this.#scheduleDrain();
    return count;
  }

  #message(
    subject: string,
    data: Uint8Array,
    headers: Record<string, string> | undefined,
    replyTo: string | null,
  ): BusMessage {
    return {
      subject,
      data: data.slice(),
      headers: Object.freeze({ ...headers }),
      respond: (replyData, replyHeaders) => {
        if (replyTo === null || this.#closed) return false;
        this.#route(replyTo, replyData, replyHeaders, null);
        return true;
      },
    };
  }

  /**
   * Sends a request from a fresh inbox and settles it through `on`: at each reply, after `waitMs`,
   * or (asynchronously) when nobody listens. A close of the bus rejects it with BusError("closed").
   * Once settled, the inbox is gone and later replies are dropped.
   */
  #exchange<T>(
    subject: string,
    data: Uint8Array,
    headers: Record<string, string> | undefined,
    waitMs: number,
    on: ExchangeHandlers<T>,
  ): Promise<T> {
    if (this.#closed) return Promise.reject(new BusError("closed", "the bus is closed"));
    return new Promise((resolve, reject) => {
      const end: RequestEnd<T> = {
        resolve: (value) => {
          finish();
          resolve(value);
        },
        reject: (error) => {
          finish();
          reject(error);
        },
      };
      const pending: PendingRequest = {
        onReply: (m) => on.reply(m, end),
        onClose: () => end.reject(new BusError("closed", `request on ${subject}: the bus closed`)),
      };
      const timer = setTimeout(() => on.timeout(end), waitMs);
      const inbox = this.#openInbox(pending);
      const finish = (): void => {
        clearTimeout(timer);
        inbox.unsubscribe();
        this.#pending.delete(pending);
      };
      if (this.#route(subject, data, headers, inbox.subject) === 0) {
        finish();
        setImmediate(() => on.noResponders(end));
      }
    });
  }

  #openInbox(pending: PendingRequest): { subject: string; unsubscribe(): void } {
    const subject = `${INBOX_PREFIX}.${++this.#inboxSequence}`;
    this.#pending.add(pending);
    const subscription = this.subscribe(subject, (m) => pending.onReply(m));
    return { subject, unsubscribe: () => subscription.unsubscribe() };
  }

  #scheduleDrain(): void {
    if (this.#drainScheduled) return;
    this.#drainScheduled = true;
    setImmediate(() => this.#drain());
  }

  /** Delivers the messages queued so far; later ones wait for the next round. */
  #drain(): void {
    this.#drainScheduled = false;
    const deliveries = this.#deliveries;
    this.#deliveries = [];
    for (const { subscriber, message } of deliveries) {
      if (!subscriber.live) continue;
      try {
        subscriber.handler(message);
      } catch (error) {
        this.#onHandlerError(error, message.subject);
      }
    }
  }

  #checkOpen(): void {
    if (this.#closed) throw new BusError("closed", "the bus is closed");
  }
}

function rethrowLater(error: unknown): void {
  setImmediate(() => {
    throw error;
  });
}
