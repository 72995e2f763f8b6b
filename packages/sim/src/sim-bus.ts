import { type Bus, BusError, type BusMessage, type BusSubscription, subjectMatches } from "@paxos/wire";

/** One subscription of one simulated process, as a NATS server would hold it. */
export interface SimSubscription {
  readonly id: number;
  readonly node: number;
  readonly pattern: string;
  readonly handler: (m: BusMessage) => void;
  live: boolean;
}

/**
 * The simulated NATS server: subscriptions by process, matched by NATS subject rules, with a
 * cache of who matches each concrete subject. It routes; `transmit` (the simulator's network)
 * decides what each link loses, duplicates and delays.
 */
export class SimNetwork {
  readonly #subscriptions = new Map<number, SimSubscription>();
  readonly #matching = new Map<string, SimSubscription[]>();
  readonly #transmit: (from: number, to: SimSubscription, subject: string, data: Uint8Array) => void;
  readonly #published: (from: number) => void;
  #nextId = 1;

  /** `transmit` carries one message to one subscription; `published` hears of every publish. */
  constructor(
    transmit: (from: number, to: SimSubscription, subject: string, data: Uint8Array) => void,
    published: (from: number) => void,
  ) {
    this.#transmit = transmit;
    this.#published = published;
  }

  /** Delivers to every live subscription matching `subject`, the publisher's own included (NATS echoes). */
  publish(from: number, subject: string, data: Uint8Array): void {
    this.#published(from);
    let matching = this.#matching.get(subject);
    if (matching === undefined) {
      matching = [...this.#subscriptions.values()].filter((s) => subjectMatches(s.pattern, subject));
      this.#matching.set(subject, matching);
    }
    for (const subscription of matching) this.#transmit(from, subscription, subject, data);
  }

  subscribe(node: number, pattern: string, handler: (m: BusMessage) => void): SimSubscription {
    const subscription: SimSubscription = { id: this.#nextId++, node, pattern, handler, live: true };
    this.#subscriptions.set(subscription.id, subscription);
    this.#matching.clear();
    return subscription;
  }

  unsubscribe(subscription: SimSubscription): void {
    subscription.live = false;
    if (this.#subscriptions.delete(subscription.id)) this.#matching.clear();
  }

  /** Drops every subscription of `node`: its connection went away (a crash). */
  disconnect(node: number): void {
    for (const subscription of [...this.#subscriptions.values()]) {
      if (subscription.node === node) this.unsubscribe(subscription);
    }
  }
}

/**
 * One process's connection to the simulated NATS server: the Bus port that BusTransport runs on
 * in production, so the simulator's messages go through the real codec, its size and depth
 * limits, its schemas and the production subscriptions. Request/reply is not simulated (clients
 * reach proposers directly); `request` fails as a bus without responders would.
 */
export class SimBus implements Bus {
  readonly #network: SimNetwork;
  readonly #node: number;

  constructor(network: SimNetwork, node: number) {
    this.#network = network;
    this.#node = node;
  }

  publish(subject: string, data: Uint8Array): void {
    this.#network.publish(this.#node, subject, data);
  }

  subscribe(subject: string, handler: (m: BusMessage) => void): BusSubscription {
    const subscription = this.#network.subscribe(this.#node, subject, handler);
    return { unsubscribe: () => this.#network.unsubscribe(subscription) };
  }

  request(): Promise<BusMessage> {
    return Promise.reject(new BusError("noResponders", "request/reply is not simulated"));
  }

  requestMany(): Promise<BusMessage[]> {
    return Promise.reject(new BusError("noResponders", "request/reply is not simulated"));
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.#network.disconnect(this.#node);
    return Promise.resolve();
  }
}
