// In-process fakes for the host tests: a Transport that records what a host publishes and lets
// the test deliver messages, and stores whose writes the test can hold back or fail.
import {
  type AcceptorState,
  type AcceptorStore,
  AcceptorStoreError,
  type AcceptorWrite,
  type Endpoint,
  type LearnerStore,
  type Message,
  type SlotValue,
  type Transport,
} from "@paxos/core";
import { MemoryAcceptorStorage, MemoryAcceptorStore } from "@paxos/embedded";
import { createLogger, type Logger } from "@paxos/host";

/** A logger that prints nothing. */
export function silentLogger(): Logger {
  return createLogger("test", "test", "silent");
}

/** A Transport that records publishes and hands messages to the subscribed handler on demand. */
export class FakeTransport implements Transport {
  readonly published: { from: Endpoint; msg: Message }[] = [];
  #handler: ((msg: Message, context: Readonly<Record<string, string>>) => void) | null = null;

  publish(from: Endpoint, msg: Message): void {
    this.published.push({ from, msg });
  }

  subscribe(
    _endpoint: Endpoint,
    handler: (msg: Message, context: Readonly<Record<string, string>>) => void,
  ): { unsubscribe(): void } {
    this.#handler = handler;
    return { unsubscribe: () => (this.#handler = null) };
  }

  /** Delivers `msg` as the bus would. */
  deliver(msg: Message): void {
    if (this.#handler === null) throw new Error("nobody subscribed");
    this.#handler(msg, {});
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** A gate a test opens to let held-back writes finish. */
export class Gate {
  #open = true;
  #waiters: (() => void)[] = [];

  close(): void {
    this.#open = false;
  }

  open(): void {
    this.#open = true;
    for (const resolve of this.#waiters.splice(0)) resolve();
  }

  async pass(): Promise<void> {
    if (this.#open) return;
    await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }
}

/**
 * Acceptor stores over one MemoryAcceptorStorage (the "disk"), whose writes wait at `gate` and
 * fail while `failWrites` is set. `opened` counts the stores opened.
 */
export class ControlledAcceptorStores {
  readonly storage = new MemoryAcceptorStorage();
  readonly gate = new Gate();
  failWrites = false;
  opened = 0;
  writes: AcceptorWrite[] = [];

  create(acceptorId: string, allowInit = true): AcceptorStore {
    const inner = new MemoryAcceptorStore({ cluster: "test", acceptorId, allowInit, storage: this.storage });
    return {
      open: async (): Promise<AcceptorState> => {
        const state = await inner.open();
        this.opened++;
        return state;
      },
      write: async (write: AcceptorWrite): Promise<void> => {
        await this.gate.pass();
        if (this.failWrites) throw new AcceptorStoreError("unavailable", "test: write failed");
        this.writes.push(write);
        await inner.write(write);
      },
      close: () => inner.close(),
    };
  }
}

/** Learner stores over one in-memory list of learned slots, with a gate and a failure switch. */
export class ControlledLearnerStores {
  readonly slots: [number, SlotValue][] = [];
  readonly gate = new Gate();
  failAppends = false;
  created = 0;

  create(): LearnerStore {
    this.created++;
    return {
      load: () => Promise.resolve([...this.slots].sort(([a], [b]) => a - b)),
      append: async (entries): Promise<void> => {
        await this.gate.pass();
        if (this.failAppends) throw new Error("test: append failed");
        for (const { slot, value } of entries) this.slots.push([slot, value]);
      },
      close: () => Promise.resolve(),
    };
  }
}

/** Resolves once `condition()` holds, polling every few ms; rejects after `timeoutMs`. */
export async function until(condition: () => boolean, timeoutMs = 2_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
