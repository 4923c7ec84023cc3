import type { Transaction } from "sequelize";
import { exec, one, rows, S, type Db } from "./sql";

/** The XP ledger, weekly XP totals and each learner's activity by local day. */

export interface XpEntry {
  userId: string;
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
}

/** Records XP and returns the learner's total of that ISO week. */
export async function addXp(db: Db, e: XpEntry, t: Transaction): Promise<number> {
  await exec(
    db,
    `INSERT INTO ${S}.xp_ledger (user_id, amount, reason, ref, lesson_id, repeat, iso_week, local_date, occurred_at)
     VALUES (:userId, :amount, :reason, :ref, :lessonId, :repeat, :week, :localDate::date, :at)`,
    { ...e },
    t,
  );
  const row = await one<{ xp: number }>(
    db,
    `INSERT INTO ${S}.weekly_xp (iso_week, user_id, xp) VALUES (:week, :userId, :amount)
     ON CONFLICT (iso_week, user_id) DO UPDATE SET xp = weekly_xp.xp + EXCLUDED.xp RETURNING xp`,
    { week: e.week, userId: e.userId, amount: e.amount },
    t,
  );
  return row?.xp ?? 0;
}

export async function weeklyXp(
  db: Db,
  userId: string,
  week: string,
  t?: Transaction,
): Promise<number> {
  const row = await one<{ xp: number }>(
    db,
    `SELECT xp FROM ${S}.weekly_xp WHERE iso_week = :week AND user_id = :userId`,
    { week, userId },
    t,
  );
  return row?.xp ?? 0;
}

export interface ActivityDelta {
  xp: number;
  lessons: number;
  attempts: number;
  reviews: number;
}

export async function addActivity(
  db: Db,
  userId: string,
  localDate: string,
  d: ActivityDelta,
  t: Transaction,
): Promise<void> {
  await exec(
    db,
    `INSERT INTO ${S}.activity_days (user_id, local_date, xp, lessons, attempts, reviews)
     VALUES (:userId, :localDate::date, :xp, :lessons, :attempts, :reviews)
     ON CONFLICT (user_id, local_date) DO UPDATE SET xp = activity_days.xp + EXCLUDED.xp,
       lessons = activity_days.lessons + EXCLUDED.lessons, attempts = activity_days.attempts + EXCLUDED.attempts,
       reviews = activity_days.reviews + EXCLUDED.reviews`,
    { userId, localDate, ...d },
    t,
  );
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
