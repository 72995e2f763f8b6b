/**
 * Bytes a role may send in answers to others' requests (catch-up answers), per requester and in
 * total: token buckets that refill at their rate and hold one second of it. A requester chooses
 * what it asks for, so without this one small request could keep a role sending at full speed.
 * Requesters are named by the requests (a learner id); at most `requestersMax` buckets are kept,
 * the least recently used dropped first, and the total bucket bounds what cycling through new
 * names can get.
 */
export class ReplyBudget {
  readonly #perRequester: number;
  readonly #requestersMax: number;
  readonly #buckets = new Map<string, Bucket>();
  readonly #total: Bucket;
  readonly #totalRate: number;

  constructor(bytesPerSecondPerRequester: number, totalBytesPerSecond: number, requestersMax = 64) {
    this.#perRequester = bytesPerSecondPerRequester;
    this.#requestersMax = requestersMax;
    this.#totalRate = totalBytesPerSecond;
    this.#total = { tokens: totalBytesPerSecond, atMs: 0 };
  }

  /** Bytes `requester` may be sent now (never more than the total allows). */
  available(requester: string, nowMs: number): number {
    return Math.min(this.#bucket(requester, nowMs).tokens, refill(this.#total, this.#totalRate, nowMs).tokens);
  }

  /** Records `bytes` sent to `requester` (which may overdraw by one message: it waits longer). */
  spend(requester: string, bytes: number, nowMs: number): void {
    this.#bucket(requester, nowMs).tokens -= bytes;
    refill(this.#total, this.#totalRate, nowMs).tokens -= bytes;
  }

  #bucket(requester: string, nowMs: number): Bucket {
    let bucket = this.#buckets.get(requester);
    if (bucket === undefined) {
      bucket = { tokens: this.#perRequester, atMs: nowMs };
      if (this.#buckets.size >= this.#requestersMax) {
        const [oldest] = this.#buckets.keys();
        if (oldest !== undefined) this.#buckets.delete(oldest);
      }
    } else {
      this.#buckets.delete(requester);
      refill(bucket, this.#perRequester, nowMs);
    }
    // Re-inserted, so the map's first key is always the least recently used.
    this.#buckets.set(requester, bucket);
    return bucket;
  }
}

interface Bucket {
  tokens: number;
  atMs: number;
}

function refill(bucket: Bucket, bytesPerSecond: number, nowMs: number): Bucket {
  const elapsedMs = Math.max(0, nowMs - bucket.atMs);
  bucket.tokens = Math.min(bytesPerSecond, bucket.tokens + (elapsedMs * bytesPerSecond) / 1000);
  bucket.atMs = Math.max(bucket.atMs, nowMs);
  return bucket;
}
