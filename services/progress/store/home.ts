import type { Transaction } from "sequelize";
import type { EnrolledCourse } from "../../../models/enrollment.model";
import type { StreakState } from "../streaks";
import { exec, one, S, type Db } from "./sql";

/**
 * The learners' home summaries (GET /me/dashboard's read model): one row a learner with
 * what changes only with an event (their progress, their courses, the unread count) and
 * what the read needs to decide what changes with time alone (their zone, the new cards a day).
 */

/** What the progress view is computed from; the view itself also moves with the local day. */
export interface ProgressSnapshot {
  xp: number;
  streak: StreakState;
  completedLessons: number;
  /** XP entries of the last two days at the build ([occurredAt, amount]): today's are summed at read. */
  recentXp: Array<[string, number]>;
}

/** A due card as the home statement reads it (review_cards, due at the read). */
interface DueCardRow {
  card_id: string;
  lesson_id: string;
  front: string;
  back: string;
  due: string;
}

/** The home statement's answer: the summary (absent fields: no row) beside the learner's current sequence. */
export interface HomeRow {
  /** The learner's progress-event counter now; null: progress has no row of them yet. */
  event_sequence: string | null;
  /** The counter the summary reflects: null without a row, -1 when it is to be rebuilt. */
  sequence: string | null;
  generation: string | null;
  progress: ProgressSnapshot | null;
  courses: EnrolledCourse[] | null;
  timezone: string | null;
  daily_goal_xp: number | null;
  unread: number | null;
  due_cards: DueCardRow[];
  /** The earliest due time of the learner's cards not due at the read (null: none). */
  next_due: Date | null;
}

/** FSRS's state of a card never reviewed (ts-fsrs State.New): what `newCardsPerDay` limits. */
const NEW = 0;

/**
 * The learner's summary, their current event sequence and the cards due at `now` — at most
 * `new_cards_per_day` never-reviewed ones less those first reviewed on today's local date —
 * with the next due time after `now`, in one statement. The due cards are read from
 * review_cards, not stored: they change with time alone, and the index (user_id, due)
 * answers them directly.
 */
export async function homeOf(db: Db, userId: string, now: Date, limit: number): Promise<HomeRow> {
  const row = await one<HomeRow>(
    db,
    `SELECT l.event_sequence, h.sequence, h.generation, h.progress, h.courses, h.timezone, h.daily_goal_xp,
       h.unread,
       CASE WHEN h.user_id IS NULL THEN '[]'::json ELSE COALESCE((
         SELECT json_agg(json_build_object('card_id', d.card_id, 'lesson_id', d.lesson_id, 'front', d.front,
                  'back', d.back, 'due', d.due) ORDER BY d.due, d.lesson_id, d.card_id)
         FROM (
           (SELECT card_id, lesson_id, front, back, due FROM ${S}.review_cards
             WHERE user_id = :userId AND due <= :now AND state <> ${NEW})
           UNION ALL
           (SELECT card_id, lesson_id, front, back, due FROM ${S}.review_cards
             WHERE user_id = :userId AND due <= :now AND state = ${NEW}
             ORDER BY due, lesson_id, card_id
             LIMIT GREATEST(0, h.new_cards_per_day - (
               SELECT COUNT(*) FROM ${S}.review_logs r WHERE r.user_id = :userId AND r.state = ${NEW}
                 AND (r.reviewed_at AT TIME ZONE h.timezone)::date = (CAST(:now AS timestamptz) AT TIME ZONE h.timezone)::date)))
           ORDER BY due, lesson_id, card_id LIMIT :limit
         ) d), '[]'::json) END AS due_cards,
       (SELECT min(due) FROM ${S}.review_cards WHERE user_id = :userId AND due > :now) AS next_due
     FROM (SELECT CAST(:userId AS text) AS user_id) me
     LEFT JOIN ${S}.learners l ON l.user_id = me.user_id
     LEFT JOIN ${S}.home_summaries h ON h.user_id = me.user_id`,
    { userId, now, limit },
  );
  if (!row) throw new Error("the home statement answered no row");
  return row;
}

export interface HomeSummary {
  /** The learner's event sequence read before the sources were: the summary reflects at least it. */
  sequence: number;
  progress: ProgressSnapshot;
  courses: EnrolledCourse[];
  timezone: string;
  dailyGoalXp: number;
  newCardsPerDay: number;
}

const NOT_ERASED = `NOT EXISTS (SELECT 1 FROM ${S}.erased_users e WHERE e.user_id = :userId)`;

/**
 * Stores a summary built from the sources at the read, unless a newer one is there or the
 * row was marked for a rebuild since `generation` was read (what it was built from may be
 * older than that change). The unread count is notify's, not touched here.
 */
export async function saveHomeSummary(
  db: Db,
  userId: string,
  s: HomeSummary & { generation: number },
): Promise<void> {
  await exec(
    db,
    `INSERT INTO ${S}.home_summaries AS h (user_id, sequence, progress, courses, timezone, daily_goal_xp,
       new_cards_per_day)
     SELECT :userId, :sequence, CAST(:progress AS jsonb), CAST(:courses AS jsonb), :timezone, :dailyGoalXp,
       :newCardsPerDay WHERE ${NOT_ERASED}
     ON CONFLICT (user_id) DO UPDATE SET sequence = EXCLUDED.sequence, progress = EXCLUDED.progress,
       courses = EXCLUDED.courses, timezone = EXCLUDED.timezone, daily_goal_xp = EXCLUDED.daily_goal_xp,
       new_cards_per_day = EXCLUDED.new_cards_per_day, updated_at = now()
     WHERE h.generation = :generation AND h.sequence <= EXCLUDED.sequence`,
    {
      userId,
      sequence: s.sequence,
      progress: JSON.stringify(s.progress),
      courses: JSON.stringify(s.courses),
      timezone: s.timezone,
      dailyGoalXp: s.dailyGoalXp,
      newCardsPerDay: s.newCardsPerDay,
      generation: s.generation,
    },
  );
}

/**
 * The built summary of a learner, locked until `t` ends, with the learner's event sequence
 * (what `t` has seen committed); undefined when none is built.
 */
export async function lockHomeSummary(
  db: Db,
  userId: string,
  t: Transaction,
): Promise<{ courses: EnrolledCourse[]; event_sequence: string } | undefined> {
  return one<{ courses: EnrolledCourse[]; event_sequence: string }>(
    db,
    `SELECT h.courses, l.event_sequence FROM ${S}.home_summaries h
     JOIN ${S}.learners l ON l.user_id = h.user_id
     WHERE h.user_id = :userId AND h.sequence >= 0 FOR UPDATE OF h`,
    { userId },
    t,
  );
}

/** A consumer's update of a built summary (its row locked by `lockHomeSummary`). */
export async function updateHomeSummary(
  db: Db,
  userId: string,
  s: Pick<HomeSummary, "sequence" | "progress" | "courses">,
  t: Transaction,
): Promise<void> {
  await exec(
    db,
    `UPDATE ${S}.home_summaries SET sequence = :sequence, progress = CAST(:progress AS jsonb),
       courses = CAST(:courses AS jsonb), updated_at = now()
     WHERE user_id = :userId AND sequence <= :sequence`,
    {
      userId,
      sequence: s.sequence,
      progress: JSON.stringify(s.progress),
      courses: JSON.stringify(s.courses),
    },
    t,
  );
}

/** notify's unread count of a learner, unless a newer one (by version) is held. */
export async function saveUnreadCount(
  db: Db,
  c: { userId: string; unread: number; version: number },
  t: Transaction,
): Promise<void> {
  await exec(
    db,
    `INSERT INTO ${S}.home_summaries AS h (user_id, unread, unread_version)
     SELECT :userId, :unread, :version WHERE ${NOT_ERASED}
     ON CONFLICT (user_id) DO UPDATE SET unread = EXCLUDED.unread, unread_version = EXCLUDED.unread_version,
       updated_at = now()
     WHERE h.unread_version < EXCLUDED.unread_version`,
    c,
    t,
  );
}

/** notify's count as it answered, for a summary that has none yet (any inbox change since wins). */
export async function seedUnreadCount(db: Db, userId: string, unread: number): Promise<void> {
  await exec(
    db,
    `INSERT INTO ${S}.home_summaries AS h (user_id, unread) SELECT :userId, :unread WHERE ${NOT_ERASED}
     ON CONFLICT (user_id) DO UPDATE SET unread = EXCLUDED.unread WHERE h.unread IS NULL`,
    { userId, unread },
  );
}

/** Marks the summaries of these learners for a rebuild at their next read (their profile changed). */
export async function staleHomesOf(db: Db, userIds: string[], t: Transaction): Promise<void> {
  if (userIds.length === 0) return;
  await exec(
    db,
    `UPDATE ${S}.home_summaries SET sequence = -1, generation = generation + 1 WHERE user_id IN (:userIds)`,
    { userIds },
    t,
  );
}

/** Marks for a rebuild the summaries of the learners enrolled in a course content changed. */
export async function staleHomesOfCourse(db: Db, courseId: string, t: Transaction): Promise<void> {
  await exec(
    db,
    `UPDATE ${S}.home_summaries h SET sequence = -1, generation = h.generation + 1
     FROM ${S}.enrollments e WHERE e.course_id = :courseId AND e.user_id = h.user_id`,
    { courseId },
    t,
  );
}
