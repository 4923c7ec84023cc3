import type Redis from "ioredis";
import type { LeaderboardPeriod, LeaderboardView } from "../models/progress.model";

/**
 * The leaderboards' read model in Redis: written by the progress service (after each
 * committed award, and rebuilt from PostgreSQL when lost), read by progress and by every
 * gateway, which answers `GET /leaderboard` from it without the hop to progress. The key
 * layout and the way an answer is built from it are defined here only.
 *
 * Keys (`prefix` is REDIS_PREFIX):
 * - `<prefix>progress:lb:all` — sorted set, member = user id, score = all-time XP;
 * - `<prefix>progress:lb:week:<ISO week>` — the same for the XP of one ISO week (UTC, `2026-W49`),
 *   expiring a week after its week;
 * - `<board>:built` — present once the board holds every learner (rebuilt from PostgreSQL);
 *   without it a board may be partial and only progress answers (it rebuilds it first);
 * - `<prefix>progress:lb:names` — hash, user id → display name.
 *
 * Ranks are 1-based in descending score order (ZREVRANK + 1); equal scores are ordered by
 * user id, descending, as Redis orders them.
 */

export type RankedEntry = LeaderboardView["top"][number];
export type OwnRank = LeaderboardView["me"];

export interface ScoredEntry {
  userId: string;
  xp: number;
}

export class LeaderboardKeys {
  constructor(private readonly prefix: string) {}

  board(period: LeaderboardPeriod, week: string): string {
    return period === "all"
      ? `${this.prefix}progress:lb:all`
      : `${this.prefix}progress:lb:week:${week}`;
  }

  built(period: LeaderboardPeriod, week: string): string {
    return `${this.board(period, week)}:built`;
  }

  get names(): string {
    return `${this.prefix}progress:lb:names`;
  }

  /** Every weekly board (SCAN pattern). */
  get weeklyBoards(): string {
    return `${this.prefix}progress:lb:week:*`;
  }
}

/**
 * How old the top of a board may be when answered (progress's copy and each gateway's): every
 * learner asks for the same few top-N lists, and a second there is invisible, while the
 * learner's own rank — the part that moves after their attempt — is always read live.
 */
export const TOP_MAX_AGE_MS = 1000;

/** Parses a ZREVRANGE … WITHSCORES reply. */
export function scoredEntries(flat: string[]): ScoredEntry[] {
  const entries: ScoredEntry[] = [];
  for (let i = 0; i < flat.length; i += 2)
    entries.push({ userId: flat[i], xp: Number(flat[i + 1]) });
  return entries;
}

/** Entries in score order, numbered from 1, with the names known for them. */
export function rankedEntries(entries: ScoredEntry[], names: Map<string, string>): RankedEntry[] {
  return entries.map((e, i) => ({
    rank: i + 1,
    userId: e.userId,
    name: names.get(e.userId) ?? "",
    xp: e.xp,
  }));
}

/** A learner not on the board has no rank and no XP there. */
export function ownRankOf(zeroBasedRank: number | null, score: string | null): OwnRank {
  return zeroBasedRank === null
    ? { rank: null, xp: 0 }
    : { rank: zeroBasedRank + 1, xp: Number(score) };
}

/** A pipeline's replies, or its first error thrown. */
function valuesOf(replies: Array<[Error | null, unknown]> | null): unknown[] {
  const failed = replies?.find(([err]) => err);
  if (!replies || failed) throw failed?.[0] ?? new Error("leaderboard pipeline failed");
  return replies.map(([, value]) => value);
}

/** One learner's rank asked for on one board. */
export interface OwnRankAsk {
  period: LeaderboardPeriod;
  week: string;
  userId: string;
}

/**
 * The learners' ranks and scores in one pipeline (each board's built marker read once), in
 * the order asked; null for an ask whose board is not built (only its owner may answer then:
 * it rebuilds the board first).
 */
async function readOwnRanks(
  redis: Redis,
  keys: LeaderboardKeys,
  asks: readonly OwnRankAsk[],
): Promise<Array<OwnRank | null>> {
  const pipeline = redis.pipeline();
  const builtAt = new Map<string, number>();
  let replies = 0;
  const slots = asks.map(({ period, week, userId }) => {
    const key = keys.board(period, week);
    let built = builtAt.get(key);
    if (built === undefined) {
      built = replies++;
      builtAt.set(key, built);
      pipeline.exists(keys.built(period, week));
    }
    pipeline.zrevrank(key, userId).zscore(key, userId);
    const rank = replies;
    replies += 2;
    return { built, rank };
  });
  const values = valuesOf(await pipeline.exec());
  return slots.map(({ built, rank }) => {
    if (values[built] !== 1) return null;
    const [zeroBased, score] = [values[rank], values[rank + 1]];
    return ownRankOf(
      typeof zeroBased === "number" ? zeroBased : null,
      typeof score === "string" ? score : null,
    );
  });
}

/** The learner's rank and score in one pipeline, or null when the board is not built. */
export async function readOwnRank(
  redis: Redis,
  keys: LeaderboardKeys,
  period: LeaderboardPeriod,
  week: string,
  userId: string,
): Promise<OwnRank | null> {
  const [own] = await readOwnRanks(redis, keys, [{ period, week, userId }]);
  return own;
}

/**
 * Own ranks asked for during one turn of the event loop, read together in one pipeline when
 * it ends (setImmediate: after every socket this turn read from). Each is still read from
 * Redis after it was asked — live, never a copy — but a busy gateway pays one round trip (a
 * write and a read on the Redis socket, the largest cost of a leaderboard request) per turn
 * instead of one per request.
 */
export class OwnRankBatches {
  private waiting: Array<{
    ask: OwnRankAsk;
    resolve: (own: OwnRank | null) => void;
    reject: (err: unknown) => void;
  }> = [];

  constructor(
    private readonly redis: Redis,
    private readonly keys: LeaderboardKeys,
  ) {}

  read(ask: OwnRankAsk): Promise<OwnRank | null> {
    return new Promise((resolve, reject) => {
      if (this.waiting.length === 0) setImmediate(() => this.flush());
      this.waiting.push({ ask, resolve, reject });
    });
  }

  private flush(): void {
    const batch = this.waiting;
    this.waiting = [];
    readOwnRanks(
      this.redis,
      this.keys,
      batch.map(({ ask }) => ask),
    ).then(
      owns => {
        for (const [i, { resolve }] of batch.entries()) resolve(owns[i]);
      },
      (err: unknown) => {
        for (const { reject } of batch) reject(err);
      },
    );
  }
}

/**
 * The top `limit` of a built board with the names the hash holds, from Redis alone; null
 * when the board is not built or a name is missing (its owner reads those from PostgreSQL).
 */
export async function readPublishedTop(
  redis: Redis,
  keys: LeaderboardKeys,
  period: LeaderboardPeriod,
  week: string,
  limit: number,
): Promise<RankedEntry[] | null> {
  const [built, flat] = valuesOf(
    await redis
      .pipeline()
      .exists(keys.built(period, week))
      .zrevrange(keys.board(period, week), 0, limit - 1, "WITHSCORES")
      .exec(),
  );
  if (built !== 1 || !Array.isArray(flat)) return null;
  const entries = scoredEntries(flat.map(String));
  if (entries.length === 0) return [];
  const held = await redis.hmget(keys.names, ...entries.map(e => e.userId));
  const names = new Map<string, string>();
  for (const [i, name] of held.entries()) {
    if (name === null) return null;
    names.set(entries[i].userId, name);
  }
  return rankedEntries(entries, names);
}

/**
 * The tops a node holds for TOP_MAX_AGE_MS, shared by every request: one read in flight per
 * board, week and size. A read that fails or finds nothing to answer with (null: the board
 * is not built, a name is missing) is not kept: the next request reads again.
 */
export class RecentTops<T> {
  private readonly held = new Map<string, { at: number; value: Promise<T> }>();

  constructor(
    private readonly read: (period: LeaderboardPeriod, week: string, limit: number) => Promise<T>,
    private readonly now: () => number = Date.now,
    private readonly maxEntries = 64,
  ) {}

  get(period: LeaderboardPeriod, week: string, limit: number): Promise<T> {
    const id = `${period}|${week}|${limit}`;
    const now = this.now();
    const held = this.held.get(id);
    if (held && now - held.at < TOP_MAX_AGE_MS) return held.value;
    const value = this.read(period, week, limit);
    this.held.delete(id);
    this.held.set(id, { at: now, value });
    const forget = () => {
      if (this.held.get(id)?.value === value) this.held.delete(id);
    };
    value.then(top => {
      if (top === null) forget();
    }, forget);
    if (this.held.size > this.maxEntries) {
      const oldest = this.held.keys().next().value;
      if (oldest !== undefined) this.held.delete(oldest);
    }
    return value;
  }

  clear(): void {
    this.held.clear();
  }
}
