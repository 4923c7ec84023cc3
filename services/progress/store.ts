import { QueryTypes, type Sequelize, type Transaction } from "sequelize";
import type { StreakState } from "./streaks";
import type { CardState } from "./srs";

/**
 * SQL of the progress schema, one function a question. Every write takes the caller's
 * transaction; reads that happen inside one take it too (the embedded store serves one
 * transaction at a time, so a query outside it would wait for ever).
 */

export const SCHEMA = "progress";
const S = `"${SCHEMA}"`;

export interface Db {
  sequelize: Sequelize;
}

type Replacements = Record<string, unknown>;

export async function rows<T extends object>(
  db: Db,
  sql: string,
  replacements: Replacements = {},
  t?: Transaction,
): Promise<T[]> {
  return db.sequelize.query<T>(sql, { replacements, type: QueryTypes.SELECT, transaction: t });
}

export async function one<T extends object>(
  db: Db,
  sql: string,
  replacements: Replacements = {},
  t?: Transaction,
): Promise<T | undefined> {
  return (await rows<T>(db, sql, replacements, t))[0];
}

export async function exec(
  db: Db,
  sql: string,
  replacements: Replacements = {},
  t?: Transaction,
): Promise<void> {
  await db.sequelize.query(sql, { replacements, type: QueryTypes.RAW, transaction: t });
}

/** PostgreSQL's unique_violation (23505), however Sequelize wraps it. */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as {
    name?: string;
    parent?: { code?: string };
    original?: { code?: string };
    code?: string;
  };
  return (
    e?.name === "SequelizeUniqueConstraintError" ||
    e?.parent?.code === "23505" ||
    e?.original?.code === "23505" ||
    e?.code === "23505"
  );
}

// Learners ---------------------------------------------------------------------------

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

// XP ledger, weekly totals, activity -----------------------------------------------------

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

// Courses and enrollments ------------------------------------------------------------

export interface CourseRow {
  course_id: string;
  title: string;
  level: string;
  version: number;
  lessons_version: number;
}

export async function findCourse(
  db: Db,
  courseId: string,
  t?: Transaction,
): Promise<CourseRow | undefined> {
  return one<CourseRow>(
    db,
    `SELECT course_id, title, level, version, lessons_version FROM ${S}.courses WHERE course_id = :courseId`,
    { courseId },
    t,
  );
}

export async function coursesByIds(db: Db, ids: string[]): Promise<CourseRow[]> {
  if (ids.length === 0) return [];
  return rows<CourseRow>(
    db,
    `SELECT course_id, title, level, version, lessons_version FROM ${S}.courses WHERE course_id IN (:ids)`,
    { ids },
  );
}

/** A newer published version is known (from the event): its lessons are fetched on next use. */
export async function markCoursePublished(
  db: Db,
  c: { courseId: string; version: number; title: string; level: string },
  t: Transaction,
): Promise<void> {
  await exec(
    db,
    `INSERT INTO ${S}.courses (course_id, title, level, version) VALUES (:courseId, :title, :level, :version)
     ON CONFLICT (course_id) DO UPDATE SET title = EXCLUDED.title, level = EXCLUDED.level,
       version = GREATEST(courses.version, EXCLUDED.version), updated_at = now()`,
    c,
    t,
  );
}

/** Replaces the lesson list of a course with that of a published version (never an older one). */
export async function saveCourseOutline(
  db: Db,
  o: {
    id: string;
    title: string;
    level: string;
    version: number;
    lessons: Array<{ id: string; kind: string }>;
  },
  t: Transaction,
): Promise<void> {
  const current = await one<{ lessons_version: number }>(
    db,
    `SELECT lessons_version FROM ${S}.courses WHERE course_id = :id FOR UPDATE`,
    { id: o.id },
    t,
  );
  if (current && current.lessons_version > o.version) return;
  await exec(
    db,
    `INSERT INTO ${S}.courses (course_id, title, level, version, lessons_version) VALUES (:id, :title, :level, :version, :version)
     ON CONFLICT (course_id) DO UPDATE SET title = EXCLUDED.title, level = EXCLUDED.level,
       version = GREATEST(courses.version, EXCLUDED.version), lessons_version = EXCLUDED.lessons_version, updated_at = now()`,
    { id: o.id, title: o.title, level: o.level, version: o.version },
    t,
  );
  await exec(db, `DELETE FROM ${S}.course_lessons WHERE course_id = :id`, { id: o.id }, t);
  for (const lesson of o.lessons) {
    await exec(
      db,
      `INSERT INTO ${S}.course_lessons (course_id, lesson_id, kind) VALUES (:courseId, :lessonId, :kind) ON CONFLICT DO NOTHING`,
      { courseId: o.id, lessonId: lesson.id, kind: lesson.kind },
      t,
    );
  }
}

export async function dropLesson(db: Db, lessonId: string, t: Transaction): Promise<void> {
  await exec(db, `DELETE FROM ${S}.course_lessons WHERE lesson_id = :lessonId`, { lessonId }, t);
  await exec(db, `DELETE FROM ${S}.review_cards WHERE lesson_id = :lessonId`, { lessonId }, t);
}

export interface EnrollmentRow {
  id: string;
  user_id: string;
  course_id: string;
  enrolled_at: Date;
  completed_at: Date | null;
  cards_version: number;
}

export async function insertEnrollment(
  db: Db,
  e: { id: string; userId: string; courseId: string; at: Date },
  t: Transaction,
): Promise<EnrollmentRow | undefined> {
  return one<EnrollmentRow>(
    db,
    `INSERT INTO ${S}.enrollments (id, user_id, course_id, enrolled_at) VALUES (:id, :userId, :courseId, :at)
     ON CONFLICT (user_id, course_id) DO NOTHING RETURNING *`,
    e,
    t,
  );
}

export async function findEnrollment(
  db: Db,
  userId: string,
  courseId: string,
  t?: Transaction,
): Promise<EnrollmentRow | undefined> {
  return one<EnrollmentRow>(
    db,
    `SELECT * FROM ${S}.enrollments WHERE user_id = :userId AND course_id = :courseId`,
    { userId, courseId },
    t,
  );
}

export async function enrollmentsOf(db: Db, userId: string): Promise<EnrollmentRow[]> {
  return rows<EnrollmentRow>(
    db,
    `SELECT * FROM ${S}.enrollments WHERE user_id = :userId ORDER BY enrolled_at DESC`,
    { userId },
  );
}

export async function setCardsVersion(
  db: Db,
  enrollmentId: string,
  version: number,
  t: Transaction,
): Promise<void> {
  await exec(
    db,
    `UPDATE ${S}.enrollments SET cards_version = GREATEST(cards_version, :version) WHERE id = :enrollmentId`,
    { enrollmentId, version },
    t,
  );
}

/** Completed lessons and total lessons (of the published version) for each of a learner's courses. */
export async function completionCounts(
  db: Db,
  userId: string,
  courseIds: string[],
  t?: Transaction,
): Promise<Map<string, { completed: number; total: number }>> {
  const result = new Map<string, { completed: number; total: number }>();
  if (courseIds.length === 0) return result;
  const counted = await rows<{ course_id: string; total: string; completed: string }>(
    db,
    `SELECT cl.course_id, COUNT(*) AS total, COUNT(lc.lesson_id) AS completed
     FROM ${S}.course_lessons cl
     LEFT JOIN ${S}.lesson_completions lc ON lc.lesson_id = cl.lesson_id AND lc.user_id = :userId
     WHERE cl.course_id IN (:courseIds) GROUP BY cl.course_id`,
    { userId, courseIds },
    t,
  );
  for (const row of counted)
    result.set(row.course_id, { completed: Number(row.completed), total: Number(row.total) });
  return result;
}

/** Marks the course completed once; true when this call did it. */
export async function completeEnrollment(
  db: Db,
  userId: string,
  courseId: string,
  at: Date,
  t: Transaction,
): Promise<boolean> {
  const row = await one<{ id: string }>(
    db,
    `UPDATE ${S}.enrollments SET completed_at = :at WHERE user_id = :userId AND course_id = :courseId AND completed_at IS NULL RETURNING id`,
    { userId, courseId, at },
    t,
  );
  return row !== undefined;
}

export async function completedCourseCount(
  db: Db,
  userId: string,
  t?: Transaction,
): Promise<number> {
  const row = await one<{ n: string }>(
    db,
    `SELECT COUNT(*) AS n FROM ${S}.enrollments WHERE user_id = :userId AND completed_at IS NOT NULL`,
    { userId },
    t,
  );
  return Number(row?.n ?? 0);
}

// Lessons and attempts -----------------------------------------------------------------

/** Records a completion; true when it is the learner's first of this lesson. */
export async function recordCompletion(
  db: Db,
  c: { userId: string; lessonId: string; courseId: string; score: number | null; at: Date },
  t: Transaction,
): Promise<boolean> {
  const inserted = await one<{ lesson_id: string }>(
    db,
    `INSERT INTO ${S}.lesson_completions (user_id, lesson_id, course_id, best_score, first_completed_at, last_completed_at)
     VALUES (:userId, :lessonId, :courseId, :score, :at, :at) ON CONFLICT (user_id, lesson_id) DO NOTHING RETURNING lesson_id`,
    c,
    t,
  );
  if (inserted) return true;
  await exec(
    db,
    `UPDATE ${S}.lesson_completions SET completions = completions + 1, last_completed_at = :at,
       best_score = GREATEST(best_score, :score) WHERE user_id = :userId AND lesson_id = :lessonId`,
    c,
    t,
  );
  return false;
}

export async function completedLessonCount(
  db: Db,
  userId: string,
  t?: Transaction,
): Promise<number> {
  const row = await one<{ n: string }>(
    db,
    `SELECT COUNT(*) AS n FROM ${S}.lesson_completions WHERE user_id = :userId`,
    { userId },
    t,
  );
  return Number(row?.n ?? 0);
}

export async function insertAttempt(
  db: Db,
  a: {
    id: string;
    userId: string;
    lessonId: string;
    courseId: string;
    score: number;
    maxScore: number;
    passed: boolean;
    xpEarned: number;
    answers: unknown;
    results: unknown;
    at: Date;
  },
  t: Transaction,
): Promise<void> {
  await exec(
    db,
    `INSERT INTO ${S}.attempts (id, user_id, lesson_id, course_id, score, max_score, passed, xp_earned, answers, results, created_at)
     VALUES (:id, :userId, :lessonId, :courseId, :score, :maxScore, :passed, :xpEarned, :answers::jsonb, :results::jsonb, :at)`,
    { ...a, answers: JSON.stringify(a.answers), results: JSON.stringify(a.results) },
    t,
  );
}

// Idempotency ------------------------------------------------------------------------

export interface StoredAnswer {
  scope: string;
  request_hash: string;
  status: number;
  response: unknown;
}

export async function findIdempotent(
  db: Db,
  userId: string,
  key: string,
  t?: Transaction,
): Promise<StoredAnswer | undefined> {
  return one<StoredAnswer>(
    db,
    `SELECT scope, request_hash, status, response FROM ${S}.idempotency_keys WHERE user_id = :userId AND key = :key`,
    { userId, key },
    t,
  );
}

export async function saveIdempotent(
  db: Db,
  userId: string,
  key: string,
  a: StoredAnswer,
  t: Transaction,
): Promise<void> {
  await exec(
    db,
    `INSERT INTO ${S}.idempotency_keys (user_id, key, scope, request_hash, status, response)
     VALUES (:userId, :key, :scope, :hash, :status, :response::jsonb)`,
    {
      userId,
      key,
      scope: a.scope,
      hash: a.request_hash,
      status: a.status,
      response: JSON.stringify(a.response),
    },
    t,
  );
}

// Achievements -------------------------------------------------------------------------

/** Inserts the codes not yet unlocked; returns those this call unlocked. */
export async function unlockAchievements(
  db: Db,
  userId: string,
  codes: string[],
  at: Date,
  t: Transaction,
): Promise<string[]> {
  const unlocked: string[] = [];
  for (const code of codes) {
    const row = await one<{ code: string }>(
      db,
      `INSERT INTO ${S}.achievements (user_id, code, unlocked_at) VALUES (:userId, :code, :at)
       ON CONFLICT (user_id, code) DO NOTHING RETURNING code`,
      { userId, code, at },
      t,
    );
    if (row) unlocked.push(row.code);
  }
  return unlocked;
}

export async function achievementsOf(
  db: Db,
  userId: string,
): Promise<Array<{ code: string; unlocked_at: Date }>> {
  return rows(
    db,
    `SELECT code, unlocked_at FROM ${S}.achievements WHERE user_id = :userId ORDER BY unlocked_at, code`,
    { userId },
  );
}

// Leaderboard sources ----------------------------------------------------------------

export async function allTimeScores(db: Db): Promise<Array<{ userId: string; xp: number }>> {
  return rows(db, `SELECT user_id AS "userId", xp FROM ${S}.learners WHERE xp > 0`);
}

export async function weeklyScores(
  db: Db,
  week: string,
): Promise<Array<{ userId: string; xp: number }>> {
  return rows(
    db,
    `SELECT user_id AS "userId", xp FROM ${S}.weekly_xp WHERE iso_week = :week AND xp > 0`,
    { week },
  );
}

export async function learnerNames(db: Db, ids: string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const found = await rows<{ user_id: string; name: string }>(
    db,
    `SELECT user_id, name FROM ${S}.learners WHERE user_id IN (:ids)`,
    { ids },
  );
  return new Map(found.map(r => [r.user_id, r.name]));
}

/** Top and rank straight from PostgreSQL: the stand-in when no Redis is configured. Ties order by user id, as Redis does. */
export async function sqlTop(
  db: Db,
  week: string | null,
  limit: number,
): Promise<Array<{ userId: string; xp: number }>> {
  if (week === null) {
    return rows(
      db,
      `SELECT user_id AS "userId", xp FROM ${S}.learners WHERE xp > 0 ORDER BY xp DESC, user_id DESC LIMIT :limit`,
      { limit },
    );
  }
  return rows(
    db,
    `SELECT user_id AS "userId", xp FROM ${S}.weekly_xp WHERE iso_week = :week AND xp > 0 ORDER BY xp DESC, user_id DESC LIMIT :limit`,
    { week, limit },
  );
}

export async function sqlRank(
  db: Db,
  week: string | null,
  userId: string,
): Promise<{ rank: number | null; xp: number }> {
  const table = week === null ? `${S}.learners` : `${S}.weekly_xp`;
  const scope = week === null ? "TRUE" : "iso_week = :week";
  const mine = await one<{ xp: number }>(
    db,
    `SELECT xp FROM ${table} WHERE ${scope} AND user_id = :userId`,
    { week, userId },
  );
  const xp = mine?.xp ?? 0;
  if (xp <= 0) return { rank: null, xp: 0 };
  const ahead = await one<{ n: string }>(
    db,
    `SELECT COUNT(*) AS n FROM ${table} WHERE ${scope} AND (xp > :xp OR (xp = :xp AND user_id > :userId))`,
    { week, xp, userId },
  );
  return { rank: Number(ahead?.n ?? 0) + 1, xp };
}

// Flashcards ---------------------------------------------------------------------------

export interface CardRow {
  card_id: string;
  lesson_id: string;
  course_id: string;
  front: string;
  back: string;
  due: Date;
  stability: number;
  difficulty: number;
  elapsed_days: number;
  scheduled_days: number;
  learning_steps: number;
  reps: number;
  lapses: number;
  state: number;
  last_review: Date | null;
}

export function cardStateOf(row: CardRow): CardState {
  return {
    due: new Date(row.due),
    stability: Number(row.stability),
    difficulty: Number(row.difficulty),
    elapsedDays: row.elapsed_days,
    scheduledDays: row.scheduled_days,
    learningSteps: row.learning_steps,
    reps: row.reps,
    lapses: row.lapses,
    state: row.state,
    lastReview: row.last_review ? new Date(row.last_review) : null,
  };
}

function cardColumns(s: CardState): Replacements {
  return {
    due: s.due,
    stability: s.stability,
    difficulty: s.difficulty,
    elapsedDays: s.elapsedDays,
    scheduledDays: s.scheduledDays,
    learningSteps: s.learningSteps,
    reps: s.reps,
    lapses: s.lapses,
    state: s.state,
    lastReview: s.lastReview,
  };
}

/** Adds a card for the learner; an existing card keeps its schedule (only its text follows content). */
export async function upsertCard(
  db: Db,
  c: {
    userId: string;
    cardId: string;
    lessonId: string;
    courseId: string;
    front: string;
    back: string;
    initial: CardState;
  },
  t: Transaction,
): Promise<void> {
  await exec(
    db,
    `INSERT INTO ${S}.review_cards (user_id, card_id, lesson_id, course_id, front, back, due, stability, difficulty,
       elapsed_days, scheduled_days, learning_steps, reps, lapses, state, last_review)
     VALUES (:userId, :cardId, :lessonId, :courseId, :front, :back, :due, :stability, :difficulty,
       :elapsedDays, :scheduledDays, :learningSteps, :reps, :lapses, :state, :lastReview)
     ON CONFLICT (user_id, card_id) DO UPDATE SET front = EXCLUDED.front, back = EXCLUDED.back, lesson_id = EXCLUDED.lesson_id`,
    {
      userId: c.userId,
      cardId: c.cardId,
      lessonId: c.lessonId,
      courseId: c.courseId,
      front: c.front,
      back: c.back,
      ...cardColumns(c.initial),
    },
    t,
  );
}

export async function dueCards(
  db: Db,
  userId: string,
  now: Date,
  limit: number,
): Promise<CardRow[]> {
  return rows<CardRow>(
    db,
    `SELECT * FROM ${S}.review_cards WHERE user_id = :userId AND due <= :now ORDER BY due, card_id LIMIT :limit`,
    { userId, now, limit },
  );
}

export async function lockCard(
  db: Db,
  userId: string,
  cardId: string,
  t: Transaction,
): Promise<CardRow | undefined> {
  return one<CardRow>(
    db,
    `SELECT * FROM ${S}.review_cards WHERE user_id = :userId AND card_id = :cardId FOR UPDATE`,
    { userId, cardId },
    t,
  );
}

export async function saveCardReview(
  db: Db,
  userId: string,
  cardId: string,
  next: CardState,
  log: {
    rating: number;
    state: number;
    due: Date;
    stability: number;
    difficulty: number;
    scheduledDays: number;
    review: Date;
  },
  t: Transaction,
): Promise<void> {
  await exec(
    db,
    `UPDATE ${S}.review_cards SET due = :due, stability = :stability, difficulty = :difficulty, elapsed_days = :elapsedDays,
       scheduled_days = :scheduledDays, learning_steps = :learningSteps, reps = :reps, lapses = :lapses, state = :state,
       last_review = :lastReview WHERE user_id = :userId AND card_id = :cardId`,
    { userId, cardId, ...cardColumns(next) },
    t,
  );
  await exec(
    db,
    `INSERT INTO ${S}.review_logs (user_id, card_id, rating, state, due, stability, difficulty, scheduled_days, reviewed_at)
     VALUES (:userId, :cardId, :rating, :state, :due, :stability, :difficulty, :scheduledDays, :review)`,
    { userId, cardId, ...log },
    t,
  );
}

// Reminders and erasure ----------------------------------------------------------------

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

/** A cluster-wide, transaction-scoped lock: false when another node holds it. */
export async function tryAdvisoryLock(db: Db, key: number, t: Transaction): Promise<boolean> {
  const row = await one<{ locked: boolean }>(
    db,
    `SELECT pg_try_advisory_xact_lock(:key) AS locked`,
    { key },
    t,
  );
  return row?.locked === true;
}

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
