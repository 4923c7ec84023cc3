/**
 * Of several events about the same user in one batch, the one to apply: the highest
 * per-user sequence (events.md: consumers ignore an older version); an event without one
 * (published before versions existed) counts as the newest given so far.
 */
export function newestPerUser<T extends { userId: string; sequence?: number }>(changes: T[]): T[] {
  const newest = new Map<string, T>();
  for (const c of changes) {
    const held = newest.get(c.userId);
    if (!held || (c.sequence ?? Infinity) >= (held.sequence ?? 0)) newest.set(c.userId, c);
  }
  return [...newest.values()];
}
