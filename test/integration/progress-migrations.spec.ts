import { QueryTypes, type Sequelize } from "sequelize";
import { createSequelize } from "../../lib/db/connection";
import { migrate } from "../../lib/db/migrator";
import { progressMigrations } from "../../services/progress/migrations";
import { createTestDatabase, type TestDatabase } from "../support/isolation";
import { requireServers } from "../support/servers";

/**
 * Progress's data written before card and question ids were scoped to their lesson is
 * migrated in place: nothing is lost, and every row knows its lesson.
 */

let db: TestDatabase;
let sequelize: Sequelize;

const select = <T extends object>(sql: string) =>
  sequelize.query<T>(sql, { type: QueryTypes.SELECT });

beforeAll(async () => {
  await requireServers("postgres");
  db = await createTestDatabase("lm_progress_mig");
  sequelize = createSequelize({
    target: { kind: "url", url: db.url },
    applicationName: "progress-migrations-spec",
  });
});

afterAll(async () => {
  await sequelize?.close();
  await db?.drop();
});

it("when rows of the first schema are migrated, then card state, review logs and the XP ledger are keyed by lesson", async () => {
  await migrate({ sequelize, schema: "progress", migrations: progressMigrations.slice(0, 1) });
  await sequelize.query(`
    INSERT INTO progress.review_cards (user_id, card_id, lesson_id, course_id, front, back, due, stability,
      difficulty, elapsed_days, scheduled_days, learning_steps, reps, lapses, state)
    VALUES ('u1', 'c1', 'deck-a', 'course-a', 'apple', 'Apfel', now(), 3.1, 5.2, 0, 3, 0, 1, 0, 2);
    INSERT INTO progress.review_logs (user_id, card_id, rating, state, due, stability, difficulty, scheduled_days, reviewed_at)
    VALUES ('u1', 'c1', 3, 2, now(), 3.1, 5.2, 3, now());
    INSERT INTO progress.attempts (id, user_id, lesson_id, course_id, score, max_score, passed, xp_earned, answers, results, created_at)
    VALUES ('a1', 'u1', 'quiz-a', 'course-a', 40, 40, true, 80, '[]', '[]', now());
    INSERT INTO progress.xp_ledger (user_id, amount, reason, ref, iso_week, local_date, occurred_at) VALUES
      ('u1', 80, 'attempt', 'a1', '2026-W47', '2026-11-18', now()),
      ('u1', 20, 'lesson', 'read-a', '2026-W47', '2026-11-18', now()),
      ('u1', 2, 'review', 'c1', '2026-W47', '2026-11-18', now());
  `);

  expect(await migrate({ sequelize, schema: "progress", migrations: progressMigrations })).toEqual([
    "0002-progress-lesson-scoped-ids",
    "0003-progress-learner-event-sequence",
    "0004-progress-event-sequence",
    "0006-progress-certificates",
    "0007-progress-premium",
    "0008-progress-review-waves",
    "0009-progress-placement",
    "0020-progress-analytics-read-model",
    "0011-progress-skills-practice",
    "0021-progress-home-summaries",
  ]);

  expect(
    await select(`SELECT lesson_id, card_id, reps FROM progress.review_cards WHERE user_id = 'u1'`),
  ).toEqual([{ lesson_id: "deck-a", card_id: "c1", reps: 1 }]);
  expect(await select(`SELECT lesson_id, card_id FROM progress.review_logs`)).toEqual([
    { lesson_id: "deck-a", card_id: "c1" },
  ]);
  expect(
    await select(`SELECT reason, lesson_id, repeat FROM progress.xp_ledger ORDER BY amount DESC`),
  ).toEqual([
    { reason: "attempt", lesson_id: "quiz-a", repeat: false },
    { reason: "lesson", lesson_id: "read-a", repeat: false },
    { reason: "review", lesson_id: null, repeat: false },
  ]);
  // Another lesson's card c1 is another card; a score keeps its fraction.
  await sequelize.query(`
    INSERT INTO progress.review_cards (user_id, card_id, lesson_id, course_id, front, back, due, stability,
      difficulty, elapsed_days, scheduled_days, learning_steps, reps, lapses, state)
    VALUES ('u1', 'c1', 'deck-b', 'course-b', 'other', 'x', now(), 0, 0, 0, 0, 0, 0, 0, 0);
    UPDATE progress.attempts SET score = 31.67 WHERE id = 'a1';
  `);
  expect(
    await select(`SELECT front FROM progress.review_cards WHERE card_id = 'c1' ORDER BY lesson_id`),
  ).toEqual([{ front: "apple" }, { front: "other" }]);
  expect(await select(`SELECT score FROM progress.attempts`)).toEqual([{ score: 31.67 }]);
});
