import type { Transaction } from "sequelize";
import type { MailOutcome } from "../../../models/events.model";
import { count, exec, one, rows, S, type Db } from "./sql";

/**
 * The analytics read model (read-model-schema.ts): what its event consumers write and the
 * analytics routes read. Every write is idempotent on its own: a fact already there moves no
 * counter, so a redelivered event, or one that a rebuild already counted, changes nothing.
 */

/** Every table of the read model, in the order a wipe or a rebuild lock takes them. */
export const READ_MODEL_TABLES = [
  "enrolments",
  "course_activity",
  "lessons",
  "lesson_learners",
  "attempts",
  "first_attempts",
  "questions",
  "learner_days",
  "learner_activity",
  "cohort_members",
  "registrations",
  "registration_days",
  "mail",
  "mail_days",
].map(table => `${S}.analytics_${table}`);

// Courses ----------------------------------------------------------------------------------

export async function recordEnrolment(
  db: Db,
  e: { courseId: string; userId: string; at: string },
  t: Transaction,
): Promise<void> {
  await exec(
    db,
    `INSERT INTO ${S}.analytics_enrolments (course_id, user_id, enrolled_at) VALUES (:courseId, :userId, :at)
     ON CONFLICT (course_id, user_id) DO UPDATE
       SET enrolled_at = LEAST(analytics_enrolments.enrolled_at, EXCLUDED.enrolled_at)`,
    e,
    t,
  );
}

export async function recordCourseCompletion(
  db: Db,
  e: { courseId: string; userId: string; at: string },
  t: Transaction,
): Promise<void> {
  await exec(
    db,
    `INSERT INTO ${S}.analytics_enrolments (course_id, user_id, enrolled_at, completed_at)
     VALUES (:courseId, :userId, :at, :at)
     ON CONFLICT (course_id, user_id) DO UPDATE
       SET completed_at = COALESCE(analytics_enrolments.completed_at, EXCLUDED.completed_at)`,
    e,
    t,
  );
}

/** A learner learned something on `localDate` (their day), in `courseId` when it belongs to one. */
export async function recordActivity(
  db: Db,
  a: { userId: string; courseId?: string; localDate: string; at: string },
  t: Transaction,
): Promise<void> {
  if (a.courseId)
    await exec(
      db,
      `INSERT INTO ${S}.analytics_course_activity (course_id, user_id, last_active_at) VALUES (:courseId, :userId, :at)
       ON CONFLICT (course_id, user_id) DO UPDATE
         SET last_active_at = GREATEST(analytics_course_activity.last_active_at, EXCLUDED.last_active_at)`,
      a,
      t,
    );
  await exec(
    db,
    `INSERT INTO ${S}.analytics_learner_days (user_id, local_date) VALUES (:userId, :localDate)
     ON CONFLICT DO NOTHING`,
    a,
    t,
  );
  await exec(
    db,
    `INSERT INTO ${S}.analytics_learner_activity (user_id, last_local_date) VALUES (:userId, :localDate)
     ON CONFLICT (user_id) DO UPDATE
       SET last_local_date = GREATEST(analytics_learner_activity.last_local_date, EXCLUDED.last_local_date)`,
    a,
    t,
  );
  await exec(
    db,
    `UPDATE ${S}.analytics_cohort_members SET
       d1 = d1 OR first_day + 1 = CAST(:localDate AS date),
       d7 = d7 OR first_day + 7 = CAST(:localDate AS date),
       d30 = d30 OR first_day + 30 = CAST(:localDate AS date)
     WHERE user_id = :userId`,
    a,
    t,
  );
}

export interface GradedAnswer {
  questionId: string;
  correct: boolean;
}

/**
 * A graded attempt: counted once (by its id) for the lesson and each question, and kept as
 * the learner's first attempt at the lesson if it is earlier than the one held. Answers true
 * when the first attempt changed (the lesson's discrimination is then out of date).
 */
export async function recordAttempt(
  db: Db,
  a: {
    attemptId: string;
    userId: string;
    lessonId: string;
    score: number;
    maxScore: number;
    passed: boolean;
    answers: GradedAnswer[];
    gradedAt: string;
  },
  t: Transaction,
): Promise<boolean> {
  const replacements = { ...a, answers: JSON.stringify(a.answers), passedCount: a.passed ? 1 : 0 };
  const fresh = await count(
    db,
    `WITH fact AS (
       INSERT INTO ${S}.analytics_attempts (attempt_id, user_id, lesson_id, passed, answers)
       VALUES (:attemptId, :userId, :lessonId, :passed, CAST(:answers AS jsonb))
       ON CONFLICT (attempt_id) DO NOTHING RETURNING attempt_id)
     SELECT COUNT(*) AS n FROM fact`,
    replacements,
    t,
  );
  if (fresh === 0) return false;
  await exec(
    db,
    `WITH learner AS (
       INSERT INTO ${S}.analytics_lesson_learners (lesson_id, user_id) VALUES (:lessonId, :userId)
       ON CONFLICT DO NOTHING RETURNING user_id)
     INSERT INTO ${S}.analytics_lessons (lesson_id, started, attempts, passed)
     SELECT :lessonId, COUNT(*), 1, :passedCount FROM learner
     ON CONFLICT (lesson_id) DO UPDATE SET
       started = analytics_lessons.started + EXCLUDED.started,
       attempts = analytics_lessons.attempts + 1,
       passed = analytics_lessons.passed + EXCLUDED.passed`,
    replacements,
    t,
  );
  await exec(
    db,
    `INSERT INTO ${S}.analytics_questions (lesson_id, question_id, answers, correct)
     SELECT :lessonId, q->>'questionId', COUNT(*), COUNT(*) FILTER (WHERE (q->>'correct')::boolean)
     FROM jsonb_array_elements(CAST(:answers AS jsonb)) q GROUP BY 2
     ON CONFLICT (lesson_id, question_id) DO UPDATE SET
       answers = analytics_questions.answers + EXCLUDED.answers,
       correct = analytics_questions.correct + EXCLUDED.correct`,
    replacements,
    t,
  );
  const first = await count(
    db,
    `WITH kept AS (
       INSERT INTO ${S}.analytics_first_attempts (lesson_id, user_id, attempt_id, graded_at, ratio, answers)
       VALUES (:lessonId, :userId, :attemptId, :gradedAt,
               CAST(:score AS float8) / NULLIF(CAST(:maxScore AS float8), 0), CAST(:answers AS jsonb))
       ON CONFLICT (lesson_id, user_id) DO UPDATE SET
         attempt_id = EXCLUDED.attempt_id, graded_at = EXCLUDED.graded_at,
         ratio = EXCLUDED.ratio, answers = EXCLUDED.answers
       WHERE (EXCLUDED.graded_at, EXCLUDED.attempt_id)
             < (analytics_first_attempts.graded_at, analytics_first_attempts.attempt_id)
       RETURNING 1)
     SELECT COUNT(*) AS n FROM kept`,
    replacements,
    t,
  );
  return first > 0;
}

/** A learner's first completion of a lesson. */
export async function recordLessonCompletion(
  db: Db,
  c: { lessonId: string; userId: string },
  t: Transaction,
): Promise<void> {
  await exec(
    db,
    `WITH learner AS (
       INSERT INTO ${S}.analytics_lesson_learners (lesson_id, user_id, completed) VALUES (:lessonId, :userId, true)
       ON CONFLICT (lesson_id, user_id) DO UPDATE SET completed = true
       WHERE NOT analytics_lesson_learners.completed
       RETURNING (xmax = 0) AS inserted)
     INSERT INTO ${S}.analytics_lessons (lesson_id, started, completed)
     SELECT :lessonId, COUNT(*) FILTER (WHERE inserted), COUNT(*) FROM learner
     ON CONFLICT (lesson_id) DO UPDATE SET
       started = analytics_lessons.started + EXCLUDED.started,
       completed = analytics_lessons.completed + EXCLUDED.completed`,
    c,
    t,
  );
}

/**
 * Recomputes the upper–lower 27 % index of the lessons' questions over the learners' first
 * attempts, ranked by score (ties by user id): the best and the weakest 27 % of them, at
 * least one each, from two learners on.
 */
export async function refreshDiscrimination(
  db: Db,
  lessons: string[] | "all",
  t: Transaction,
): Promise<void> {
  if (lessons !== "all" && lessons.length === 0) return;
  const which = (alias: string) =>
    lessons === "all" ? "true" : `${alias}lesson_id IN (:lessonIds)`;
  await exec(
    db,
    `WITH ranked AS (
       SELECT lesson_id, answers,
              ROW_NUMBER() OVER (PARTITION BY lesson_id ORDER BY ratio DESC NULLS LAST, user_id) AS pos,
              COUNT(*) OVER (PARTITION BY lesson_id) AS n
       FROM ${S}.analytics_first_attempts WHERE ${which("")}),
     grouped AS (
       SELECT lesson_id, answers,
              CASE WHEN pos <= GREATEST(1, ROUND(n * 0.27)) THEN 'upper'
                   WHEN pos > n - GREATEST(1, ROUND(n * 0.27)) THEN 'lower' END AS band
       FROM ranked WHERE n >= 2),
     banded AS (
       SELECT lesson_id, q->>'questionId' AS question_id,
              AVG(CASE WHEN (q->>'correct')::boolean THEN 1.0 ELSE 0.0 END) FILTER (WHERE band = 'upper') AS p_upper,
              AVG(CASE WHEN (q->>'correct')::boolean THEN 1.0 ELSE 0.0 END) FILTER (WHERE band = 'lower') AS p_lower
       FROM grouped CROSS JOIN LATERAL jsonb_array_elements(answers) q
       WHERE band IS NOT NULL GROUP BY 1, 2)
     UPDATE ${S}.analytics_questions aq SET p_upper = f.p_upper, p_lower = f.p_lower
     FROM (SELECT q.lesson_id, q.question_id, b.p_upper::float8 AS p_upper, b.p_lower::float8 AS p_lower
           FROM ${S}.analytics_questions q
           LEFT JOIN banded b ON b.lesson_id = q.lesson_id AND b.question_id = q.question_id
           WHERE ${which("q.")}) f
     WHERE aq.lesson_id = f.lesson_id AND aq.question_id = f.question_id`,
    { lessonIds: lessons === "all" ? [] : lessons },
    t,
  );
}

// The platform -----------------------------------------------------------------------------

/** An account created on `day` (UTC): counted once. */
export async function recordRegistration(
  db: Db,
  r: { userId: string; day: string },
  t: Transaction,
): Promise<void> {
  await exec(
    db,
    `WITH fact AS (
       INSERT INTO ${S}.analytics_registrations (user_id, day) VALUES (:userId, :day)
       ON CONFLICT DO NOTHING RETURNING day)
     INSERT INTO ${S}.analytics_registration_days (day, count) SELECT day, 1 FROM fact
     ON CONFLICT (day) DO UPDATE SET count = analytics_registration_days.count + 1`,
    r,
    t,
  );
}

/**
 * The learner joins the weekly cohort of their first day: the day their progress row was made
 * (UTC), with the days after it they already have activity on.
 */
export async function recordCohortMember(db: Db, userId: string, t: Transaction): Promise<void> {
  await exec(
    db,
    `INSERT INTO ${S}.analytics_cohort_members (user_id, first_day, d1, d7, d30)
     SELECT l.user_id, f.day,
            EXISTS (SELECT 1 FROM ${S}.analytics_learner_days d WHERE d.user_id = l.user_id AND d.local_date = f.day + 1),
            EXISTS (SELECT 1 FROM ${S}.analytics_learner_days d WHERE d.user_id = l.user_id AND d.local_date = f.day + 7),
            EXISTS (SELECT 1 FROM ${S}.analytics_learner_days d WHERE d.user_id = l.user_id AND d.local_date = f.day + 30)
     FROM ${S}.learners l CROSS JOIN LATERAL (SELECT (l.created_at AT TIME ZONE 'UTC')::date AS day) f
     WHERE l.user_id = :userId
     ON CONFLICT (user_id) DO NOTHING`,
    { userId },
    t,
  );
}

const MAIL_COLUMN: Record<MailOutcome, string> = {
  sent: "sent",
  opened: "opened",
  clicked: "clicked",
  failed: "failed",
};

/** A mail created on `day` reached `outcome`: counted once per mail and outcome. */
export async function recordMailOutcome(
  db: Db,
  m: { emailId: string; outcome: MailOutcome; day: string },
  t: Transaction,
): Promise<void> {
  const column = MAIL_COLUMN[m.outcome];
  await exec(
    db,
    `WITH fact AS (
       INSERT INTO ${S}.analytics_mail (email_id, outcome, day) VALUES (:emailId, :outcome, :day)
       ON CONFLICT DO NOTHING RETURNING day)
     INSERT INTO ${S}.analytics_mail_days (day, ${column}) SELECT day, 1 FROM fact
     ON CONFLICT (day) DO UPDATE SET ${column} = analytics_mail_days.${column} + 1`,
    m,
    t,
  );
}

/**
 * An erased user leaves the read model as they left the tables: their facts go and the
 * counters they moved move back (the erasure of progress's own rows follows in the same
 * transaction).
 */
export async function forgetLearner(db: Db, userId: string, t: Transaction): Promise<void> {
  const lessons = await rows<{ lesson_id: string }>(
    db,
    `SELECT lesson_id FROM ${S}.analytics_first_attempts WHERE user_id = :userId`,
    { userId },
    t,
  );
  for (const statement of [
    `UPDATE ${S}.analytics_lessons l SET started = l.started - x.n, completed = l.completed - x.c
     FROM (SELECT lesson_id, COUNT(*) AS n, COUNT(*) FILTER (WHERE completed) AS c
           FROM ${S}.analytics_lesson_learners WHERE user_id = :userId GROUP BY 1) x
     WHERE l.lesson_id = x.lesson_id`,
    `UPDATE ${S}.analytics_lessons l SET attempts = l.attempts - x.n, passed = l.passed - x.p
     FROM (SELECT lesson_id, COUNT(*) AS n, COUNT(*) FILTER (WHERE passed) AS p
           FROM ${S}.analytics_attempts WHERE user_id = :userId GROUP BY 1) x
     WHERE l.lesson_id = x.lesson_id`,
    `UPDATE ${S}.analytics_questions q SET answers = q.answers - x.n, correct = q.correct - x.c
     FROM (SELECT a.lesson_id, e->>'questionId' AS question_id, COUNT(*) AS n,
                  COUNT(*) FILTER (WHERE (e->>'correct')::boolean) AS c
           FROM ${S}.analytics_attempts a CROSS JOIN LATERAL jsonb_array_elements(a.answers) e
           WHERE a.user_id = :userId GROUP BY 1, 2) x
     WHERE q.lesson_id = x.lesson_id AND q.question_id = x.question_id`,
    `UPDATE ${S}.analytics_registration_days d SET count = d.count - 1
     FROM ${S}.analytics_registrations r WHERE r.user_id = :userId AND d.day = r.day`,
  ])
    await exec(db, statement, { userId }, t);
  for (const table of [
    "enrolments",
    "course_activity",
    "lesson_learners",
    "attempts",
    "first_attempts",
    "learner_days",
    "learner_activity",
    "cohort_members",
    "registrations",
  ])
    await exec(db, `DELETE FROM ${S}.analytics_${table} WHERE user_id = :userId`, { userId }, t);
  await refreshDiscrimination(
    db,
    lessons.map(row => row.lesson_id),
    t,
  );
}

// Reading ----------------------------------------------------------------------------------

export interface CourseFigureRows {
  enrolments: number;
  completed: number;
  active: number;
  lessons: {
    lesson_id: string;
    started: number;
    completed: number;
    attempts: number;
    passed: number;
  }[];
  questions: {
    lesson_id: string;
    question_id: string;
    answers: number;
    correct: number;
    p_upper: number | null;
    p_lower: number | null;
  }[];
}

/** The course's figures: its enrolments and recent learners, and its lessons' and questions' counters. */
export async function courseFigures(
  db: Db,
  courseId: string,
  lessonIds: string[],
  since: Date,
): Promise<CourseFigureRows> {
  const [enrolled, active, lessons, questions] = await Promise.all([
    one<{ enrolments: string; completed: string }>(
      db,
      `SELECT COUNT(*) AS enrolments, COUNT(completed_at) AS completed
       FROM ${S}.analytics_enrolments WHERE course_id = :courseId`,
      { courseId },
    ),
    count(
      db,
      `SELECT COUNT(*) AS n FROM ${S}.analytics_course_activity a
       JOIN ${S}.analytics_enrolments e ON e.course_id = a.course_id AND e.user_id = a.user_id
       WHERE a.course_id = :courseId AND a.last_active_at >= :since`,
      { courseId, since },
    ),
    lessonIds.length === 0
      ? []
      : rows<CourseFigureRows["lessons"][number]>(
          db,
          `SELECT lesson_id, started, completed, attempts, passed
           FROM ${S}.analytics_lessons WHERE lesson_id IN (:lessonIds)`,
          { lessonIds },
        ),
    lessonIds.length === 0
      ? []
      : rows<CourseFigureRows["questions"][number]>(
          db,
          `SELECT lesson_id, question_id, answers, correct, p_upper, p_lower
           FROM ${S}.analytics_questions WHERE lesson_id IN (:lessonIds) AND answers > 0
           ORDER BY lesson_id, question_id`,
          { lessonIds },
        ),
  ]);
  return {
    enrolments: Number(enrolled?.enrolments ?? 0),
    completed: Number(enrolled?.completed ?? 0),
    active,
    lessons,
    questions,
  };
}

/** Learners with activity on `today`, in its last 7 and 30 days (their local days). */
export async function activeLearnerCounts(
  db: Db,
  today: string,
): Promise<{ dau: number; wau: number; mau: number }> {
  const found = await one<{ dau: string; wau: string; mau: string }>(
    db,
    `SELECT COUNT(*) FILTER (WHERE last_local_date >= CAST(:today AS date)) AS dau,
            COUNT(*) FILTER (WHERE last_local_date > CAST(:today AS date) - 7) AS wau,
            COUNT(*) AS mau
     FROM ${S}.analytics_learner_activity WHERE last_local_date > CAST(:today AS date) - 30`,
    { today },
  );
  return {
    dau: Number(found?.dau ?? 0),
    wau: Number(found?.wau ?? 0),
    mau: Number(found?.mau ?? 0),
  };
}

export interface PlatformFigureRows {
  dau: number;
  wau: number;
  mau: number;
  registrations: { date: string; count: number }[];
  cohorts: {
    cohort_week: string;
    size: string;
    d1_due: string;
    d1_kept: string;
    d7_due: string;
    d7_kept: string;
    d30_due: string;
    d30_kept: string;
  }[];
  mail: { sent: number; opened: number; clicked: number; failed: number };
}

/** The platform's figures of the UTC days from `since` to `today`. */
export async function platformFigures(
  db: Db,
  today: string,
  since: string,
): Promise<PlatformFigureRows> {
  const kept = (n: number) =>
    `COUNT(*) FILTER (WHERE first_day + ${n} <= CAST(:today AS date)) AS d${n}_due,
     COUNT(*) FILTER (WHERE first_day + ${n} <= CAST(:today AS date) AND d${n}) AS d${n}_kept`;
  const [active, registrations, cohorts, mail] = await Promise.all([
    activeLearnerCounts(db, today),
    rows<{ date: string; count: number }>(
      db,
      `SELECT to_char(day, 'YYYY-MM-DD') AS date, count FROM ${S}.analytics_registration_days
       WHERE day >= CAST(:since AS date) ORDER BY day`,
      { since },
    ),
    rows<PlatformFigureRows["cohorts"][number]>(
      db,
      `SELECT to_char(first_day, 'IYYY-"W"IW') AS cohort_week, COUNT(*) AS size, ${kept(1)}, ${kept(7)}, ${kept(30)}
       FROM ${S}.analytics_cohort_members WHERE first_day >= CAST(:since AS date) GROUP BY 1 ORDER BY 1`,
      { since, today },
    ),
    one<Record<MailOutcome, string | null>>(
      db,
      `SELECT SUM(sent) AS sent, SUM(opened) AS opened, SUM(clicked) AS clicked, SUM(failed) AS failed
       FROM ${S}.analytics_mail_days WHERE day >= CAST(:since AS date)`,
      { since },
    ),
  ]);
  return {
    ...active,
    registrations,
    cohorts,
    mail: {
      sent: Number(mail?.sent ?? 0),
      opened: Number(mail?.opened ?? 0),
      clicked: Number(mail?.clicked ?? 0),
      failed: Number(mail?.failed ?? 0),
    },
  };
}
