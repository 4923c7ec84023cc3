/**
 * A node's own short-lived copy of answers another service publishes (the gateway's hot
 * anonymous `GET /courses/:id`, progress's lesson and user look-ups): the same answer for
 * every caller, asked for all the time, changed rarely. Serving it from memory skips the
 * transporter round trip that otherwise dominates the request.
 *
 * Freshness: the owner broadcasts a `cache.clean.*` event after every committed change and
 * the holder clears its copy on it. A read that was already on its way when the clean
 * arrived is not stored (generation check), and every entry expires after `ttlMs` anyway,
 * so a lost broadcast cannot keep an old answer for long.
 */
export class PublishedReadCache<V = unknown> {
  private readonly entries = new Map<string, { value: V; expires: number }>();
  private gen = 0;

  constructor(
    private readonly opts: { ttlMs: number; maxEntries: number; now?: () => number } = {
      ttlMs: 30_000,
      maxEntries: 500,
    },
  ) {}

  /** Changes on every clear: a read started under an older generation is not stored. */
  get generation(): number {
    return this.gen;
  }

  private now(): number {
    return this.opts.now ? this.opts.now() : Date.now();
  }

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expires <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  /** Stores `value` unless the cache was cleared since `generation` was read. */
  set(key: string, value: V, generation: number): void {
    if (generation !== this.gen || value === undefined) return;
    // Oldest out first: Map iteration follows insertion order.
    if (!this.entries.has(key) && this.entries.size >= this.opts.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(key, { value, expires: this.now() + this.opts.ttlMs });
  }

  clear(): void {
    this.gen += 1;
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
