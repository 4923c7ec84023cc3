import type { Migration } from "../../mixins/db.mixin";

/**
 * The analytics read model (docs/analytics.md): tables only the durable-event consumers of
 * services/progress/analytics-feed.ts write and the analytics routes read. Facts keyed by what
 * they are about (an attempt, a learner's lesson, a mail's outcome) make a replayed or
 * rebuilt-then-redelivered event a no-op; counters move only when a fact is new.
 */
function readModel(s: string): string {
  return `
CREATE TABLE IF NOT EXISTS "${s}".analytics_enrolments (
  course_id text NOT NULL,
  user_id text NOT NULL,
  enrolled_at timestamptz NOT NULL,
  completed_at timestamptz,
  PRIMARY KEY (course_id, user_id)
);
CREATE INDEX IF NOT EXISTS analytics_enrolments_user ON "${s}".analytics_enrolments (user_id);

CREATE TABLE IF NOT EXISTS "${s}".analytics_course_activity (
  course_id text NOT NULL,
  user_id text NOT NULL,
  last_active_at timestamptz NOT NULL,
  PRIMARY KEY (course_id, user_id)
);
CREATE INDEX IF NOT EXISTS analytics_course_activity_recent
  ON "${s}".analytics_course_activity (course_id, last_active_at);
CREATE INDEX IF NOT EXISTS analytics_course_activity_user ON "${s}".analytics_course_activity (user_id);

CREATE TABLE IF NOT EXISTS "${s}".analytics_lessons (
  lesson_id text PRIMARY KEY,
  started integer NOT NULL DEFAULT 0,
  completed integer NOT NULL DEFAULT 0,
  attempts integer NOT NULL DEFAULT 0,
  passed integer NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS "${s}".analytics_lesson_learners (
  lesson_id text NOT NULL,
  user_id text NOT NULL,
  completed boolean NOT NULL DEFAULT false,
  PRIMARY KEY (lesson_id, user_id)
);
CREATE INDEX IF NOT EXISTS analytics_lesson_learners_user ON "${s}".analytics_lesson_learners (user_id);

CREATE TABLE IF NOT EXISTS "${s}".analytics_attempts (
  attempt_id text PRIMARY KEY,
  user_id text NOT NULL,
  lesson_id text NOT NULL,
  passed boolean NOT NULL,
  answers jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS analytics_attempts_user ON "${s}".analytics_attempts (user_id);

CREATE TABLE IF NOT EXISTS "${s}".analytics_first_attempts (
  lesson_id text NOT NULL,
  user_id text NOT NULL,
  attempt_id text NOT NULL,
  graded_at timestamptz NOT NULL,
  ratio float8,
  answers jsonb NOT NULL,
  PRIMARY KEY (lesson_id, user_id)
);
CREATE INDEX IF NOT EXISTS analytics_first_attempts_user ON "${s}".analytics_first_attempts (user_id);

CREATE TABLE IF NOT EXISTS "${s}".analytics_questions (
  lesson_id text NOT NULL,
  question_id text NOT NULL,
  answers integer NOT NULL DEFAULT 0,
  correct integer NOT NULL DEFAULT 0,
  p_upper float8,
  p_lower float8,
  PRIMARY KEY (lesson_id, question_id)
);

CREATE TABLE IF NOT EXISTS "${s}".analytics_learner_days (
  user_id text NOT NULL,
  local_date date NOT NULL,
  PRIMARY KEY (user_id, local_date)
);

CREATE TABLE IF NOT EXISTS "${s}".analytics_learner_activity (
  user_id text PRIMARY KEY,
  last_local_date date NOT NULL
);
CREATE INDEX IF NOT EXISTS analytics_learner_activity_last ON "${s}".analytics_learner_activity (last_local_date);

CREATE TABLE IF NOT EXISTS "${s}".analytics_cohort_members (
  user_id text PRIMARY KEY,
  first_day date NOT NULL,
  d1 boolean NOT NULL DEFAULT false,
  d7 boolean NOT NULL DEFAULT false,
  d30 boolean NOT NULL DEFAULT false
);
CREATE INDEX IF NOT EXISTS analytics_cohort_members_day ON "${s}".analytics_cohort_members (first_day);

CREATE TABLE IF NOT EXISTS "${s}".analytics_registrations (
  user_id text PRIMARY KEY,
  day date NOT NULL
);
CREATE TABLE IF NOT EXISTS "${s}".analytics_registration_days (
  day date PRIMARY KEY,
  count integer NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS "${s}".analytics_mail (
  email_id text NOT NULL,
  outcome text NOT NULL CHECK (outcome IN ('sent', 'opened', 'clicked', 'failed')),
  day date NOT NULL,
  PRIMARY KEY (email_id, outcome)
);
CREATE TABLE IF NOT EXISTS "${s}".analytics_mail_days (
  day date PRIMARY KEY,
  sent integer NOT NULL DEFAULT 0,
  opened integer NOT NULL DEFAULT 0,
  clicked integer NOT NULL DEFAULT 0,
  failed integer NOT NULL DEFAULT 0
);
`;
}

export const readModelMigration: Migration = {
  name: "0020-progress-analytics-read-model",
  async up({ context }) {
    await context.sequelize.query(readModel(context.schema));
  },
};
