import type { Migration } from "../../mixins/db.mixin";
import { readModelMigration } from "./read-model-schema";

/**
 * The progress schema. PostgreSQL is the source of truth; the unique keys are what make
 * grading, XP, achievements and reminders happen once under concurrency:
 *  - idempotency_keys (user_id, key): a retried submission finds the first answer;
 *  - lesson_completions (user_id, lesson_id): the first-completion bonus is paid once;
 *  - achievements (user_id, code): every achievement unlocks once;
 *  - streak_reminders (user_id, local_date): one reminder a learner a local day.
 */
function init(s: string): string {
  return `
CREATE TABLE IF NOT EXISTS "${s}".learners (
  user_id text PRIMARY KEY,
  name text NOT NULL DEFAULT '',
  timezone text NOT NULL DEFAULT 'UTC',
  daily_goal_xp integer NOT NULL DEFAULT 20,
  xp integer NOT NULL DEFAULT 0,
  streak_current integer NOT NULL DEFAULT 0,
  streak_longest integer NOT NULL DEFAULT 0,
  streak_last_date date,
  streak_freezes integer NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS learners_rank ON "${s}".learners (xp DESC, user_id DESC) WHERE xp > 0;
CREATE INDEX IF NOT EXISTS learners_streak ON "${s}".learners (streak_last_date) WHERE streak_current > 0;

CREATE TABLE IF NOT EXISTS "${s}".courses (
  course_id text PRIMARY KEY,
  title text NOT NULL DEFAULT '',
  level text NOT NULL DEFAULT '',
  version integer NOT NULL DEFAULT 0,
  lessons_version integer NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS "${s}".course_lessons (
  course_id text NOT NULL,
  lesson_id text NOT NULL,
  kind text NOT NULL,
  PRIMARY KEY (course_id, lesson_id)
);
CREATE INDEX IF NOT EXISTS course_lessons_lesson ON "${s}".course_lessons (lesson_id);

CREATE TABLE IF NOT EXISTS "${s}".enrollments (
  id text PRIMARY KEY,
  user_id text NOT NULL,
  course_id text NOT NULL,
  enrolled_at timestamptz NOT NULL,
  completed_at timestamptz,
  cards_version integer NOT NULL DEFAULT 0,
  UNIQUE (user_id, course_id)
);

CREATE TABLE IF NOT EXISTS "${s}".lesson_completions (
  user_id text NOT NULL,
  lesson_id text NOT NULL,
  course_id text NOT NULL,
  best_score integer,
  completions integer NOT NULL DEFAULT 1,
  first_completed_at timestamptz NOT NULL,
  last_completed_at timestamptz NOT NULL,
  PRIMARY KEY (user_id, lesson_id)
);

CREATE TABLE IF NOT EXISTS "${s}".attempts (
  id text PRIMARY KEY,
  user_id text NOT NULL,
  lesson_id text NOT NULL,
  course_id text NOT NULL,
  score integer NOT NULL,
  max_score integer NOT NULL,
  passed boolean NOT NULL,
  xp_earned integer NOT NULL,
  answers jsonb NOT NULL,
  results jsonb NOT NULL,
  created_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS attempts_user_lesson ON "${s}".attempts (user_id, lesson_id, created_at DESC);

CREATE TABLE IF NOT EXISTS "${s}".idempotency_keys (
  user_id text NOT NULL,
  key text NOT NULL,
  scope text NOT NULL,
  request_hash text NOT NULL,
  status integer NOT NULL,
  response jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, key)
);

CREATE TABLE IF NOT EXISTS "${s}".xp_ledger (
  id bigserial PRIMARY KEY,
  user_id text NOT NULL,
  amount integer NOT NULL,
  reason text NOT NULL,
  ref text,
  iso_week text NOT NULL,
  local_date date NOT NULL,
  occurred_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS xp_ledger_user ON "${s}".xp_ledger (user_id, occurred_at);

CREATE TABLE IF NOT EXISTS "${s}".weekly_xp (
  iso_week text NOT NULL,
  user_id text NOT NULL,
  xp integer NOT NULL,
  PRIMARY KEY (iso_week, user_id)
);
CREATE INDEX IF NOT EXISTS weekly_xp_rank ON "${s}".weekly_xp (iso_week, xp DESC, user_id DESC);

CREATE TABLE IF NOT EXISTS "${s}".activity_days (
  user_id text NOT NULL,
  local_date date NOT NULL,
  xp integer NOT NULL DEFAULT 0,
  lessons integer NOT NULL DEFAULT 0,
  attempts integer NOT NULL DEFAULT 0,
  reviews integer NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, local_date)
);

CREATE TABLE IF NOT EXISTS "${s}".achievements (
  user_id text NOT NULL,
  code text NOT NULL,
  unlocked_at timestamptz NOT NULL,
  PRIMARY KEY (user_id, code)
);

CREATE TABLE IF NOT EXISTS "${s}".review_cards (
  user_id text NOT NULL,
  card_id text NOT NULL,
  lesson_id text NOT NULL,
  course_id text NOT NULL,
  front text NOT NULL,
  back text NOT NULL,
  due timestamptz NOT NULL,
  stability double precision NOT NULL,
  difficulty double precision NOT NULL,
  elapsed_days integer NOT NULL,
  scheduled_days integer NOT NULL,
  learning_steps integer NOT NULL,
  reps integer NOT NULL,
  lapses integer NOT NULL,
  state smallint NOT NULL,
  last_review timestamptz,
  PRIMARY KEY (user_id, card_id)
);
CREATE INDEX IF NOT EXISTS review_cards_due ON "${s}".review_cards (user_id, due);
CREATE INDEX IF NOT EXISTS review_cards_lesson ON "${s}".review_cards (lesson_id);

CREATE TABLE IF NOT EXISTS "${s}".review_logs (
  id bigserial PRIMARY KEY,
  user_id text NOT NULL,
  card_id text NOT NULL,
  rating smallint NOT NULL,
  state smallint NOT NULL,
  due timestamptz NOT NULL,
  stability double precision NOT NULL,
  difficulty double precision NOT NULL,
  scheduled_days integer NOT NULL,
  reviewed_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS review_logs_card ON "${s}".review_logs (user_id, card_id, reviewed_at);

CREATE TABLE IF NOT EXISTS "${s}".streak_reminders (
  user_id text NOT NULL,
  local_date date NOT NULL,
  sent_at timestamptz NOT NULL,
  PRIMARY KEY (user_id, local_date)
);
`;
}

/**
 * Card and question ids are the author's, unique only within their lesson: a learner's card
 * state and its review log are keyed by (lesson, card), so a deck elsewhere reusing an id
 * cannot touch them. Scores keep their fractions (the pass mark is compared exactly). The
 * ledger says which lesson paid and whether it was a repeat (the daily cap per lesson), and
 * erased learners leave a tombstone that every write path checks.
 */
function scopedIds(s: string): string {
  return `
ALTER TABLE "${s}".review_cards DROP CONSTRAINT IF EXISTS review_cards_pkey;
ALTER TABLE "${s}".review_cards ADD PRIMARY KEY (user_id, lesson_id, card_id);

ALTER TABLE "${s}".review_logs ADD COLUMN IF NOT EXISTS lesson_id text;
UPDATE "${s}".review_logs l SET lesson_id = c.lesson_id FROM "${s}".review_cards c
  WHERE l.lesson_id IS NULL AND c.user_id = l.user_id AND c.card_id = l.card_id;
DROP INDEX IF EXISTS "${s}".review_logs_card;
CREATE INDEX IF NOT EXISTS review_logs_card ON "${s}".review_logs (user_id, lesson_id, card_id, reviewed_at);

ALTER TABLE "${s}".attempts ALTER COLUMN score TYPE double precision;
ALTER TABLE "${s}".lesson_completions ALTER COLUMN best_score TYPE double precision;

ALTER TABLE "${s}".xp_ledger ADD COLUMN IF NOT EXISTS lesson_id text;
ALTER TABLE "${s}".xp_ledger ADD COLUMN IF NOT EXISTS repeat boolean NOT NULL DEFAULT false;
UPDATE "${s}".xp_ledger SET lesson_id = ref WHERE reason = 'lesson' AND lesson_id IS NULL;
UPDATE "${s}".xp_ledger x SET lesson_id = a.lesson_id FROM "${s}".attempts a
  WHERE x.reason = 'attempt' AND x.lesson_id IS NULL AND a.id = x.ref;
CREATE INDEX IF NOT EXISTS xp_ledger_lesson ON "${s}".xp_ledger (user_id, lesson_id, occurred_at) WHERE repeat;

CREATE TABLE IF NOT EXISTS "${s}".erased_users (
  user_id text PRIMARY KEY,
  erased_at timestamptz NOT NULL
);
`;
}

/**
 * Certificates: one per (learner, course), issued in the transaction that completes the course.
 * Each holds its place in the revocation status list (Bitstring Status List) from a sequence;
 * a revoked place stays revoked when the learner is erased and the certificate row goes.
 */
function certificates(s: string): string {
  return `
CREATE SEQUENCE IF NOT EXISTS "${s}".certificate_status_index START WITH 0 MINVALUE 0;
CREATE TABLE IF NOT EXISTS "${s}".certificates (
  id text PRIMARY KEY,
  user_id text NOT NULL,
  course_id text NOT NULL,
  learner_name text NOT NULL,
  course_title text NOT NULL,
  level text NOT NULL,
  issued_at timestamptz NOT NULL,
  status_index integer NOT NULL UNIQUE DEFAULT nextval('"${s}".certificate_status_index'),
  revoked_at timestamptz,
  revoked_reason text,
  UNIQUE (user_id, course_id)
);
CREATE TABLE IF NOT EXISTS "${s}".revoked_status_entries (
  status_index integer PRIMARY KEY,
  revoked_at timestamptz NOT NULL
);
`;
}

/**
 * Skill mastery (services/progress/mastery.ts): a rating per learner and skill, a learned
 * difficulty per question (lesson-scoped ids), and the practice quizzes served by POST
 * /me/practice with what grading them paid.
 */
function skills(s: string): string {
  return `
CREATE TABLE IF NOT EXISTS "${s}".skill_ratings (
  user_id text NOT NULL,
  skill text NOT NULL,
  rating double precision NOT NULL,
  attempts integer NOT NULL,
  last_practiced_at timestamptz NOT NULL,
  PRIMARY KEY (user_id, skill)
);
CREATE INDEX IF NOT EXISTS skill_ratings_weakest ON "${s}".skill_ratings (user_id, rating, last_practiced_at);

CREATE TABLE IF NOT EXISTS "${s}".question_difficulty (
  lesson_id text NOT NULL,
  question_id text NOT NULL,
  difficulty double precision NOT NULL,
  answers integer NOT NULL,
  PRIMARY KEY (lesson_id, question_id)
);

CREATE TABLE IF NOT EXISTS "${s}".practice_quizzes (
  id text PRIMARY KEY,
  user_id text NOT NULL,
  skill text,
  items jsonb NOT NULL,
  created_at timestamptz NOT NULL,
  graded_at timestamptz,
  local_date date,
  xp_earned integer NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS practice_quizzes_user ON "${s}".practice_quizzes (user_id, local_date);
`;
}

/**
 * Placement tests (docs/learning-rules.md, "Placement"): one row a test, its answers so far
 * (question, difficulty, right or not — no answer keys) and the question now asked; a finished
 * test holds its level, which is the learner's placed level while it is their latest.
 */
function placement(s: string): string {
  return `
CREATE TABLE IF NOT EXISTS "${s}".placement_tests (
  id text PRIMARY KEY,
  user_id text NOT NULL,
  started_at timestamptz NOT NULL,
  responses jsonb NOT NULL DEFAULT '[]'::jsonb,
  current_question_id text,
  finished_at timestamptz,
  level text,
  confidence double precision
);
CREATE INDEX IF NOT EXISTS placement_tests_user_idx ON "${s}".placement_tests (user_id, finished_at DESC);
`;
}

export const progressMigrations: Migration[] = [
  {
    name: "0001-progress-init",
    async up({ context }) {
      await context.sequelize.query(init(context.schema));
    },
  },
  {
    name: "0002-progress-lesson-scoped-ids",
    async up({ context }) {
      await context.sequelize.query(scopedIds(context.schema));
    },
  },
  {
    name: "0003-progress-learner-event-sequence",
    async up({ context }) {
      // The newest user.* event (its sequence) whose name and time zone the learner row holds.
      await context.sequelize.query(
        `ALTER TABLE "${context.schema}".learners ADD COLUMN IF NOT EXISTS profile_sequence bigint NOT NULL DEFAULT 0`,
      );
    },
  },
  {
    name: "0004-progress-event-sequence",
    async up({ context }) {
      // The learner's progress.* event counter (events.md: a per-aggregate version in every event).
      await context.sequelize.query(
        `ALTER TABLE "${context.schema}".learners ADD COLUMN IF NOT EXISTS event_sequence bigint NOT NULL DEFAULT 0`,
      );
    },
  },
  {
    name: "0006-progress-certificates",
    async up({ context }) {
      await context.sequelize.query(certificates(context.schema));
    },
  },
  {
    name: "0007-progress-premium",
    async up({ context }) {
      // The copy of billing's premium entitlement (billing.subscription.changed), newest
      // billing sequence wins: premium courses are checked here, not by a call per request.
      await context.sequelize.query(
        `CREATE TABLE IF NOT EXISTS "${context.schema}".premium_members (
           user_id    text PRIMARY KEY,
           premium    boolean NOT NULL,
           sequence   bigint NOT NULL,
           updated_at timestamptz NOT NULL DEFAULT now()
         )`,
      );
    },
  },
  {
    name: "0008-progress-review-waves",
    async up({ context }) {
      // The learners whose due reviews were announced (progress.review.due) and are not all done.
      await context.sequelize.query(
        `CREATE TABLE IF NOT EXISTS "${context.schema}".review_waves (
           user_id   text PRIMARY KEY,
           opened_at timestamptz NOT NULL
         )`,
      );
    },
  },
  {
    name: "0009-progress-placement",
    async up({ context }) {
      await context.sequelize.query(placement(context.schema));
    },
  },
  readModelMigration,
  {
    name: "0011-progress-skills-practice",
    async up({ context }) {
      await context.sequelize.query(skills(context.schema));
    },
  },
  {
    name: "0021-progress-home-summaries",
    async up({ context }) {
      // The learner's home summary (GET /me/dashboard's read model, services/progress/home.ts):
      // `sequence` is the learner's event_sequence it reflects (-1: to be rebuilt); the unread
      // count is notify's (notify.inbox.changed), newest `unread_version` wins; `generation`
      // counts the marks for a rebuild, so a build begun before one is not stored after it.
      await context.sequelize.query(
        `CREATE TABLE IF NOT EXISTS "${context.schema}".home_summaries (
           user_id           text PRIMARY KEY,
           sequence          bigint NOT NULL DEFAULT -1,
           generation        bigint NOT NULL DEFAULT 0,
           progress          jsonb,
           courses           jsonb,
           timezone          text NOT NULL DEFAULT 'UTC',
           daily_goal_xp     integer NOT NULL DEFAULT 20,
           new_cards_per_day integer NOT NULL DEFAULT 20,
           unread            integer,
           unread_version    bigint NOT NULL DEFAULT 0,
           updated_at        timestamptz NOT NULL DEFAULT now()
         )`,
      );
    },
  },
];
