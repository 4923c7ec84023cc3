/**
 * Which anonymous reads the gateway answers from its own copy (a `PublishedReadCache`;
 * signed-in learners' course reads: services/api/learner-reads.ts):
 * the content service broadcasts `cache.clean.content` after every committed change, progress
 * `cache.clean.certificates` after a certificate's, and the gateway clears the copy on either;
 * entries expire sooner than the `max-age=60` course answers already carry.
 */
/** The actions whose anonymous answers may be kept, and the params that may vary. */
const CACHEABLE: Record<
  string,
  { params: string[]; allow?: (p: Record<string, unknown>) => boolean }
> = {
  "content.getCourse": {
    params: ["id", "view"],
    allow: p => p.view === undefined || p.view === "published",
  },
  // Issued certificates never change but for a revocation or an erasure, and progress
  // broadcasts `cache.clean.certificates` after either.
  "progress.certificate": { params: ["id"] },
};

/**
 * The cache key of an anonymous read that may be served from the gateway's copy, or
 * undefined.
 */
export function publishedReadKey(
  action: string | undefined,
  method: string | undefined,
  anonymous: boolean,
  params: Record<string, unknown>,
): string | undefined {
  return anonymous ? cacheableReadKey(action, method, params) : undefined;
}

/**
 * The key of a read whose published answer the gateway may hold, or undefined. Any
 * unexpected param disqualifies it, so a request the action would refuse (422) never gets
 * a 200 from a copy.
 */
export function cacheableReadKey(
  action: string | undefined,
  method: string | undefined,
  params: Record<string, unknown>,
): string | undefined {
  if (!action || method !== "GET") return undefined;
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
