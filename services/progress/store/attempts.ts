import type { Transaction } from "sequelize";
import type { EnrollmentRow } from "./courses";
import { exec, one, rows, S, type Db } from "./sql";

/** Lesson completions, graded attempts and unlocked achievements. */

/**
 * Records a completion, enrolling the learner in its course if they were not: `first` when it
 * is the learner's first completion of this lesson, `enrolled` the enrolment it made, if any.
 */
export async function recordCompletion(
  db: Db,
  c: {
    userId: string;
    lessonId: string;
    courseId: string;
    score: number | null;
    at: Date;
    enrollmentId: string;
  },
  t: Transaction,
): Promise<{ first: boolean; enrolled?: EnrollmentRow }> {
  const row = await one<{ first: boolean; enrolled: EnrollmentRow | null }>(
    db,
    `WITH enrolled AS (
       INSERT INTO ${S}.enrollments (id, user_id, course_id, enrolled_at) VALUES (:enrollmentId, :userId, :courseId, :at)
       ON CONFLICT (user_id, course_id) DO NOTHING RETURNING *
     ), done AS (
       INSERT INTO ${S}.lesson_completions (user_id, lesson_id, course_id, best_score, first_completed_at, last_completed_at)
       VALUES (:userId, :lessonId, :courseId, :score, :at, :at)
       ON CONFLICT (user_id, lesson_id) DO UPDATE SET completions = lesson_completions.completions + 1,
         last_completed_at = EXCLUDED.last_completed_at,
         best_score = GREATEST(lesson_completions.best_score, EXCLUDED.best_score)
       RETURNING (xmax = 0) AS first
     )
     SELECT (SELECT first FROM done) AS first, (SELECT row_to_json(enrolled) FROM enrolled) AS enrolled`,
    c,
    t,
  );
  return { first: row?.first === true, enrolled: row?.enrolled ?? undefined };
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

// Achievements -------------------------------------------------------------------------

/** Inserts the codes not yet unlocked; returns those this call unlocked, in the order given. */
export async function unlockAchievements(
  db: Db,
  userId: string,
  codes: string[],
  at: Date,
  t: Transaction,
): Promise<string[]> {
  if (codes.length === 0) return [];
  const inserted = await rows<{ code: string }>(
    db,
    `INSERT INTO ${S}.achievements (user_id, code, unlocked_at)
     SELECT :userId, code, :at FROM unnest(ARRAY[:codes]::text[]) AS code
     ON CONFLICT (user_id, code) DO NOTHING RETURNING code`,
    { userId, codes, at },
    t,
  );
  const unlocked = new Set(inserted.map(row => row.code));
  return codes.filter(code => unlocked.has(code));
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

/** Which of `lessonIds` the learner has completed. */
export async function completedAmong(
  db: Db,
  userId: string,
  lessonIds: string[],
  t?: Transaction,
): Promise<Set<string>> {
  if (lessonIds.length === 0) return new Set();
  const found = await rows<{ lesson_id: string }>(
    db,
    `SELECT lesson_id FROM ${S}.lesson_completions WHERE user_id = :userId AND lesson_id IN (:lessonIds)`,
    { userId, lessonIds },
    t,
  );
  return new Set(found.map(r => r.lesson_id));
}

/** The lessons of a course the learner has completed. */
export async function completedInCourse(
  db: Db,
  userId: string,
  courseId: string,
): Promise<string[]> {
  const found = await rows<{ lesson_id: string }>(
    db,
    `SELECT lesson_id FROM ${S}.lesson_completions WHERE user_id = :userId AND course_id = :courseId ORDER BY lesson_id`,
    { userId, courseId },
  );
  return found.map(r => r.lesson_id);
}
