import type Redis from "ioredis";
import { isoWeek } from "../../lib/iso-week";
import { HOME_BOARD, leaderboardParams } from "../../models/progress.model";
import {
  LeaderboardKeys,
  OwnRankBatches,
  readPublishedTop,
  RecentTops,
  type RankedEntry,
} from "../../lib/leaderboard-read-model";
import type { LearnerHome, LeaderboardPeriod, LeaderboardView } from "../../models/progress.model";

/**
 * `GET /leaderboard` answered by the gateway from the boards' read model in Redis
 * (lib/leaderboard-read-model.ts), without the hop to progress: the top of each board is
 * shared by every request of this gateway for at most TOP_MAX_AGE_MS (one Redis read per
 * board and size in that time, concurrent misses waiting for the same read), and the
 * caller's own rank and score are read live, in one pipeline with those of the other callers
 * of the same turn of the event loop (OwnRankBatches). Whatever it cannot answer
 * exactly as progress would — another scope or param, a board not built yet, a name the
 * hash lacks, Redis failing — it leaves to progress (undefined), which answers as before.
 */

const LEADERBOARD_ACTION = "progress.leaderboard";
const PERIODS: readonly string[] = leaderboardParams.period.values;
const { min: MIN_LIMIT, max: MAX_LIMIT, default: DEFAULT_LIMIT } = leaderboardParams.limit;

interface BoardQuery {
  period: LeaderboardPeriod;
  limit: number;
}

const isPeriod = (value: unknown): value is LeaderboardPeriod =>
  typeof value === "string" && PERIODS.includes(value);

/**
 * The query as progress's params would read it, when it is one the read model answers:
 * `period` and `limit` (or absent), `scope` absent or `everyone`.
 * Anything else (another param, a value progress would refuse or convert differently) is
 * undefined and goes to progress.
 */
export function boardQuery(params: Record<string, unknown>): BoardQuery | undefined {
  const { period = leaderboardParams.period.default, limit, scope, ...rest } = params;
  if (Object.keys(rest).length > 0) return undefined;
  if (scope !== undefined && scope !== "everyone") return undefined;
  if (!isPeriod(period)) return undefined;
  if (limit === undefined) return { period, limit: DEFAULT_LIMIT };
  // A query string's digits, or the number the gateway lowered a larger size to (edge.ts).
  const n = typeof limit === "string" && /^[1-9][0-9]{0,2}$/.test(limit) ? Number(limit) : limit;
  return Number.isInteger(n) && Number(n) >= MIN_LIMIT && Number(n) <= MAX_LIMIT
    ? { period, limit: Number(n) }
    : undefined;
}

export class GatewayLeaderboards {
  private readonly keys: LeaderboardKeys;
  private readonly tops: RecentTops<RankedEntry[] | null>;
  private readonly ranks: OwnRankBatches;

  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly now: () => number = Date.now,
  ) {
    this.keys = new LeaderboardKeys(prefix);
    this.tops = new RecentTops(
      (period, week, limit) => readPublishedTop(this.redis, this.keys, period, week, limit),
      now,
    );
    this.ranks = new OwnRankBatches(redis, this.keys);
  }

  /** The answer of `action` for this caller, or undefined when progress must give it. */
  async answer(
    action: string | undefined,
    params: Record<string, unknown>,
    userId: string,
  ): Promise<LeaderboardView | undefined> {
    if (action !== LEADERBOARD_ACTION) return undefined;
    const query = boardQuery(params);
    return query ? this.view(query, userId) : undefined;
  }

  /**
   * The dashboard's board as progress.home gives it (this week's top ten and the caller's
   * rank), or undefined when progress must give it.
   */
  async homeBoard(userId: string): Promise<LearnerHome["leaderboard"] | undefined> {
    const view = await this.view(HOME_BOARD, userId);
    return view && { rank: view.me.rank, top: view.top };
  }

  private async view(
    { period, limit }: BoardQuery,
    userId: string,
  ): Promise<LeaderboardView | undefined> {
    const week = isoWeek(new Date(this.now()));
    try {
      const [top, me] = await Promise.all([
        this.tops.get(period, week, limit),
        this.ranks.read({ period, week, userId }),
      ]);
      return top && me ? { period, top, me } : undefined;
    } catch {
      // Redis failing: progress answers (from PostgreSQL when its Redis fails too) and logs it.
      return undefined;
    }
  }
}
