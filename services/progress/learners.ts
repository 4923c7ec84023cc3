import { actorOf } from "../../lib/auth/guard";
import type { Context } from "moleculer";
import { accountErased } from "./errors";
import type { UnlockedAchievement } from "../../models/achievement.model";
import type { ActivityDay, LearnerPublicStats, ProgressView } from "../../models/progress.model";
import { achievementName } from "./achievements";
import { addDays, localDate, safeTimeZone } from "./clock";
import type { Ctx, ProgressThis } from "./context";
import * as remote from "./remote";
import * as store from "./store";
import { settle } from "./streaks";

/** The learner: their row (a copy of users' profile) and what they read about themselves. */

/**
 * The learner's row; a learner we have not heard of (event still on its way) is created
 * from users' profile, an erased one never again.
 */
export async function ensureLearner(
  svc: ProgressThis,
  ctx: Context,
  userId: string,
): Promise<store.LearnerRow> {
  const found = await store.findLearner(svc, userId);
  if (found) return found;
  const profile = await remote.profileOf(ctx, userId);
  await store.upsertLearner(
    svc,
    userId,
    profile
      ? { name: profile.name, timezone: profile.timezone, dailyGoalXp: profile.dailyGoalXp }
      : {},
  );
  const created = await store.findLearner(svc, userId);
  if (!created) throw accountErased(userId);
  return created;
}

export async function myProgress(svc: ProgressThis, ctx: Ctx): Promise<ProgressView> {
  const userId = actorOf(ctx).id;
  const now = svc.now();
  // A local day is at most ~26 hours long and ends within 14 hours of now: two days of entries cover it.
  const since = new Date(now.getTime() - 2 * 86_400_000);
  const read = () => store.learnerSummary(svc, userId, since);
  // The daily goal lives in users; our copy answers when users cannot. Both asked at once.
  const [found, profile] = await Promise.all([read(), remote.profileOf(ctx, userId, 250)]);
  let summary = found;
  if (!summary) {
    await ensureLearner(svc, ctx, userId);
    summary = (await read()) as store.LearnerSummaryRow;
  }
  let learner: store.LearnerRow = summary;
  if (
    profile &&
    (profile.dailyGoalXp !== learner.daily_goal_xp || profile.timezone !== learner.timezone)
  ) {
    await store.upsertLearner(svc, userId, {
      timezone: profile.timezone,
      dailyGoalXp: profile.dailyGoalXp,
    });
    learner = { ...learner, timezone: profile.timezone, daily_goal_xp: profile.dailyGoalXp };
  }
  const today = localDate(now, safeTimeZone(learner.timezone));
  const streak = settle(store.streakOf(learner), today);
  return {
    xp: learner.xp,
    streak: {
      current: streak.current,
      longest: streak.longest,
      lastActiveDate: streak.lastActiveDate,
      freezes: streak.freezes,
    },
    completedLessons: Number(summary.completed_lessons),
    todayXp: summary.recent_xp
      .filter(([at]) => localDate(new Date(at), safeTimeZone(learner.timezone)) === today)
      .reduce((sum, [, xp]) => sum + xp, 0),
    dailyGoalXp: learner.daily_goal_xp,
  };
}

export async function myAchievements(svc: ProgressThis, ctx: Ctx): Promise<UnlockedAchievement[]> {
  return toUnlocked(await store.achievementsOf(svc, actorOf(ctx).id));
}

/** What another learner may see of this one (users' public profile page). */
export async function publicStats(svc: ProgressThis, userId: string): Promise<LearnerPublicStats> {
  const [learner, unlocked] = await Promise.all([
    store.findLearner(svc, userId),
    store.achievementsOf(svc, userId),
  ]);
  const streak = learner
    ? settle(store.streakOf(learner), localDate(svc.now(), safeTimeZone(learner.timezone))).current
    : 0;
  return {
    xp: learner?.xp ?? 0,
    streak,
    achievements: toUnlocked(unlocked),
  };
}

function toUnlocked(
  rows: Array<{ code: string; unlocked_at: Date | string }>,
): UnlockedAchievement[] {
  return rows.map(a => ({
    code: a.code,
    name: achievementName(a.code),
    unlockedAt: new Date(a.unlocked_at).toISOString(),
  }));
}

/** One row for each of the last `days` local days, days without activity included. */
export async function myActivity(
  svc: ProgressThis,
  ctx: Ctx<{ days: number }>,
): Promise<ActivityDay[]> {
  const userId = actorOf(ctx).id;
  const learner = await ensureLearner(svc, ctx, userId);
  const today = localDate(svc.now(), safeTimeZone(learner.timezone));
  const from = addDays(today, -(ctx.params.days - 1));
  const recorded = new Map(
    (await store.activityBetween(svc, userId, safeTimeZone(learner.timezone), from, today)).map(
      d => [d.date, d],
    ),
  );
  const days: ActivityDay[] = [];
  for (let i = 0; i < ctx.params.days; i += 1) {
    const date = addDays(from, i);
    const day = recorded.get(date);
    days.push({ date, xp: day?.xp ?? 0, lessons: day?.lessons ?? 0 });
  }
  return days;
}
