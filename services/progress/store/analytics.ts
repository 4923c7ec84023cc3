import { count, one, rows, S, type Db } from "./sql";

/** The figures authors and admins read, counted over the progress tables. */

export async function enrolmentCounts(
  db: Db,
  courseId: string,
): Promise<{ enrolments: number; completed: number }> {
  const found = await one<{ enrolments: string; completed: string }>(
    db,
    `SELECT COUNT(*) AS enrolments, COUNT(completed_at) AS completed
     FROM ${S}.enrollments WHERE course_id = :courseId`,
    { courseId },
  );
  return { enrolments: Number(found?.enrolments ?? 0), completed: Number(found?.completed ?? 0) };
}

/** Enrolled learners who attempted, completed or reviewed something of the course since `since`. */
export async function activeLearners(db: Db, courseId: string, since: Date): Promise<number> {
  return count(
    db,
    `SELECT COUNT(*) AS n FROM ${S}.enrollments e WHERE e.course_id = :courseId AND (
       EXISTS (SELECT 1 FROM ${S}.attempts a
               WHERE a.user_id = e.user_id AND a.course_id = :courseId AND a.created_at >= :since)
       OR EXISTS (SELECT 1 FROM ${S}.lesson_completions lc
               WHERE lc.user_id = e.user_id AND lc.course_id = :courseId AND lc.last_completed_at >= :since)
       OR EXISTS (SELECT 1 FROM ${S}.review_logs r JOIN ${S}.review_cards c
                    ON c.user_id = r.user_id AND c.lesson_id = r.lesson_id AND c.card_id = r.card_id
               WHERE r.user_id = e.user_id AND c.course_id = :courseId AND r.reviewed_at >= :since))`,
    { courseId, since },
  );
}

export interface LessonCountsRow {
  lesson_id: string;
  started: string;
  completed: string;
  attempts: string;
  passed: string;
}

export async function lessonCounts(db: Db, lessonIds: string[]): Promise<LessonCountsRow[]> {
  if (lessonIds.length === 0) return [];
  return rows<LessonCountsRow>(
    db,
    `SELECT l.lesson_id,
       (SELECT COUNT(*) FROM (SELECT user_id FROM ${S}.attempts a WHERE a.lesson_id = l.lesson_id
                              UNION SELECT user_id FROM ${S}.lesson_completions c WHERE c.lesson_id = l.lesson_id) s) AS started,
       (SELECT COUNT(*) FROM ${S}.lesson_completions c WHERE c.lesson_id = l.lesson_id) AS completed,
       (SELECT COUNT(*) FROM ${S}.attempts a WHERE a.lesson_id = l.lesson_id) AS attempts,
       (SELECT COUNT(*) FROM ${S}.attempts a WHERE a.lesson_id = l.lesson_id AND a.passed) AS passed
     FROM unnest(ARRAY[:lessonIds]::text[]) AS l(lesson_id)`,
    { lessonIds },
  );
}

export interface QuestionCountsRow {
  lesson_id: string;
  question_id: string;
  answers: string;
  correct: string;
  /** Share correct in the upper and lower 27 % of learners' first attempts (null: fewer than two learners). */
  p_upper: number | null;
  p_lower: number | null;
}

/**
 * Every question answered in the lessons: answers and correct answers over all attempts, and
 * the item discrimination of classical test theory over each learner's first attempt — ranked
 * by score within the lesson, the best and the weakest 27 % (at least one learner each).
 */
export async function questionCounts(db: Db, lessonIds: string[]): Promise<QuestionCountsRow[]> {
  if (lessonIds.length === 0) return [];
  return rows<QuestionCountsRow>(
    db,
    `WITH answered AS (
       SELECT a.lesson_id, q->>'questionId' AS question_id,
              COUNT(*) AS answers, COUNT(*) FILTER (WHERE (q->>'correct')::boolean) AS correct
       FROM ${S}.attempts a CROSS JOIN LATERAL jsonb_array_elements(a.results) q
       WHERE a.lesson_id IN (:lessonIds) GROUP BY 1, 2),
     firsts AS (
       SELECT DISTINCT ON (user_id, lesson_id) user_id, lesson_id,
              score / NULLIF(max_score, 0) AS ratio, results
       FROM ${S}.attempts WHERE lesson_id IN (:lessonIds)
       ORDER BY user_id, lesson_id, created_at, id),
     ranked AS (
       SELECT lesson_id, results,
              ROW_NUMBER() OVER (PARTITION BY lesson_id ORDER BY ratio DESC NULLS LAST, user_id) AS pos,
              COUNT(*) OVER (PARTITION BY lesson_id) AS n
       FROM firsts),
     grouped AS (
       SELECT lesson_id, results,
              CASE WHEN pos <= GREATEST(1, ROUND(n * 0.27)) THEN 'upper'
                   WHEN pos > n - GREATEST(1, ROUND(n * 0.27)) THEN 'lower' END AS band
       FROM ranked WHERE n >= 2),
     banded AS (
       SELECT lesson_id, q->>'questionId' AS question_id,
              AVG(CASE WHEN (q->>'correct')::boolean THEN 1.0 ELSE 0.0 END) FILTER (WHERE band = 'upper') AS p_upper,
              AVG(CASE WHEN (q->>'correct')::boolean THEN 1.0 ELSE 0.0 END) FILTER (WHERE band = 'lower') AS p_lower
       FROM grouped CROSS JOIN LATERAL jsonb_array_elements(results) q
       WHERE band IS NOT NULL GROUP BY 1, 2)
     SELECT a.lesson_id, a.question_id, a.answers, a.correct,
            b.p_upper::float8 AS p_upper, b.p_lower::float8 AS p_lower
     FROM answered a LEFT JOIN banded b ON b.lesson_id = a.lesson_id AND b.question_id = a.question_id
     ORDER BY a.lesson_id, a.question_id`,
    { lessonIds },
  );
}

/** Learners active (anything in their day's activity) on `today`, in its last 7 and 30 days (their local days). */
export async function activeUsers(
  db: Db,
  today: string,
): Promise<{ dau: number; wau: number; mau: number }> {
  const found = await one<{ dau: string; wau: string; mau: string }>(
    db,
    `SELECT COUNT(DISTINCT user_id) FILTER (WHERE local_date >= CAST(:today AS date)) AS dau,
            COUNT(DISTINCT user_id) FILTER (WHERE local_date > CAST(:today AS date) - 7) AS wau,
            COUNT(DISTINCT user_id) AS mau
     FROM ${S}.activity_days WHERE local_date > CAST(:today AS date) - 30`,
    { today },
  );
  return {
    dau: Number(found?.dau ?? 0),
    wau: Number(found?.wau ?? 0),
    mau: Number(found?.mau ?? 0),
  };
}

export interface RetentionRow {
  cohort_week: string;
  size: string;
  d1_due: string;
  d1_kept: string;
  d7_due: string;
  d7_kept: string;
  d30_due: string;
  d30_kept: string;
}

/**
 * Weekly cohorts of learners by their first day (the day their progress row was made, UTC):
 * for day 1, 7 and 30 after it, how many of the cohort that day has come for, and how many
 * of those were active on exactly that day.
 */
export async function retentionCohorts(
  db: Db,
  since: string,
  today: string,
): Promise<RetentionRow[]> {
  const kept = (n: number) =>
    `COUNT(*) FILTER (WHERE first_day + ${n} <= CAST(:today AS date)) AS d${n}_due,
     COUNT(*) FILTER (WHERE first_day + ${n} <= CAST(:today AS date) AND EXISTS (
       SELECT 1 FROM ${S}.activity_days a WHERE a.user_id = m.user_id AND a.local_date = m.first_day + ${n})) AS d${n}_kept`;
  return rows<RetentionRow>(
    db,
    `WITH members AS (
       SELECT user_id, (created_at AT TIME ZONE 'UTC')::date AS first_day FROM ${S}.learners
       WHERE (created_at AT TIME ZONE 'UTC')::date >= CAST(:since AS date))
     SELECT to_char(first_day, 'IYYY-"W"IW') AS cohort_week, COUNT(*) AS size, ${kept(1)}, ${kept(7)}, ${kept(30)}
     FROM members m GROUP BY 1 ORDER BY 1`,
    { since, today },
  );
}
