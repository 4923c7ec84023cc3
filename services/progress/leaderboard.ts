import type Redis from "ioredis";
import {
  LeaderboardKeys,
  rankedEntries,
  ownRankOf,
  readOwnRank,
  RecentTops,
  scoredEntries,
  type OwnRank,
  type RankedEntry,
  type ScoredEntry,
} from "../../lib/leaderboard-read-model";
import type { LeaderboardPeriod } from "../../models/progress.model";

/**
 * Leaderboards. PostgreSQL holds the truth (learners.xp, weekly_xp); Redis sorted sets
 * answer top-N (ZREVRANGE) and my rank (ZREVRANK) in O(log n).
 *
 * Scores are written with ZADD GT of the learner's absolute total read inside the
 * committed transaction: totals only grow, so writes are idempotent and order-free
 * (two awards finishing in either order leave the larger, later total). A board whose
 * "built" marker is missing (Redis restarted, keys flushed or evicted) is rebuilt from
 * PostgreSQL on the next read with the same ZADD GT, so racing awards are never lost.
 *
 * The Redis keys are a read model the gateways answer from too: lib/leaderboard-read-model.ts.
 */

export interface LeaderboardSource {
  scores(week: string | null): Promise<ScoredEntry[]>;
  names(ids: string[]): Promise<Map<string, string>>;
  top(week: string | null, limit: number): Promise<ScoredEntry[]>;
  rank(week: string | null, userId: string): Promise<OwnRank>;
}

type BoardView = { top: RankedEntry[]; me: OwnRank };

/** The top and the learner's rank by two independent reads. */
async function readView(
  board: Leaderboard,
  period: LeaderboardPeriod,
  week: string,
  limit: number,
  userId: string,
): Promise<BoardView> {
  const [top, me] = await Promise.all([
    board.top(period, week, limit),
    board.rank(period, week, userId),
  ]);
  return { top, me };
}

export interface Leaderboard {
  /** After a committed award: the learner's all-time total and total of `week`. */
  record(
    userId: string,
    name: string,
    allTime: number,
    week: string,
    weekly: number,
  ): Promise<void>;
  top(period: LeaderboardPeriod, week: string, limit: number): Promise<RankedEntry[]>;
  rank(period: LeaderboardPeriod, week: string, userId: string): Promise<OwnRank>;
  /** Top `limit` and the learner's own rank, in as few round trips as the store allows. */
  view(period: LeaderboardPeriod, week: string, limit: number, userId: string): Promise<BoardView>;
  /** New display names, in the order they changed (the last of a user's wins). */
  rename(names: ReadonlyArray<{ userId: string; name: string }>): Promise<void>;
  remove(userId: string): Promise<void>;
  close(): Promise<void>;
}

/** Weekly boards outlive their week by a week (last week's ranks stay readable), then expire. */
const WEEK_TTL_SECONDS = 14 * 24 * 3600;

export class RedisLeaderboard implements Leaderboard {
  private readonly keys: LeaderboardKeys;
  /** The tops of the last second: this node's copy (lib/leaderboard-read-model.ts). */
  private readonly tops: RecentTops<RankedEntry[]>;

  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly source: LeaderboardSource,
    now: () => number = Date.now,
  ) {
    this.keys = new LeaderboardKeys(prefix);
    this.tops = new RecentTops((period, week, limit) => this.top(period, week, limit), now);
  }

  key(period: LeaderboardPeriod, week: string): string {
    return this.keys.board(period, week);
  }

  private get namesKey(): string {
    return this.keys.names;
  }

  async record(
    userId: string,
    name: string,
    allTime: number,
    week: string,
    weekly: number,
  ): Promise<void> {
    const weekKey = this.key("weekly", week);
    const pipeline = this.redis.multi();
    if (allTime > 0) pipeline.zadd(this.key("all", week), "GT", allTime, userId);
    if (weekly > 0) pipeline.zadd(weekKey, "GT", weekly, userId).expire(weekKey, WEEK_TTL_SECONDS);
    if (name) pipeline.hset(this.namesKey, userId, name);
    await pipeline.exec();
    // This node's learners see their own award on the board at once.
    this.tops.clear();
  }

  /** Rebuilds the board from PostgreSQL when its marker is gone. */
  async ensure(period: LeaderboardPeriod, week: string): Promise<boolean> {
    const key = this.key(period, week);
    const built = this.keys.built(period, week);
    if ((await this.redis.exists(built)) === 1) return false;
    const scores = await this.source.scores(period === "all" ? null : week);
    for (let i = 0; i < scores.length; i += 1000) {
      const args: Array<string | number> = [];
      for (const s of scores.slice(i, i + 1000)) args.push(s.xp, s.userId);
      await this.redis.zadd(key, "GT", ...args);
    }
    const multi = this.redis.multi();
    if (period === "weekly") {
      multi.set(built, "1", "EX", WEEK_TTL_SECONDS);
      if (scores.length > 0) multi.expire(key, WEEK_TTL_SECONDS);
    } else {
      multi.set(built, "1");
    }
    await multi.exec();
    return true;
  }

  async top(period: LeaderboardPeriod, week: string, limit: number): Promise<RankedEntry[]> {
    await this.ensure(period, week);
    const flat = await this.redis.zrevrange(this.key(period, week), 0, limit - 1, "WITHSCORES");
    const entries = scoredEntries(flat);
    return rankedEntries(entries, await this.namesOf(entries.map(e => e.userId)));
  }

  /**
   * One pipeline for the learner's rank, score and the board's built marker; the top from
   * this node's copy of the last second (one read in flight per board and size).
   */
  async view(
    period: LeaderboardPeriod,
    week: string,
    limit: number,
    userId: string,
  ): Promise<BoardView> {
    const me = await readOwnRank(this.redis, this.keys, period, week, userId);
    // Board lost (Redis restarted or flushed): rebuild, then the plain reads.
    if (me === null) return readView(this, period, week, limit, userId);
    return { top: await this.tops.get(period, week, limit), me };
  }

  async rank(period: LeaderboardPeriod, week: string, userId: string): Promise<OwnRank> {
    await this.ensure(period, week);
    const key = this.key(period, week);
    const [rank, score] = await Promise.all([
      this.redis.zrevrank(key, userId),
      this.redis.zscore(key, userId),
    ]);
    return ownRankOf(rank, score);
  }

  /** Display names from the hash; any missing (hash lost) are read from PostgreSQL and put back. */
  private async namesOf(ids: string[]): Promise<Map<string, string>> {
    const names = new Map<string, string>();
    if (ids.length === 0) return names;
    const cached = await this.redis.hmget(this.namesKey, ...ids);
    const missing: string[] = [];
    ids.forEach((id, i) => {
      const name = cached[i];
      if (name === null) missing.push(id);
      else names.set(id, name);
    });
    if (missing.length > 0) {
      const found = await this.source.names(missing);
      if (found.size > 0) await this.redis.hset(this.namesKey, Object.fromEntries(found));
      for (const [id, name] of found) names.set(id, name);
    }
    return names;
  }

  async rename(names: ReadonlyArray<{ userId: string; name: string }>): Promise<void> {
    if (names.length === 0) return;
    // One HSET for a whole consumer batch: Redis sets its pairs in order, so the last wins.
    await this.redis.hset(
      this.namesKey,
      names.flatMap(({ userId, name }) => [userId, name]),
    );
    this.tops.clear();
  }

  async remove(userId: string): Promise<void> {
    const keys: string[] = [this.key("all", "")];
    let cursor = "0";
    do {
      const [next, found] = await this.redis.scan(
        cursor,
        "MATCH",
        this.keys.weeklyBoards,
        "COUNT",
        200,
      );
      cursor = next;
      keys.push(...found.filter(k => !k.endsWith(":built")));
    } while (cursor !== "0");
    const multi = this.redis.multi();
    for (const key of keys) multi.zrem(key, userId);
    multi.hdel(this.namesKey, userId);
    await multi.exec();
    this.tops.clear();
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => undefined);
  }
}

/** Without Redis: the same answers straight from PostgreSQL (indexed on (xp DESC, user_id DESC)). */
export class SqlLeaderboard implements Leaderboard {
  constructor(private readonly source: LeaderboardSource) {}

  async record(): Promise<void> {}

  async top(period: LeaderboardPeriod, week: string, limit: number): Promise<RankedEntry[]> {
    const entries = await this.source.top(period === "all" ? null : week, limit);
    return rankedEntries(entries, await this.source.names(entries.map(e => e.userId)));
  }

  rank(period: LeaderboardPeriod, week: string, userId: string): Promise<OwnRank> {
    return this.source.rank(period === "all" ? null : week, userId);
  }

  async view(
    period: LeaderboardPeriod,
    week: string,
    limit: number,
    userId: string,
  ): Promise<BoardView> {
    return readView(this, period, week, limit, userId);
  }

  async rename(): Promise<void> {}
  async remove(): Promise<void> {}
  async close(): Promise<void> {}
}
