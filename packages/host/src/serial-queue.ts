/**
 * A bounded queue of async tasks run strictly one at a time, in order. Hosts use it so that a
 * role's step, its persistence and its sends finish before the next input is stepped: the
 * acceptor's read-compare-write and the learner's append-then-deliver never interleave across an
 * `await`.
 */
export class SerialQueue {
  readonly #capacity: number;
  readonly #onError: (error: unknown) => void;
  readonly #tasks: (() => Promise<void>)[] = [];
  #running = false;
  #idleWaiters: (() => void)[] = [];

  /**
   * `capacity` bounds the tasks waiting (not counting the one running). `onError` receives what a
   * task throws; the queue then goes on with the next task, so a task that must stop the process
   * has to do so through `onError`.
   */
  constructor(capacity: number, onError: (error: unknown) => void) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError(`bad queue capacity ${capacity}`);
    this.#capacity = capacity;
    this.#onError = onError;
  }

  /** Tasks waiting to run. */
  get length(): number {
    return this.#tasks.length;
  }

  /** True while a task runs or waits. */
  get busy(): boolean {
    return this.#running || this.#tasks.length > 0;
  }

  /** Appends a task. Returns false, and drops the task, when the queue is full. */
  push(task: () => Promise<void>): boolean {
    if (this.#tasks.length >= this.#capacity) return false;
    this.#tasks.push(task);
    if (!this.#running) void this.#run();
    return true;
  }

  /** Drops every waiting task (the running one finishes). Returns how many were dropped. */
  clear(): number {
    return this.#tasks.splice(0).length;
  }

  /** Resolves once no task runs or waits. */
  async drain(): Promise<void> {
    if (!this.busy) return;
    await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
  }

  async #run(): Promise<void> {
    this.#running = true;
    for (let task = this.#tasks.shift(); task !== undefined; task = this.#tasks.shift()) {
      try {
        await task();
      } catch (error) {
        this.#onError(error);
      }
    }
    this.#running = false;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
