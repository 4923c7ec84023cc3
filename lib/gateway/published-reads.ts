/**
 * The gateway's own copy of hot public reads (an anonymous `GET /courses/:id`): the same
 * answer for everyone, asked for all the time, changed rarely. Serving it from the
 * gateway's memory skips the transporter round trip that otherwise dominates the request.
 *
 * Freshness: the content service broadcasts `cache.clean.content` after every committed
 * change (and once more 250 ms later); the gateway clears this cache on it. A read that
 * was already on its way when the clean arrived is not stored (generation check), and
 * every entry expires after `ttlMs` anyway — shorter than the `max-age=60` such answers
 * already carry — so a lost broadcast cannot keep an old answer for long.
 */
export class PublishedReadCache {
  private readonly entries = new Map<string, { value: unknown; expires: number }>();
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

  get(key: string): unknown {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expires <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  /** Stores `value` unless the cache was cleared since `generation` was read. */
  set(key: string, value: unknown, generation: number): void {
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

/** The actions whose anonymous answers may be kept, and the params that may vary. */
const CACHEABLE: Record<
  string,
  { params: string[]; allow?: (p: Record<string, unknown>) => boolean }
> = {
  "content.getCourse": {
    params: ["id", "view"],
    allow: p => p.view === undefined || p.view === "published",
  },
};

/**
 * The cache key of an anonymous read that may be served from the gateway's copy, or
 * undefined. Any unexpected param disqualifies it, so a request the action would refuse
 * (422) never gets a cached 200.
 */
export function publishedReadKey(
  action: string | undefined,
  method: string | undefined,
  anonymous: boolean,
  params: Record<string, unknown>,
): string | undefined {
  if (!action || method !== "GET" || !anonymous) return undefined;
  const rule = CACHEABLE[action];
  if (!rule) return undefined;
  const names = Object.keys(params);
  if (names.some(name => !rule.params.includes(name))) return undefined;
  if (rule.allow && !rule.allow(params)) return undefined;
  if (names.some(name => params[name] !== undefined && typeof params[name] !== "string")) {
    return undefined;
  }
  return `${action}:${JSON.stringify(rule.params.map(name => params[name] ?? null))}`;
}
