import { PublishedReadCache } from "./published-read-cache";

/**
 * A node's own short-lived copy of answers that differ per user (the gateway's copy of a
 * learner's completed lessons of each course they read): asked for on every read, changed
 * only by what that user does. Like `PublishedReadCache`, but the owner's broadcast names
 * the user whose data changed, so one learner's change drops only their entries.
 *
 * Freshness: a read that was already on its way when its user was cleared is not stored
 * (the stamp taken before it is older than the clear), and every entry expires after
 * `ttlMs`, so a lost broadcast cannot keep an old answer for long.
 */
export class PerUserReadCache<V> {
  /** Each user's entries, the user first stored longest ago first. */
  private readonly users = new Map<string, PublishedReadCache<V>>();
  /** Each recently cleared user's clear count at the clear, the oldest clear first. */
  private readonly clearedAt = new Map<string, number>();
  private clears = 0;
  /** The clear count of the newest clear forgotten from `clearedAt`: users not in it count as cleared then. */
  private forgottenUpTo = 0;

  constructor(
    private readonly opts: {
      ttlMs: number;
      maxUsers: number;
      maxPerUser: number;
      now?: () => number;
    },
  ) {}

  /** Taken before a read: a read that started before a clear of its user is not stored. */
  get stamp(): number {
    return this.clears;
  }

  get(userId: string, key: string): V | undefined {
    return this.users.get(userId)?.get(key);
  }

  /** Stores `value` unless `userId` was cleared since `stamp` was read. */
  set(userId: string, key: string, value: V, stamp: number): void {
    if (stamp < (this.clearedAt.get(userId) ?? this.forgottenUpTo)) return;
    let entries = this.users.get(userId);
    if (!entries) {
      const { ttlMs, maxPerUser, now } = this.opts;
      entries = new PublishedReadCache<V>({ ttlMs, maxEntries: maxPerUser, now });
      this.users.set(userId, entries);
      dropOldest(this.users, this.opts.maxUsers);
    }
    entries.set(key, value, entries.generation);
  }

  /** Drops what is held of `userId`; a read of theirs already on its way is not stored. */
  clearUser(userId: string): void {
    this.clears += 1;
    this.users.delete(userId);
    this.clearedAt.delete(userId);
    this.clearedAt.set(userId, this.clears);
    const forgotten = dropOldest(this.clearedAt, this.opts.maxUsers);
    if (forgotten !== undefined) this.forgottenUpTo = forgotten;
  }

  /** Drops what is held of every user; no read already on its way is stored. */
  clear(): void {
    this.clears += 1;
    this.users.clear();
    this.clearedAt.clear();
    this.forgottenUpTo = this.clears;
  }
}

/** Removes the first-inserted entry of `map` once it holds more than `max`; answers its value. */
function dropOldest<K, T>(map: Map<K, T>, max: number): T | undefined {
  if (map.size <= max) return undefined;
  const oldest = map.keys().next();
  if (oldest.done) return undefined;
  const value = map.get(oldest.value);
  map.delete(oldest.value);
  return value;
}
