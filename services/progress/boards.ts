import { actorOf } from "../../lib/auth/guard";
import { configOf } from "../../lib/config";
import { registerHealthCheck, unregisterHealthCheck } from "../../lib/health";
import { createRedis } from "../../lib/redis";
import type { LeaderboardPeriod, LeaderboardView } from "../../models/progress.model";
import type { AwardOutcome } from "./awards";
import { isoWeek } from "./clock";
import type { Ctx, ProgressThis } from "./context";
import { RedisLeaderboard, SqlLeaderboard, type Leaderboard } from "./leaderboard";
import { leaderboardSource } from "./store";

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

export async function leaderboardView(
  svc: ProgressThis,
  ctx: Ctx<{ period: LeaderboardPeriod; limit: number }>,
): Promise<LeaderboardView> {
  const userId = actorOf(ctx).id;
  const { period, limit } = ctx.params;
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
