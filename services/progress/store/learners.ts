import type { Transaction } from "sequelize";
import type { StreakState } from "../streaks";
import { exec, one, rows, S, type Db } from "./sql";

/** Learners: the copy of users' profile, XP total and streak; reminders claimed; erasure. */

export interface LearnerRow {
  user_id: string;
  name: string;
  timezone: string;
  daily_goal_xp: number;
  xp: number;
  streak_current: number;
  streak_longest: number;
  streak_last_date: string | null;
  streak_freezes: number;
}

const LEARNER_COLUMNS = `user_id, name, timezone, daily_goal_xp, xp, streak_current, streak_longest,
  streak_last_date::text AS streak_last_date, streak_freezes`;

export function streakOf(row: LearnerRow): StreakState {
  return {
    current: row.streak_current,
    longest: row.streak_longest,
    lastActiveDate: row.streak_last_date,
    freezes: row.streak_freezes,
  };
}

export async function findLearner(
  db: Db,
  userId: string,
  t?: Transaction,
): Promise<LearnerRow | undefined> {
  return one<LearnerRow>(
    db,
    `SELECT ${LEARNER_COLUMNS} FROM ${S}.learners WHERE user_id = :userId`,
    { userId },
    t,
  );
}

/** The learner row, locked for the rest of `t`: every award of one learner runs one at a time. */
export async function lockLearner(db: Db, userId: string, t: Transaction): Promise<LearnerRow> {
  await exec(
    db,
    `INSERT INTO ${S}.learners (user_id) VALUES (:userId) ON CONFLICT (user_id) DO NOTHING`,
    { userId },
    t,
  );
  const row = await one<LearnerRow>(
    db,
    `SELECT ${LEARNER_COLUMNS} FROM ${S}.learners WHERE user_id = :userId FOR UPDATE`,
    { userId },
    t,
  );
  return row as LearnerRow;
}

export interface LearnerProfile {
  name?: string;
  timezone?: string;
  dailyGoalXp?: number;
}

/** Creates the learner or refreshes what users told us (name, time zone, daily goal). */
export async function upsertLearner(
  db: Db,
  userId: string,
  p: LearnerProfile,
  t?: Transaction,
): Promise<void> {
  await exec(
    db,
    `INSERT INTO ${S}.learners (user_id, name, timezone, daily_goal_xp)
     VALUES (:userId, COALESCE(:name, ''), COALESCE(:timezone, 'UTC'), COALESCE(:goal, 20))
     ON CONFLICT (user_id) DO UPDATE SET
       name = COALESCE(:name, learners.name),
       timezone = COALESCE(:timezone, learners.timezone),
       daily_goal_xp = COALESCE(:goal, learners.daily_goal_xp),
       updated_at = now()`,
    { userId, name: p.name ?? null, timezone: p.timezone ?? null, goal: p.dailyGoalXp ?? null },
    t,
  );
}

/**
 * `upsertLearner` of name and time zone for many learners in one statement (a batch of
 * user.updated events): the last change of each learner wins, as one by one in order.
 */
export async function upsertLearnerNames(
  db: Db,
  changes: Array<{ userId: string; name: string; timezone: string }>,
  t: Transaction,
): Promise<void> {
  const last = new Map(changes.map(c => [c.userId, c]));
  if (last.size === 0) return;
  const list = [...last.values()];
  await exec(
    db,
    `INSERT INTO ${S}.learners (user_id, name, timezone)
     SELECT u.user_id, COALESCE(u.name, ''), COALESCE(u.timezone, 'UTC')
     FROM unnest(ARRAY[:ids]::text[], ARRAY[:names]::text[], ARRAY[:zones]::text[]) AS u(user_id, name, timezone)
     ON CONFLICT (user_id) DO UPDATE SET
       name = COALESCE(EXCLUDED.name, learners.name),
       timezone = COALESCE(EXCLUDED.timezone, learners.timezone),
       updated_at = now()`,
    {
      ids: list.map(c => c.userId),
      names: list.map(c => c.name),
      zones: list.map(c => c.timezone),
    },
    t,
  );
}

export async function saveLearnerProgress(
  db: Db,
  userId: string,
  xpGained: number,
  streak: StreakState,
  t: Transaction,
): Promise<number> {
  const row = await one<{ xp: number }>(
    db,
    `UPDATE ${S}.learners SET xp = xp + :xpGained, streak_current = :current, streak_longest = :longest,
       streak_last_date = :last::date, streak_freezes = :freezes, updated_at = now()
     WHERE user_id = :userId RETURNING xp`,
    {
      userId,
      xpGained,
      current: streak.current,
      longest: streak.longest,
      last: streak.lastActiveDate,
      freezes: streak.freezes,
    },
    t,
  );
  return row?.xp ?? 0;
}

// Streak reminders -------------------------------------------------------------------

/** Learners whose streak may still be alive (a freeze covers at most MAX_FREEZES days). */
export async function streakCandidates(
  db: Db,
  since: string,
  t: Transaction,
): Promise<LearnerRow[]> {
  return rows<LearnerRow>(
    db,
    `SELECT ${LEARNER_COLUMNS} FROM ${S}.learners WHERE streak_current > 0 AND streak_last_date >= :since::date`,
    { since },
    t,
  );
}

export async function claimReminder(
  db: Db,
  userId: string,
  localDate: string,
  at: Date,
  t: Transaction,
): Promise<boolean> {
  const row = await one<{ user_id: string }>(
    db,
    `INSERT INTO ${S}.streak_reminders (user_id, local_date, sent_at) VALUES (:userId, :localDate::date, :at)
     ON CONFLICT (user_id, local_date) DO NOTHING RETURNING user_id`,
    { userId, localDate, at },
    t,
  );
  return row !== undefined;
}

// Erasure ----------------------------------------------------------------------------

export const USER_TABLES = [
  "learners",
  "enrollments",
  "lesson_completions",
  "attempts",
  "idempotency_keys",
  "xp_ledger",
  "weekly_xp",
  "activity_days",
  "achievements",
  "review_cards",
  "review_logs",
  "streak_reminders",
] as const;

export async function eraseUser(db: Db, userId: string, t: Transaction): Promise<void> {
  for (const table of USER_TABLES) {
    await exec(db, `DELETE FROM ${S}.${table} WHERE user_id = :userId`, { userId }, t);
  }
}

/** The learner row with what the progress view adds to it, read in one round trip. */
export interface LearnerSummaryRow extends LearnerRow {
  completed_lessons: string;
  /** XP per local date of the learner's activity days between the dates asked for. */
  xp_by_date: Record<string, number>;
}

/** The learner, their completed lesson count and their XP per day of `from`…`to` (local dates). */
export async function learnerSummary(
  db: Db,
  userId: string,
  from: string,
  to: string,
): Promise<LearnerSummaryRow | undefined> {
  return one<LearnerSummaryRow>(
    db,
    `SELECT ${LEARNER_COLUMNS},
       (SELECT COUNT(*) FROM ${S}.lesson_completions lc WHERE lc.user_id = l.user_id) AS completed_lessons,
       COALESCE((SELECT json_object_agg(a.local_date::text, a.xp) FROM ${S}.activity_days a
                 WHERE a.user_id = l.user_id AND a.local_date BETWEEN :from::date AND :to::date),
                '{}'::json) AS xp_by_date
     FROM ${S}.learners l WHERE l.user_id = :userId`,
    { userId, from, to },
  );
}
