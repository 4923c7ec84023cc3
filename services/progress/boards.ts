import type { Logger, ServiceBroker } from "moleculer";
import { configOf } from "../../lib/config";
import { registerHealthCheck, unregisterHealthCheck } from "../../lib/health";
import { createRedis } from "../../lib/redis";
import type {
  LeaderboardInput,
  LeaderboardPeriod,
  LeaderboardView,
} from "../../models/progress.model";
import type { AwardOutcome } from "./awards";
import { isoWeek } from "./clock";
import type { AuthUser } from "../../models/auth.model";
import type { Caller, ProgressDeps } from "./deps";
import { RedisLeaderboard, SqlLeaderboard, type Leaderboard } from "./leaderboard";
import { circleNames, circleScores, leaderboardSource } from "./store";
import { followingOf } from "./remote";

/**
 * The service's leaderboards: Redis when configured (PostgreSQL otherwise), told of each
 * committed award, read with PostgreSQL as the fallback.
 */

const HEALTH_CHECK = "redis:progress";

export interface Leaderboards {
  leaderboard: Leaderboard;
  /** The PostgreSQL answer when Redis fails (the same object as `leaderboard` without Redis). */
  sqlLeaderboard: Leaderboard;
}

export function openLeaderboards(
  broker: ServiceBroker,
  db: ProgressDeps["db"],
  logger: Logger,
): Leaderboards {
  const cfg = configOf(broker);
  const source = leaderboardSource(db);
  const sqlLeaderboard = new SqlLeaderboard(source);
  if (!cfg.redisUrl) return { leaderboard: sqlLeaderboard, sqlLeaderboard };
  const redis = createRedis(cfg.redisUrl);
  redis.on("error", (err: Error) => logger.warn(`progress redis: ${err.message}`));
  registerHealthCheck(broker, HEALTH_CHECK, () => redis.ping());
  return { leaderboard: new RedisLeaderboard(redis, cfg.redisPrefix, source), sqlLeaderboard };
}

export async function closeLeaderboards(
  broker: ServiceBroker,
  leaderboard: Leaderboard | undefined,
): Promise<void> {
  unregisterHealthCheck(broker, HEALTH_CHECK);
  await leaderboard?.close();
}

/** After the commit: the board learns the new totals (a failure heals on the next rebuild). */
export async function publishScores(
  deps: Pick<ProgressDeps, "board" | "logger">,
  award: AwardOutcome | undefined,
): Promise<void> {
  if (!award || award.earned <= 0) return;
  try {
    await deps.board().record(award.userId, award.name, award.xpTotal, award.week, award.weeklyXp);
  } catch (err) {
    deps.logger.warn(`leaderboard not updated for ${award.userId}: ${(err as Error).message}`);
  }
}

/**
 * `scope=following`: the caller and the people they follow, ranked among themselves. A circle
 * is small, so it is read from PostgreSQL (the truth) rather than from the global boards.
 */
async function circleView(
  deps: ProgressDeps,
  userId: string,
  period: LeaderboardPeriod,
  limit: number,
  caller?: Caller,
): Promise<LeaderboardView> {
  const ids = [userId, ...(await followingOf(deps, userId, caller))];
  const entries = await circleScores(
    deps.db,
    period === "weekly" ? isoWeek(deps.now()) : null,
    ids,
  );
  const names = await circleNames(
    deps.db,
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
  deps: ProgressDeps,
  input: LeaderboardInput,
  actor: Pick<AuthUser, "id">,
  caller?: Caller,
): Promise<LeaderboardView> {
  const userId = actor.id;
  const { period, limit } = input;
  if (input.scope === "following") return circleView(deps, userId, period, limit, caller);
  const week = isoWeek(deps.now());
  const answer = async (board: Leaderboard): Promise<LeaderboardView> => {
    const { top, me } = await board.view(period, week, limit, userId);
    return { period, top, me };
  };
  try {
    return await answer(deps.board());
  } catch (err) {
    // Redis down: the same answer from PostgreSQL, slower but correct.
    deps.logger.warn(`leaderboard from PostgreSQL, Redis failed: ${(err as Error).message}`);
    return answer(deps.sqlBoard());
  }
}
