import type { Transaction } from "sequelize";
import { exec, one, rows, S, type Db } from "./sql";

/** Lesson completions, graded attempts and unlocked achievements. */

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

/** The learner's completed lessons and courses in one round trip (the achievement rules read both). */
export async function completionTotals(
  db: Db,
  userId: string,
  t?: Transaction,
): Promise<{ lessons: number; courses: number }> {
  const row = await one<{ lessons: string | number; courses: string | number }>(
    db,
    `SELECT (SELECT COUNT(*) FROM ${S}.lesson_completions WHERE user_id = :userId) AS lessons,
            (SELECT COUNT(*) FROM ${S}.enrollments WHERE user_id = :userId AND completed_at IS NOT NULL) AS courses`,
    { userId },
    t,
  );
  return { lessons: Number(row?.lessons ?? 0), courses: Number(row?.courses ?? 0) };
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
