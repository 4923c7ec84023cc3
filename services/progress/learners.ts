import type { Context } from "moleculer";
import type { UnlockedAchievement } from "../../models/achievement.model";
import type { ActivityDay, ProgressView } from "../../models/progress.model";
import { achievementName } from "./achievements";
import { addDays, localDate, safeTimeZone } from "./clock";
import type { Ctx, ProgressThis } from "./context";
import * as remote from "./remote";
import * as store from "./store";
import { settle } from "./streaks";

/** The learner: their row (a copy of users' profile) and what they read about themselves. */

/** The learner's row; a learner we have not heard of (event still on its way) is created from users' profile. */
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
  return (await store.findLearner(svc, userId)) as store.LearnerRow;
}

export async function myProgress(svc: ProgressThis, ctx: Ctx): Promise<ProgressView> {
  const userId = svc.userId(ctx);
  const now = svc.now();
  // Every time zone's date is within a day of UTC's: those days are read, today's picked below.
  const utcToday = localDate(now, "UTC");
  const read = () => store.learnerSummary(svc, userId, addDays(utcToday, -1), addDays(utcToday, 1));
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
    todayXp: summary.xp_by_date[today] ?? 0,
    dailyGoalXp: learner.daily_goal_xp,
  };
}

export async function myAchievements(svc: ProgressThis, ctx: Ctx): Promise<UnlockedAchievement[]> {
  const unlocked = await store.achievementsOf(svc, svc.userId(ctx));
  return unlocked.map(a => ({
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
  const userId = svc.userId(ctx);
  const learner = await ensureLearner(svc, ctx, userId);
  const today = localDate(svc.now(), safeTimeZone(learner.timezone));
  const from = addDays(today, -(ctx.params.days - 1));
  const recorded = new Map(
    (await store.activityBetween(svc, userId, from, today)).map(d => [d.date, d]),
  );
  const days: ActivityDay[] = [];
  for (let i = 0; i < ctx.params.days; i += 1) {
    const date = addDays(from, i);
    const day = recorded.get(date);
    days.push({ date, xp: day?.xp ?? 0, lessons: day?.lessons ?? 0 });
  }
  return days;
}
