import type { Transaction } from "sequelize";
import { exec, one, rows, S, type Db } from "./sql";

/** Practice quizzes (POST /me/practice) and the completed quizzes they draw on. */

/** One question of a practice quiz: its id in the quiz and the lesson question it is. */
export interface PracticeItem {
  id: string;
  lessonId: string;
  questionId: string;
}

export interface PracticeRow {
  id: string;
  user_id: string;
  items: PracticeItem[];
  graded_at: Date | null;
}

/** The learner's completed quizzes in progress's copy of the published outlines, latest first. */
export async function completedQuizzes(db: Db, userId: string, limit: number): Promise<string[]> {
  const found = await rows<{ lesson_id: string }>(
    db,
    `SELECT lc.lesson_id FROM ${S}.lesson_completions lc
       JOIN ${S}.course_lessons cl ON cl.lesson_id = lc.lesson_id AND cl.course_id = lc.course_id
      WHERE lc.user_id = :userId AND cl.kind = 'quiz'
      ORDER BY lc.last_completed_at DESC, lc.lesson_id LIMIT :limit`,
    { userId, limit },
  );
  return found.map(r => r.lesson_id);
}

export async function insertPractice(
  db: Db,
  p: { id: string; userId: string; skill: string | null; items: PracticeItem[]; at: Date },
): Promise<void> {
  await exec(
    db,
    `INSERT INTO ${S}.practice_quizzes (id, user_id, skill, items, created_at)
     VALUES (:id, :userId, :skill, :items::jsonb, :at)`,
    { ...p, items: JSON.stringify(p.items) },
  );
}

/** The learner's practice quiz of this id (another learner's is none); locked inside `t`. */
export async function findPractice(
  db: Db,
  id: string,
  userId: string,
  t?: Transaction,
): Promise<PracticeRow | undefined> {
  return one<PracticeRow>(
    db,
    `SELECT id, user_id, items, graded_at FROM ${S}.practice_quizzes
      WHERE id = :id AND user_id = :userId${t ? " FOR UPDATE" : ""}`,
    { id, userId },
    t,
  );
}

/** What graded practice quizzes paid the learner on one local day. */
export async function practiceXpOn(
  db: Db,
  userId: string,
  localDate: string,
  t: Transaction,
): Promise<number> {
  const row = await one<{ xp: string | null }>(
    db,
    `SELECT SUM(xp_earned) AS xp FROM ${S}.practice_quizzes WHERE user_id = :userId AND local_date = :localDate`,
    { userId, localDate },
    t,
  );
  return Number(row?.xp ?? 0);
}

export async function markPracticeGraded(
  db: Db,
  g: { id: string; at: Date; localDate: string; xp: number },
  t: Transaction,
): Promise<void> {
  await exec(
    db,
    `UPDATE ${S}.practice_quizzes SET graded_at = :at, local_date = :localDate, xp_earned = :xp WHERE id = :id`,
    g,
    t,
  );
}
