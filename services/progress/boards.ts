import { actorOf } from "../../lib/auth/guard";
import { configOf } from "../../lib/config";
import { registerHealthCheck, unregisterHealthCheck } from "../../lib/health";
import { createRedis } from "../../lib/redis";
import type { LeaderboardPeriod, LeaderboardView } from "../../models/progress.model";
import type { AwardOutcome } from "./awards";
import { isoWeek } from "./clock";
import type { Ctx, ProgressThis } from "./context";
import { RedisLeaderboard, SqlLeaderboard, type Leaderboard } from "./leaderboard";
import { circleNames, circleScores, leaderboardSource } from "./store";
import { followingOf } from "./remote";

/**
 * The service's leaderboards: Redis when configured (PostgreSQL otherwise), told of each
 * committed award, read with PostgreSQL as the fallback.
 */

const HEALTH_CHECK = "redis:progress";

export function openLeaderboards(svc: ProgressThis): void {
  const cfg = configOf(svc.broker);
  const source = leaderboardSource(svc);
  svc.sqlLeaderboard = new SqlLeaderboard(source);
  if (cfg.redisUrl) {
    const redis = createRedis(cfg.redisUrl);
    redis.on("error", (err: Error) => svc.logger.warn(`progress redis: ${err.message}`));
    registerHealthCheck(svc.broker, HEALTH_CHECK, () => redis.ping());
    svc.leaderboard = new RedisLeaderboard(redis, cfg.redisPrefix, source);
  } else {
    svc.leaderboard = svc.sqlLeaderboard;
  }
}

export async function closeLeaderboards(svc: ProgressThis): Promise<void> {
  unregisterHealthCheck(svc.broker, HEALTH_CHECK);
  await svc.leaderboard?.close();
}

/** After the commit: the board learns the new totals (a failure heals on the next rebuild). */
export async function publishScores(
  svc: ProgressThis,
  award: AwardOutcome | undefined,
): Promise<void> {
  if (!award || (award.xpTotal <= 0 && award.weeklyXp <= 0)) return;
  try {
    await svc.leaderboard.record(
      award.userId,
      award.name,
      award.xpTotal,
      award.week,
      award.weeklyXp,
    );
  } catch (err) {
    svc.logger.warn(`leaderboard not updated for ${award.userId}: ${(err as Error).message}`);
  }
}

export interface LeaderboardParams {
  period: LeaderboardPeriod;
  limit: number;
  /** `following`: the caller and the people they follow (users' follow graph). */
  scope: "everyone" | "following";
}

/**
 * `scope=following`: the caller and the people they follow, ranked among themselves. A circle
 * is small, so it is read from PostgreSQL (the truth) rather than from the global boards.
 */
async function circleView(
  svc: ProgressThis,
  ctx: Ctx<LeaderboardParams>,
  userId: string,
  period: LeaderboardPeriod,
  limit: number,
): Promise<LeaderboardView> {
  const ids = [userId, ...(await followingOf(ctx, userId))];
  const entries = await circleScores(svc, period === "weekly" ? isoWeek(svc.now()) : null, ids);
  const names = await circleNames(
    svc,
    entries.slice(0, limit).map(entry => entry.userId),
  );
  const at = entries.findIndex(entry => entry.userId === userId);
  return {
    period,
    top: entries.slice(0, limit).map((entry, i) => ({
      rank: i + 1,
      userId: entry.userId,
      name: names.get(entry.userId) ?? "",
      xp: entry.xp,
    })),
    me: at < 0 ? { rank: null, xp: 0 } : { rank: at + 1, xp: entries[at].xp },
  };
}

export async function leaderboardView(
  svc: ProgressThis,
  ctx: Ctx<LeaderboardParams>,
): Promise<LeaderboardView> {
  const userId = actorOf(ctx).id;
  const { period, limit } = ctx.params;
  if (ctx.params.scope === "following") return circleView(svc, ctx, userId, period, limit);
  const week = isoWeek(svc.now());
  const answer = async (board: Leaderboard): Promise<LeaderboardView> => {
    const { top, me } = await board.view(period, week, limit, userId);
    return { period, top, me };
  };
  try {
    return await answer(svc.board());
  } catch (err) {
    // Redis down: the same answer from PostgreSQL, slower but correct.
    svc.logger.warn(`leaderboard from PostgreSQL, Redis failed: ${(err as Error).message}`);
    return answer(svc.sqlLeaderboard);
  }
}
