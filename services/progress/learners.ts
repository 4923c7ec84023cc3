import type { AuthUser } from "../../models/auth.model";
import { accountErased } from "./errors";
import type { UnlockedAchievement } from "../../models/achievement.model";
import type { ActivityDay, LearnerPublicStats, ProgressView } from "../../models/progress.model";
import type { UserSummary } from "../../models/user.model";
import { achievementName } from "./achievements";
import { addDays, localDate, safeTimeZone } from "./clock";
import type { Caller, ProgressDeps } from "./deps";
import * as remote from "./remote";
import * as store from "./store";
import { settle } from "./streaks";

/** The learner: their row (a copy of users' profile) and what they read about themselves. */

/**
 * The learner's row; a learner we have not heard of (event still on its way) is created
 * from users' profile, an erased one never again.
 */
export async function ensureLearner(
  deps: ProgressDeps,
  userId: string,
  caller?: Caller,
): Promise<store.LearnerRow> {
  const found = await store.findLearner(deps.db, userId);
  if (found) return found;
  const profile = await remote.profileOf(deps, userId, caller);
  await store.upsertLearner(
    deps.db,
    userId,
    profile
      ? { name: profile.name, timezone: profile.timezone, dailyGoalXp: profile.dailyGoalXp }
      : {},
  );
  const created = await store.findLearner(deps.db, userId);
  if (!created) throw accountErased(userId);
  return created;
}

/** A local day is at most ~26 hours long and ends within 14 hours of now: two days of XP entries cover it. */
const RECENT_XP_MS = 2 * 86_400_000;

export function progressSnapshotOf(summary: store.LearnerSummaryRow): store.ProgressSnapshot {
  return {
    xp: summary.xp,
    streak: store.streakOf(summary),
    completedLessons: Number(summary.completed_lessons),
    recentXp: summary.recent_xp,
  };
}

/** The learner's progress now: what moves with the local day (the streak, today's XP) is decided here. */
export function progressViewOf(
  snapshot: store.ProgressSnapshot,
  learner: { timezone: string; dailyGoalXp: number },
  now: Date,
): ProgressView {
  const zone = safeTimeZone(learner.timezone);
  const today = localDate(now, zone);
  const streak = settle(snapshot.streak, today);
  return {
    xp: snapshot.xp,
    streak: {
      current: streak.current,
      longest: streak.longest,
      lastActiveDate: streak.lastActiveDate,
      freezes: streak.freezes,
    },
    completedLessons: snapshot.completedLessons,
    todayXp: snapshot.recentXp
      .filter(([at]) => localDate(new Date(at), zone) === today)
      .reduce((sum, [, xp]) => sum + xp, 0),
    dailyGoalXp: learner.dailyGoalXp,
  };
}

/** What the learner's progress is computed from, with the zone and daily goal users holds now. */
export interface LearnerState {
  snapshot: store.ProgressSnapshot;
  timezone: string;
  dailyGoalXp: number;
  /** Users' profile as read (undefined when users did not answer). */
  profile: UserSummary | undefined;
}

export async function learnerState(
  deps: ProgressDeps,
  userId: string,
  caller?: Caller,
): Promise<LearnerState> {
  const since = recentXpSince(deps.now());
  const read = () => store.learnerSummary(deps.db, userId, since);
  // The daily goal lives in users; our copy answers when users cannot. Both asked at once.
  const [found, profile] = await Promise.all([read(), remote.profileOf(deps, userId, caller, 250)]);
  let summary = found;
  if (!summary) {
    await ensureLearner(deps, userId, caller);
    summary = (await read()) as store.LearnerSummaryRow;
  }
  let learner = { timezone: summary.timezone, dailyGoalXp: summary.daily_goal_xp };
  if (
    profile &&
    (profile.dailyGoalXp !== learner.dailyGoalXp || profile.timezone !== learner.timezone)
  ) {
    await store.upsertLearner(deps.db, userId, {
      timezone: profile.timezone,
      dailyGoalXp: profile.dailyGoalXp,
    });
    learner = { timezone: profile.timezone, dailyGoalXp: profile.dailyGoalXp };
  }
  return { snapshot: progressSnapshotOf(summary), ...learner, profile };
}

/** The XP entries a snapshot taken now keeps (the last two days'). */
export function recentXpSince(now: Date): Date {
  return new Date(now.getTime() - RECENT_XP_MS);
}

export async function myProgress(
  deps: ProgressDeps,
  actor: Pick<AuthUser, "id">,
  caller?: Caller,
): Promise<ProgressView> {
  const state = await learnerState(deps, actor.id, caller);
  return progressViewOf(state.snapshot, state, deps.now());
}

export async function myAchievements(
  deps: Pick<ProgressDeps, "db">,
  actor: Pick<AuthUser, "id">,
): Promise<UnlockedAchievement[]> {
  return toUnlocked(await store.achievementsOf(deps.db, actor.id));
}

/** What another learner may see of this one (users' public profile page). */
export async function publicStats(
  deps: Pick<ProgressDeps, "db" | "now">,
  userId: string,
): Promise<LearnerPublicStats> {
  const [learner, unlocked] = await Promise.all([
    store.findLearner(deps.db, userId),
    store.achievementsOf(deps.db, userId),
  ]);
  const streak = learner
    ? settle(store.streakOf(learner), localDate(deps.now(), safeTimeZone(learner.timezone))).current
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
  deps: ProgressDeps,
  input: { days: number },
  actor: Pick<AuthUser, "id">,
  caller?: Caller,
): Promise<ActivityDay[]> {
  const userId = actor.id;
  const learner = await ensureLearner(deps, userId, caller);
  const today = localDate(deps.now(), safeTimeZone(learner.timezone));
  const from = addDays(today, -(input.days - 1));
  const recorded = new Map(
    (await store.activityBetween(deps.db, userId, safeTimeZone(learner.timezone), from, today)).map(
      d => [d.date, d],
    ),
  );
  const days: ActivityDay[] = [];
  for (let i = 0; i < input.days; i += 1) {
    const date = addDays(from, i);
    const day = recorded.get(date);
    days.push({ date, xp: day?.xp ?? 0, lessons: day?.lessons ?? 0 });
  }
  return days;
}
