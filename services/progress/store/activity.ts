import type { Transaction } from "sequelize";
import type { StreakState } from "../streaks";
import { one, rows, S, type Db } from "./sql";

/** The XP ledger, weekly XP totals and each learner's activity by local day. */

export interface AwardWrite {
  userId: string;
  /** XP of this award (0: nothing enters the ledger or the weekly total). */
  amount: number;
  reason: string;
  ref: string;
  /** The lesson that paid (null for what no lesson pays, e.g. a review). */
  lessonId: string | null;
  /** A repeat of a lesson already completed: counts against the lesson's daily cap. */
  repeat: boolean;
  week: string;
  localDate: string;
  at: Date;
  /** The learner's streak after this award. */
  streak: StreakState;
  /** What the award counts in the day's activity. */
  activity: ActivityDelta;
}

/** What the learner holds once an award is written: what the achievement rules read. */
export interface AwardTotals {
  xpTotal: number;
  weeklyXp: number;
  completedLessons: number;
  completedCourses: number;
  /** The codes unlocked before this award. */
  unlocked: string[];
}

interface ActivityDelta {
  xp: number;
  lessons: number;
  attempts: number;
  reviews: number;
}

/**
 * One statement for an award: the learner's XP total and streak, the ledger entry, the
 * ISO week's total and the local day's activity, answering the totals the achievement
 * rules read (the completions of the caller's transaction included: written before).
 */
export async function writeAward(db: Db, e: AwardWrite, t: Transaction): Promise<AwardTotals> {
  const row = await one<{
    xp_total: number;
    weekly_xp: number;
    lessons: string;
    courses: string;
    unlocked: string[];
  }>(
    db,
    `WITH learner AS (
       UPDATE ${S}.learners SET xp = xp + :amount, streak_current = :current, streak_longest = :longest,
         streak_last_date = :last::date, streak_freezes = :freezes, updated_at = now()
       WHERE user_id = :userId RETURNING xp
     ), ledger AS (
       INSERT INTO ${S}.xp_ledger (user_id, amount, reason, ref, lesson_id, repeat, iso_week, local_date, occurred_at)
       SELECT :userId, :amount, :reason, :ref, :lessonId, :repeat, :week, :localDate::date, :at WHERE :amount > 0
     ), weekly AS (
       INSERT INTO ${S}.weekly_xp (iso_week, user_id, xp) SELECT :week, :userId, :amount WHERE :amount > 0
       ON CONFLICT (iso_week, user_id) DO UPDATE SET xp = weekly_xp.xp + EXCLUDED.xp RETURNING xp
     ), activity AS (
       INSERT INTO ${S}.activity_days (user_id, local_date, xp, lessons, attempts, reviews)
       VALUES (:userId, :localDate::date, :dayXp, :lessons, :attempts, :reviews)
       ON CONFLICT (user_id, local_date) DO UPDATE SET xp = activity_days.xp + EXCLUDED.xp,
         lessons = activity_days.lessons + EXCLUDED.lessons, attempts = activity_days.attempts + EXCLUDED.attempts,
         reviews = activity_days.reviews + EXCLUDED.reviews
     )
     SELECT (SELECT xp FROM learner) AS xp_total,
       COALESCE((SELECT xp FROM weekly),
                (SELECT xp FROM ${S}.weekly_xp WHERE iso_week = :week AND user_id = :userId), 0) AS weekly_xp,
       (SELECT COUNT(*) FROM ${S}.lesson_completions WHERE user_id = :userId) AS lessons,
       (SELECT COUNT(*) FROM ${S}.enrollments WHERE user_id = :userId AND completed_at IS NOT NULL) AS courses,
       ARRAY(SELECT code FROM ${S}.achievements WHERE user_id = :userId) AS unlocked`,
    {
      userId: e.userId,
      amount: e.amount,
      reason: e.reason,
      ref: e.ref,
      lessonId: e.lessonId,
      repeat: e.repeat,
      week: e.week,
      localDate: e.localDate,
      at: e.at,
      current: e.streak.current,
      longest: e.streak.longest,
      last: e.streak.lastActiveDate,
      freezes: e.streak.freezes,
      dayXp: e.activity.xp,
      lessons: e.activity.lessons,
      attempts: e.activity.attempts,
      reviews: e.activity.reviews,
    },
    t,
  );
  return {
    xpTotal: row?.xp_total ?? 0,
    weeklyXp: row?.weekly_xp ?? 0,
    completedLessons: Number(row?.lessons ?? 0),
    completedCourses: Number(row?.courses ?? 0),
    unlocked: row?.unlocked ?? [],
  };
}

/**
 * A learner's days as seen from one time zone: the ledger's instants and the first
 * completions are put on the dates of `timeZone` (the learner's zone now), so XP earned
 * under an earlier zone stays on the calendar after a move, on the day it happened there.
 */
const DAY_BOUNDS = `occurred_at >= (:from::date - 1) AND occurred_at < (:to::date + 2)`;

export async function activityBetween(
  db: Db,
  userId: string,
  timeZone: string,
  from: string,
  to: string,
): Promise<Array<{ date: string; xp: number; lessons: number }>> {
  return rows(
    db,
    `WITH xp AS (
       SELECT (occurred_at AT TIME ZONE :timeZone)::date AS day, SUM(amount) AS xp FROM ${S}.xp_ledger
       WHERE user_id = :userId AND ${DAY_BOUNDS} GROUP BY 1
     ), done AS (
       SELECT (first_completed_at AT TIME ZONE :timeZone)::date AS day, COUNT(*) AS lessons
       FROM ${S}.lesson_completions
       WHERE user_id = :userId AND first_completed_at >= (:from::date - 1) AND first_completed_at < (:to::date + 2)
       GROUP BY 1
     )
     SELECT day::text AS date, COALESCE(xp.xp, 0)::int AS xp, COALESCE(done.lessons, 0)::int AS lessons
     FROM xp FULL JOIN done USING (day)
     WHERE day BETWEEN :from::date AND :to::date ORDER BY day`,
    { userId, timeZone, from, to },
  );
}

/** What repeats of one lesson paid the learner on a local date (the daily cap per lesson). */
export async function repeatXpOn(
  db: Db,
  c: { userId: string; lessonId: string; timeZone: string; date: string },
  t: Transaction,
): Promise<number> {
  const row = await one<{ xp: string | null }>(
    db,
    `SELECT SUM(amount) AS xp FROM ${S}.xp_ledger
     WHERE user_id = :userId AND lesson_id = :lessonId AND repeat AND ${DAY_BOUNDS}
       AND (occurred_at AT TIME ZONE :timeZone)::date = :from::date`,
    { ...c, from: c.date, to: c.date },
    t,
  );
  return Number(row?.xp ?? 0);
}
