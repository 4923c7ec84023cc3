import type { Transaction } from "sequelize";
import type { AccountCreated, MailOutcomes } from "../../../models/analytics.model";
import { READ_MODEL_TABLES, refreshDiscrimination } from "./read-model";
import { count, exec, S, type Db } from "./sql";

/**
 * The read model recomputed from the tables it summarises: what the operator's rebuild runs
 * when the read model is lost or in doubt. Progress's own tables in the caller's transaction
 * (one snapshot, the read model's tables locked: no consumer writes between the wipe and the
 * last insert); the accounts and mail outcomes users and notify answer with are added after it.
 */

/** Takes the read model's tables for the transaction: the consumers wait until it commits. */
export async function lockReadModel(db: Db, t: Transaction): Promise<void> {
  await exec(db, `LOCK TABLE ${READ_MODEL_TABLES.join(", ")} IN EXCLUSIVE MODE`, {}, t);
}

export async function wipeReadModel(db: Db, t: Transaction): Promise<void> {
  for (const table of READ_MODEL_TABLES) await exec(db, `DELETE FROM ${table}`, {}, t);
}

/** One statement per table, in dependency order (the counters from the facts before them). */
const FROM_TABLES = [
  `INSERT INTO ${S}.analytics_enrolments (course_id, user_id, enrolled_at, completed_at)
   SELECT course_id, user_id, enrolled_at, completed_at FROM ${S}.enrollments`,
  `INSERT INTO ${S}.analytics_course_activity (course_id, user_id, last_active_at)
   SELECT course_id, user_id, MAX(at) FROM (
     SELECT course_id, user_id, created_at AS at FROM ${S}.attempts
     UNION ALL SELECT course_id, user_id, last_completed_at FROM ${S}.lesson_completions
     UNION ALL SELECT c.course_id, r.user_id, r.reviewed_at FROM ${S}.review_logs r
       JOIN ${S}.review_cards c ON c.user_id = r.user_id AND c.lesson_id = r.lesson_id AND c.card_id = r.card_id
   ) learned GROUP BY 1, 2`,
  `INSERT INTO ${S}.analytics_lesson_learners (lesson_id, user_id, completed)
   SELECT lesson_id, user_id, bool_or(completed) FROM (
     SELECT lesson_id, user_id, false AS completed FROM ${S}.attempts
     UNION ALL SELECT lesson_id, user_id, true FROM ${S}.lesson_completions
   ) learners GROUP BY 1, 2`,
  `INSERT INTO ${S}.analytics_attempts (attempt_id, user_id, lesson_id, passed, answers)
   SELECT a.id, a.user_id, a.lesson_id, a.passed, COALESCE((
     SELECT jsonb_agg(jsonb_build_object('questionId', q->>'questionId', 'correct', COALESCE((q->>'correct')::boolean, false)))
     FROM jsonb_array_elements(a.results) q), '[]'::jsonb)
   FROM ${S}.attempts a`,
  `INSERT INTO ${S}.analytics_first_attempts (lesson_id, user_id, attempt_id, graded_at, ratio, answers)
   SELECT DISTINCT ON (a.user_id, a.lesson_id) a.lesson_id, a.user_id, a.id, a.created_at,
          CAST(a.score AS float8) / NULLIF(CAST(a.max_score AS float8), 0), f.answers
   FROM ${S}.attempts a JOIN ${S}.analytics_attempts f ON f.attempt_id = a.id
   ORDER BY a.user_id, a.lesson_id, a.created_at, a.id`,
  `INSERT INTO ${S}.analytics_lessons (lesson_id, started, completed, attempts, passed)
   SELECT lesson_id, SUM(started), SUM(completed), SUM(attempts), SUM(passed) FROM (
     SELECT lesson_id, COUNT(*) AS started, COUNT(*) FILTER (WHERE completed) AS completed, 0 AS attempts, 0 AS passed
     FROM ${S}.analytics_lesson_learners GROUP BY 1
     UNION ALL SELECT lesson_id, 0, 0, COUNT(*), COUNT(*) FILTER (WHERE passed)
     FROM ${S}.analytics_attempts GROUP BY 1
   ) counted GROUP BY 1`,
  `INSERT INTO ${S}.analytics_questions (lesson_id, question_id, answers, correct)
   SELECT a.lesson_id, q->>'questionId', COUNT(*), COUNT(*) FILTER (WHERE (q->>'correct')::boolean)
   FROM ${S}.analytics_attempts a CROSS JOIN LATERAL jsonb_array_elements(a.answers) q GROUP BY 1, 2`,
  `INSERT INTO ${S}.analytics_learner_days (user_id, local_date)
   SELECT user_id, local_date FROM ${S}.activity_days`,
  `INSERT INTO ${S}.analytics_learner_activity (user_id, last_local_date)
   SELECT user_id, MAX(local_date) FROM ${S}.activity_days GROUP BY 1`,
  `INSERT INTO ${S}.analytics_cohort_members (user_id, first_day, d1, d7, d30)
   SELECT l.user_id, f.day,
          EXISTS (SELECT 1 FROM ${S}.activity_days d WHERE d.user_id = l.user_id AND d.local_date = f.day + 1),
          EXISTS (SELECT 1 FROM ${S}.activity_days d WHERE d.user_id = l.user_id AND d.local_date = f.day + 7),
          EXISTS (SELECT 1 FROM ${S}.activity_days d WHERE d.user_id = l.user_id AND d.local_date = f.day + 30)
   FROM ${S}.learners l CROSS JOIN LATERAL (SELECT (l.created_at AT TIME ZONE 'UTC')::date AS day) f`,
];

/** Fills the read model's progress figures from progress's tables; answers the attempts counted. */
export async function rebuildFromTables(db: Db, t: Transaction): Promise<number> {
  for (const statement of FROM_TABLES) await exec(db, statement, {}, t);
  await refreshDiscrimination(db, "all", t);
  return count(db, `SELECT COUNT(*) AS n FROM ${S}.analytics_attempts`, {}, t);
}

/**
 * Accounts as users answers them, after the rebuild: one fact each, the day's count moved
 * only for facts not there yet (a consumer may have added some since the rebuild committed).
 */
export async function restoreRegistrations(
  db: Db,
  accounts: AccountCreated[],
  t: Transaction,
): Promise<void> {
  if (accounts.length === 0) return;
  await exec(
    db,
    `WITH fact AS (
       INSERT INTO ${S}.analytics_registrations (user_id, day)
       SELECT a->>'userId', (CAST(a->>'createdAt' AS timestamptz) AT TIME ZONE 'UTC')::date
       FROM jsonb_array_elements(CAST(:accounts AS jsonb)) a ON CONFLICT DO NOTHING RETURNING day)
     INSERT INTO ${S}.analytics_registration_days (day, count) SELECT day, COUNT(*) FROM fact GROUP BY 1
     ON CONFLICT (day) DO UPDATE SET count = analytics_registration_days.count + EXCLUDED.count`,
    { accounts: JSON.stringify(accounts) },
    t,
  );
}

/** Mail outcomes as notify answers them, after the rebuild: as restoreRegistrations, per mail and outcome. */
export async function restoreMailOutcomes(
  db: Db,
  mails: MailOutcomes[],
  t: Transaction,
): Promise<void> {
  const outcomes = mails.flatMap(({ emailId, createdAt, outcomes }) =>
    outcomes.map(outcome => ({ emailId, createdAt, outcome })),
  );
  if (outcomes.length === 0) return;
  const counted = (outcome: string) => `COUNT(*) FILTER (WHERE outcome = '${outcome}')`;
  await exec(
    db,
    `WITH fact AS (
       INSERT INTO ${S}.analytics_mail (email_id, outcome, day)
       SELECT m->>'emailId', m->>'outcome', (CAST(m->>'createdAt' AS timestamptz) AT TIME ZONE 'UTC')::date
       FROM jsonb_array_elements(CAST(:outcomes AS jsonb)) m ON CONFLICT DO NOTHING RETURNING day, outcome)
     INSERT INTO ${S}.analytics_mail_days (day, sent, opened, clicked, failed)
     SELECT day, ${counted("sent")}, ${counted("opened")}, ${counted("clicked")}, ${counted("failed")}
     FROM fact GROUP BY 1
     ON CONFLICT (day) DO UPDATE SET sent = analytics_mail_days.sent + EXCLUDED.sent,
       opened = analytics_mail_days.opened + EXCLUDED.opened,
       clicked = analytics_mail_days.clicked + EXCLUDED.clicked,
       failed = analytics_mail_days.failed + EXCLUDED.failed`,
    { outcomes: JSON.stringify(outcomes) },
    t,
  );
}
