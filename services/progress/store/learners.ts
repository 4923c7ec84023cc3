import type { Transaction } from "sequelize";
import { newestPerUser } from "../../../lib/events/newest";
import type { StreakState } from "../streaks";
import { eraseCertificates } from "./certificates";
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

/** Learners erased (user.deleted): no row of theirs is ever written again. */
const NOT_ERASED = `NOT EXISTS (SELECT 1 FROM ${S}.erased_users e WHERE e.user_id = :userId)`;

/**
 * The learner row, locked for the rest of `t`: every award of one learner runs one at a
 * time. Undefined for an erased learner — checked after the lock too, so an erasure that
 * committed while this waited is seen.
 */
export async function lockLearner(
  db: Db,
  userId: string,
  t: Transaction,
): Promise<LearnerRow | undefined> {
  const lock = () =>
    one<LearnerRow>(
      db,
      `SELECT ${LEARNER_COLUMNS} FROM ${S}.learners WHERE user_id = :userId AND ${NOT_ERASED} FOR UPDATE`,
      { userId },
      t,
    );
  // The row is there but for a learner's first change: one statement on the hot path.
  const found = await lock();
  if (found) return found;
  await exec(
    db,
    `INSERT INTO ${S}.learners (user_id) SELECT :userId WHERE ${NOT_ERASED} ON CONFLICT (user_id) DO NOTHING`,
    { userId },
    t,
  );
  return lock();
}

/** The write is newer than the name and time zone the row holds (or carries no sequence). */
const NEWER = `(EXCLUDED.profile_sequence = 0 OR EXCLUDED.profile_sequence > learners.profile_sequence)`;

export interface LearnerProfile {
  name?: string;
  timezone?: string;
  dailyGoalXp?: number;
  /** The user.* event's sequence: name and time zone change only when it is newer than the row's. */
  sequence?: number;
}

/**
 * Serialises the writers of these learners' profile across nodes until `t` ends: the
 * user.* handlers and the erasure. Without it, an erasure on one node and a user.updated
 * on another both commit and the erased learner is back (each checked the tombstone
 * before the other committed); after the lock, each statement sees what the other did.
 * Sorted, so two batches locking overlapping learners take them in the same order.
 */
async function lockLearnerProfiles(db: Db, userIds: string[], t: Transaction): Promise<void> {
  if (userIds.length === 0) return;
  await rows(
    db,
    `SELECT pg_advisory_xact_lock(k) FROM (
       SELECT DISTINCT hashtextextended('progress:learner:' || id, 0) AS k FROM unnest(ARRAY[:userIds]::text[]) AS id
       ORDER BY k) keys`,
    { userIds },
    t,
  );
}

/**
 * Creates the learner or refreshes what users told us (name, time zone, daily goal),
 * under the learner's profile lock (in a transaction of its own when not given one).
 */
export async function upsertLearner(
  db: Db,
  userId: string,
  p: LearnerProfile,
  t?: Transaction,
): Promise<void> {
  if (!t) {
    await db.sequelize.transaction(own => upsertLearner(db, userId, p, own));
    return;
  }
  await lockLearnerProfiles(db, [userId], t);
  await exec(
    db,
    `INSERT INTO ${S}.learners (user_id, name, timezone, daily_goal_xp, profile_sequence)
     SELECT :userId, COALESCE(:name, ''), COALESCE(:timezone, 'UTC'), COALESCE(:goal, 20),
       COALESCE(CAST(:sequence AS bigint), 0) WHERE ${NOT_ERASED}
     ON CONFLICT (user_id) DO UPDATE SET
       name = CASE WHEN ${NEWER} THEN COALESCE(:name, learners.name) ELSE learners.name END,
       timezone = CASE WHEN ${NEWER} THEN COALESCE(:timezone, learners.timezone) ELSE learners.timezone END,
       daily_goal_xp = COALESCE(:goal, learners.daily_goal_xp),
       profile_sequence = GREATEST(learners.profile_sequence, EXCLUDED.profile_sequence),
       updated_at = now()`,
    {
      userId,
      name: p.name ?? null,
      timezone: p.timezone ?? null,
      goal: p.dailyGoalXp ?? null,
      sequence: p.sequence ?? null,
    },
    t,
  );
}

/**
 * `upsertLearner` of name and time zone for many learners in one statement (a batch of
 * user.updated events): per learner the newest event (by sequence; without one, the last
 * given) wins, and none older than what the row holds is applied.
 */
export async function upsertLearnerNames(
  db: Db,
  changes: Array<{ userId: string; name: string; timezone: string; sequence?: number }>,
  t: Transaction,
): Promise<void> {
  const list = newestPerUser(changes);
  if (list.length === 0) return;
  await lockLearnerProfiles(
    db,
    list.map(c => c.userId),
    t,
  );
  await exec(
    db,
    `INSERT INTO ${S}.learners (user_id, name, timezone, profile_sequence)
     SELECT u.user_id, COALESCE(u.name, ''), COALESCE(u.timezone, 'UTC'), COALESCE(u.sequence, 0)
     FROM unnest(ARRAY[:ids]::text[], ARRAY[:names]::text[], ARRAY[:zones]::text[], ARRAY[:sequences]::bigint[])
       AS u(user_id, name, timezone, sequence)
     WHERE NOT EXISTS (SELECT 1 FROM ${S}.erased_users e WHERE e.user_id = u.user_id)
     ON CONFLICT (user_id) DO UPDATE SET
       name = CASE WHEN ${NEWER} THEN COALESCE(EXCLUDED.name, learners.name) ELSE learners.name END,
       timezone = CASE WHEN ${NEWER} THEN COALESCE(EXCLUDED.timezone, learners.timezone) ELSE learners.timezone END,
       profile_sequence = GREATEST(learners.profile_sequence, EXCLUDED.profile_sequence),
       updated_at = now()`,
    {
      ids: list.map(c => c.userId),
      names: list.map(c => c.name),
      zones: list.map(c => c.timezone),
      sequences: list.map(c => c.sequence ?? null),
    },
    t,
  );
}

/**
 * The learner's next progress-event sequence (events.md: every event carries its
 * aggregate's version), counted on the learner row in the event's transaction.
 */
export function nextEventSequence(db: Db, userId: string, t: Transaction): Promise<number> {
  return reserveEventSequences(db, userId, 1, t);
}

/**
 * Reserves the learner's next `count` progress-event sequences in one write (a change's
 * events, emitted together): answers the first.
 */
export async function reserveEventSequences(
  db: Db,
  userId: string,
  count: number,
  t: Transaction,
): Promise<number> {
  const row = await one<{ event_sequence: string }>(
    db,
    `UPDATE ${S}.learners SET event_sequence = event_sequence + :count WHERE user_id = :userId RETURNING event_sequence`,
    { userId, count },
    t,
  );
  if (!row) throw new Error(`learner ${userId} has no row to version a progress event by`);
  return Number(row.event_sequence) - count + 1;
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

const USER_TABLES = [
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
  "skill_ratings",
  "practice_quizzes",
  "review_waves",
  "placement_tests",
  "home_summaries",
] as const;

/** Deletes every row of the learner and keeps a tombstone that the write paths check. */
export async function eraseUser(db: Db, userId: string, t: Transaction): Promise<void> {
  await lockLearnerProfiles(db, [userId], t);
  await exec(
    db,
    `INSERT INTO ${S}.erased_users (user_id, erased_at) VALUES (:userId, now()) ON CONFLICT (user_id) DO NOTHING`,
    { userId },
    t,
  );
  await eraseCertificates(db, userId, t);
  for (const table of USER_TABLES) {
    await exec(db, `DELETE FROM ${S}.${table} WHERE user_id = :userId`, { userId }, t);
  }
}

/** Everything progress holds about a user (GET /me/export), table by table: what erasure deletes. */
export async function exportUser(db: Db, userId: string): Promise<Record<string, unknown[]>> {
  const tables: Record<string, unknown[]> = {};
  for (const table of USER_TABLES) {
    tables[table] = await rows(db, `SELECT * FROM ${S}.${table} WHERE user_id = :userId`, {
      userId,
    });
  }
  return tables;
}

/** The learner row with what the progress view adds to it, read in one round trip. */
export interface LearnerSummaryRow extends LearnerRow {
  completed_lessons: string;
  /** The XP entries since the instant asked for: [occurredAt, amount], put on days by the caller. */
  recent_xp: Array<[string, number]>;
}

/**
 * The learner, their completed lesson count and their XP entries since `since`: the
 * learner's zone may be about to change (users' profile is read at the same time), so
 * the entries are put on local dates by the caller, in the zone that is current.
 */
export async function learnerSummary(
  db: Db,
  userId: string,
  since: Date,
  t?: Transaction,
): Promise<LearnerSummaryRow | undefined> {
  return one<LearnerSummaryRow>(
    db,
    `SELECT ${LEARNER_COLUMNS},
       (SELECT COUNT(*) FROM ${S}.lesson_completions lc WHERE lc.user_id = l.user_id) AS completed_lessons,
       COALESCE((SELECT json_agg(json_build_array(x.occurred_at, x.amount)) FROM ${S}.xp_ledger x
                 WHERE x.user_id = l.user_id AND x.occurred_at >= :since),
                '[]'::json) AS recent_xp
     FROM ${S}.learners l WHERE l.user_id = :userId`,
    { userId, since },
    t,
  );
}
