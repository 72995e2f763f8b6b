/**
 * The simulator's agenda: events ordered by virtual time, ties broken by insertion order so a run
 * is deterministic. A binary heap over parallel arrays.
 */
export class EventQueue<T> {
  #times: number[] = [];
  #seqs: number[] = [];
  #items: T[] = [];
  #seq = 0;

  get size(): number {
    return this.#items.length;
  }

  push(timeMs: number, item: T): void {
    const times = this.#times;
    const seqs = this.#seqs;
    const items = this.#items;
    let i = items.length;
    const seq = this.#seq++;
    times.push(timeMs);
    seqs.push(seq);
    items.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pt = times[parent]!;
      if (pt < timeMs || (pt === timeMs && seqs[parent]! < seq)) break;
      times[i] = pt;
      seqs[i] = seqs[parent]!;
      items[i] = items[parent]!;
      i = parent;
    }
    times[i] = timeMs;
    seqs[i] = seq;
    items[i] = item;
  }

  /** The time of the earliest event; undefined when empty. */
  peekTime(): number | undefined {
    return this.#times[0];
  }

  /** Removes and returns the earliest event. Call only when size > 0. */
  pop(): T {
    const times = this.#times;
    const seqs = this.#seqs;
    const items = this.#items;
    const top = items[0]!;
    const lastTime = times.pop()!;
    const lastSeq = seqs.pop()!;
    const lastItem = items.pop()!;
    const n = items.length;
    if (n === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      let child = left;
      if (right < n && (times[right]! < times[left]! || (times[right] === times[left] && seqs[right]! < seqs[left]!))) {
        child = right;
      }
      const ct = times[child]!;
      if (ct > lastTime || (ct === lastTime && seqs[child]! > lastSeq)) break;
      times[i] = ct;
      seqs[i] = seqs[child]!;
      items[i] = items[child]!;
      i = child;
    }
    times[i] = lastTime;
    seqs[i] = lastSeq;
    items[i] = lastItem;
    return top;
  }
}
