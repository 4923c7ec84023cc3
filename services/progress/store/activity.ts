import type { Transaction } from "sequelize";
import { exec, one, rows, S, type Db } from "./sql";

/** The XP ledger, weekly XP totals and each learner's activity by local day. */

export interface XpEntry {
  userId: string;
  amount: number;
  reason: string;
  ref: string;
  week: string;
  localDate: string;
  at: Date;
}

/** Records XP and returns the learner's total of that ISO week. */
export async function addXp(db: Db, e: XpEntry, t: Transaction): Promise<number> {
  await exec(
    db,
    `INSERT INTO ${S}.xp_ledger (user_id, amount, reason, ref, iso_week, local_date, occurred_at)
     VALUES (:userId, :amount, :reason, :ref, :week, :localDate::date, :at)`,
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

export async function activityBetween(
  db: Db,
  userId: string,
  from: string,
  to: string,
): Promise<Array<{ date: string; xp: number; lessons: number }>> {
  return rows(
    db,
    `SELECT local_date::text AS date, xp, lessons FROM ${S}.activity_days
     WHERE user_id = :userId AND local_date BETWEEN :from::date AND :to::date ORDER BY local_date`,
    { userId, from, to },
  );
}

export async function xpOnDate(db: Db, userId: string, localDate: string): Promise<number> {
  const row = await one<{ xp: number }>(
    db,
    `SELECT xp FROM ${S}.activity_days WHERE user_id = :userId AND local_date = :localDate::date`,
    { userId, localDate },
  );
  return row?.xp ?? 0;
}
