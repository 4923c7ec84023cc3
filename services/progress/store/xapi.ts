import type { Transaction } from "sequelize";
import { rows, S, type Db } from "./sql";

/** A learner's recorded learning since an instant, oldest first, for their xAPI statements. */

interface AttemptRecord {
  id: string;
  lesson_id: string;
  course_id: string;
  course_title: string | null;
  score: number;
  max_score: number;
  passed: boolean;
  results: Array<{ questionId: string; correct: boolean; credit: number }>;
  created_at: Date;
}

interface CompletionRecord {
  lesson_id: string;
  course_id: string;
  course_title: string | null;
  best_score: number | null;
  first_completed_at: Date;
}

interface CourseCompletionRecord {
  course_id: string;
  course_title: string | null;
  completed_at: Date;
}

interface ReviewRecord {
  id: string;
  lesson_id: string;
  card_id: string;
  course_id: string | null;
  rating: number;
  reviewed_at: Date;
}

export interface LearningRecord {
  attempts: AttemptRecord[];
  completions: CompletionRecord[];
  courses: CourseCompletionRecord[];
  reviews: ReviewRecord[];
}

export async function learningSince(
  db: Db,
  userId: string,
  since: Date,
  limit: number,
  t?: Transaction,
): Promise<LearningRecord> {
  const values = { userId, since, limit };
  const [attempts, completions, courses, reviews] = await Promise.all([
    rows<AttemptRecord>(
      db,
      `SELECT a.id, a.lesson_id, a.course_id, c.title AS course_title, a.score, a.max_score, a.passed,
              a.results, a.created_at
       FROM ${S}.attempts a LEFT JOIN ${S}.courses c ON c.course_id = a.course_id
       WHERE a.user_id = :userId AND a.created_at > :since ORDER BY a.created_at, a.id LIMIT :limit`,
      values,
      t,
    ),
    rows<CompletionRecord>(
      db,
      `SELECT lc.lesson_id, lc.course_id, c.title AS course_title, lc.best_score, lc.first_completed_at
       FROM ${S}.lesson_completions lc LEFT JOIN ${S}.courses c ON c.course_id = lc.course_id
       WHERE lc.user_id = :userId AND lc.first_completed_at > :since
       ORDER BY lc.first_completed_at, lc.lesson_id LIMIT :limit`,
      values,
      t,
    ),
    rows<CourseCompletionRecord>(
      db,
      `SELECT e.course_id, c.title AS course_title, e.completed_at
       FROM ${S}.enrollments e LEFT JOIN ${S}.courses c ON c.course_id = e.course_id
       WHERE e.user_id = :userId AND e.completed_at > :since ORDER BY e.completed_at LIMIT :limit`,
      values,
      t,
    ),
    rows<ReviewRecord>(
      db,
      `SELECT r.id::text AS id, r.lesson_id, r.card_id, rc.course_id, r.rating, r.reviewed_at
       FROM ${S}.review_logs r LEFT JOIN ${S}.review_cards rc
         ON rc.user_id = r.user_id AND rc.lesson_id = r.lesson_id AND rc.card_id = r.card_id
       WHERE r.user_id = :userId AND r.reviewed_at > :since ORDER BY r.reviewed_at, r.id LIMIT :limit`,
      values,
      t,
    ),
  ]);
  return { attempts, completions, courses, reviews };
}
