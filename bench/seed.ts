import Redis from "ioredis";
import { Client } from "pg";
import type { AppConfig } from "../lib/config";
import { createEnvelope } from "../lib/events/envelope";
import type { Role } from "../models/auth.model";
import { STARTER_COURSES } from "../seeds/starter-course";
import { seedId } from "../services/content/seeder";
import { isoWeek } from "../services/progress/clock";
import { RedisLeaderboard, type LeaderboardSource } from "../services/progress/leaderboard";
import { hashPassword } from "../services/users/passwords";
import { loadSigningKeys, signAccessToken } from "../services/users/tokens";

/**
 * Realistic data for the benchmark, written straight into the services' tables in bulk
 * (10 000 Argon2 registrations would take minutes and measure nothing we want here):
 * learners that are real, loginable accounts (one password hashed once with the users
 * service's own parameters, its PHC string reused), their progress rows, 100 000 graded
 * attempts with XP that adds up (ledger = weekly totals = learner totals), and the Redis
 * leaderboards rebuilt from it by the progress service's own board code.
 */

export const LEARNER_PASSWORD = "bench-learner-passphrase-7431";
export const LEARNER_DOMAIN = "bench.lingomesh.test";
export const learnerEmail = (i: number) => `learner${i}@${LEARNER_DOMAIN}`;

const TIMEZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "America/Sao_Paulo"];

export interface QuizLesson {
  courseId: string;
  lessonId: string;
  questions: Array<{ id: string; answer: string | string[] }>;
}

/** The quizzes of the starter courses with their answer keys (the seeder's stable ids). */
export function starterQuizzes(): QuizLesson[] {
  const quizzes: QuizLesson[] = [];
  for (const course of STARTER_COURSES) {
    for (const lesson of course.lessons) {
      if (lesson.kind !== "quiz" || !lesson.questions?.length) continue;
      const base = `${course.key}/${lesson.key}`;
      quizzes.push({
        courseId: seedId(course.key),
        lessonId: seedId(base),
        questions: lesson.questions.map((q, i) => ({
          id: seedId(`${base}/q${i + 1}`),
          answer: q.answer as string | string[],
        })),
      });
    }
  }
  return quizzes;
}

export function starterCourseIds(): string[] {
  return STARTER_COURSES.map(course => seedId(course.key));
}

export interface SeedReport {
  learners: number;
  attempts: number;
  passed: number;
  xpTotal: number;
  weeklyBoard: number;
  allTimeBoard: number;
  seconds: number;
}

export async function seedDatabase(
  databaseUrl: string,
  learners: number,
  attempts: number,
): Promise<Omit<SeedReport, "weeklyBoard" | "allTimeBoard">> {
  const started = Date.now();
  const phc = await hashPassword(LEARNER_PASSWORD);
  const quizzes = starterQuizzes();
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    await db.query("SET TIME ZONE 'UTC'");
    await db.query("BEGIN");
    await db.query(
      `INSERT INTO users.users (id, email, name, timezone, roles, password_hash, email_verified,
         created_at, updated_at, password_changed_at)
       SELECT gen_random_uuid(), 'learner' || i || '@' || $3, 'Learner ' || i,
              ($4::text[])[1 + i % array_length($4::text[], 1)], ARRAY['learner'], $1, true,
              now() - (i || ' minutes')::interval, now(), now()
       FROM generate_series(1, $2::int) AS i`,
      [phc, learners, LEARNER_DOMAIN, TIMEZONES],
    );
    const bench = `learner%@${LEARNER_DOMAIN}`;
    await db.query(
      `INSERT INTO progress.learners (user_id, name, timezone, daily_goal_xp, created_at, updated_at)
       SELECT id::text, name, timezone, 20, created_at, now() FROM users.users WHERE email LIKE $1`,
      [bench],
    );
    await db.query(
      `INSERT INTO notify.recipients (user_id, email, name, timezone, email_verified, created_at, updated_at)
       SELECT id::text, email, name, timezone, true, created_at, now() FROM users.users WHERE email LIKE $1`,
      [bench],
    );
    // The attempts: learner n gets every `learners`-th attempt, alternating quizzes; mostly
    // passing scores, a third of them this ISO week so the weekly board is well filled.
    await db.query(
      `CREATE TEMP TABLE seed_quiz (k int, lesson_id text, course_id text, questions int) ON COMMIT DROP`,
    );
    for (const [k, quiz] of quizzes.entries()) {
      await db.query(`INSERT INTO seed_quiz VALUES ($1, $2, $3, $4)`, [
        k,
        quiz.lessonId,
        quiz.courseId,
        quiz.questions.length,
      ]);
    }
    await db.query(
      `CREATE TEMP TABLE seed_attempts ON COMMIT DROP AS
       WITH l AS (
         SELECT user_id, timezone, (row_number() OVER (ORDER BY user_id)) - 1 AS n FROM progress.learners
       ), a AS (
         SELECT g,
                g % $1::int AS n,
                (g / $1::int) % $3::int AS k,
                CASE WHEN random() < 0.33
                  THEN date_trunc('week', now()) + random() * (now() - date_trunc('week', now()))
                  ELSE now() - random() * interval '56 days' END AS at,
                power(random(), 2) AS miss
         FROM generate_series(0, $2::int - 1) AS g
       ), graded AS (
         SELECT gen_random_uuid()::text AS id, l.user_id, l.timezone, q.lesson_id, q.course_id, a.at,
                (q.questions - least(q.questions, floor(a.miss * (q.questions + 1))::int)) * 10 AS score,
                q.questions * 10 AS max_score
         FROM a JOIN l USING (n) JOIN seed_quiz q USING (k)
       ), ordered AS (
         SELECT *, score >= ceil(0.8 * max_score) AS passed,
                row_number() OVER (PARTITION BY user_id, lesson_id, score >= ceil(0.8 * max_score) ORDER BY at) AS nth
         FROM graded
       )
       SELECT *, passed AND nth = 1 AS first,
              CASE WHEN NOT passed THEN 0
                   WHEN nth = 1 THEN score + 20 + CASE WHEN score = max_score THEN 20 ELSE 0 END
                   ELSE floor(score * 0.25)::int END AS xp
       FROM ordered`,
      [learners, attempts, quizzes.length],
    );
    await db.query(
      `INSERT INTO progress.attempts (id, user_id, lesson_id, course_id, score, max_score, passed,
         xp_earned, answers, results, created_at)
       SELECT id, user_id, lesson_id, course_id, score, max_score, passed, xp, '[]', '[]', at FROM seed_attempts`,
    );
    await db.query(
      `INSERT INTO progress.xp_ledger (user_id, amount, reason, ref, iso_week, local_date, occurred_at)
       SELECT user_id, xp, 'attempt', id, to_char(at, 'IYYY-"W"IW'), (at AT TIME ZONE timezone)::date, at
       FROM seed_attempts WHERE xp > 0`,
    );
    await db.query(
      `INSERT INTO progress.weekly_xp (iso_week, user_id, xp)
       SELECT iso_week, user_id, sum(amount) FROM progress.xp_ledger GROUP BY iso_week, user_id`,
    );
    await db.query(
      `INSERT INTO progress.activity_days (user_id, local_date, xp, lessons, attempts, reviews)
       SELECT user_id, (at AT TIME ZONE timezone)::date, sum(xp), count(*) FILTER (WHERE first), count(*), 0
       FROM seed_attempts GROUP BY 1, 2`,
    );
    await db.query(
      `INSERT INTO progress.lesson_completions (user_id, lesson_id, course_id, best_score, completions,
         first_completed_at, last_completed_at)
       SELECT user_id, lesson_id, min(course_id), max(score), count(*), min(at), max(at)
       FROM seed_attempts WHERE passed GROUP BY user_id, lesson_id`,
    );
    // Enrolled where they passed something; their cards are at the published version (1),
    // so reading due reviews does not first copy the decks.
    await db.query(
      `INSERT INTO progress.enrollments (id, user_id, course_id, enrolled_at, cards_version)
       SELECT gen_random_uuid()::text, user_id, course_id, min(at), 1
       FROM seed_attempts WHERE passed GROUP BY user_id, course_id`,
    );
    await db.query(
      `UPDATE progress.learners l SET xp = s.xp, streak_current = 1, streak_longest = s.days,
              streak_last_date = s.last, updated_at = now()
       FROM (SELECT user_id, sum(xp)::int AS xp, count(DISTINCT (at AT TIME ZONE timezone)::date)::int AS days,
                    max((at AT TIME ZONE timezone)::date) AS last
             FROM seed_attempts GROUP BY user_id) s
       WHERE l.user_id = s.user_id`,
    );
    // The achievements these learners have already earned (rules of services/progress/achievements.ts),
    // so the first new attempt of each does not unlock (and mail) them all at once.
    await db.query(
      `INSERT INTO progress.achievements (user_id, code, unlocked_at)
       SELECT user_id, 'first_lesson', min(at) FROM seed_attempts WHERE passed GROUP BY user_id
       UNION ALL SELECT user_id, 'perfect_quiz', min(at) FROM seed_attempts WHERE score = max_score GROUP BY user_id
       UNION ALL SELECT user_id, 'xp_100', now() FROM progress.learners WHERE xp >= 100
       UNION ALL SELECT user_id, 'xp_1000', now() FROM progress.learners WHERE xp >= 1000`,
    );
    const totals = await db.query<{ n: string; passed: string; xp: string }>(
      `SELECT count(*) AS n, count(*) FILTER (WHERE passed) AS passed, coalesce(sum(xp), 0) AS xp FROM seed_attempts`,
    );
    await db.query("COMMIT");
    // Consistency, checked rather than assumed: ledger = weekly = learner totals.
    const check = await db.query<{ ledger: string; weekly: string; learners: string }>(
      `SELECT (SELECT coalesce(sum(amount), 0) FROM progress.xp_ledger) AS ledger,
              (SELECT coalesce(sum(xp), 0) FROM progress.weekly_xp) AS weekly,
              (SELECT coalesce(sum(xp), 0) FROM progress.learners) AS learners`,
    );
    const c = check.rows[0];
    if (c.ledger !== c.weekly || c.ledger !== c.learners) {
      throw new Error(`seeded XP does not add up: ${JSON.stringify(c)}`);
    }
    await db.query("ANALYZE");
    return {
      learners,
      attempts: Number(totals.rows[0].n),
      passed: Number(totals.rows[0].passed),
      xpTotal: Number(totals.rows[0].xp),
      seconds: (Date.now() - started) / 1000,
    };
  } catch (err) {
    await db.query("ROLLBACK").catch(() => undefined);
    throw err;
  } finally {
    await db.end();
  }
}

/** Rebuilds the weekly and all-time boards in Redis with the progress service's own code. */
export async function rebuildLeaderboards(
  databaseUrl: string,
  redisUrl: string,
  prefix: string,
): Promise<{ weekly: number; allTime: number }> {
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  const redis = new Redis(redisUrl, { lazyConnect: false, maxRetriesPerRequest: 2 });
  try {
    const source: LeaderboardSource = {
      async scores(week) {
        const result =
          week === null
            ? await db.query<{ userId: string; xp: number }>(
                `SELECT user_id AS "userId", xp FROM progress.learners WHERE xp > 0`,
              )
            : await db.query<{ userId: string; xp: number }>(
                `SELECT user_id AS "userId", xp FROM progress.weekly_xp WHERE iso_week = $1 AND xp > 0`,
                [week],
              );
        return result.rows;
      },
      async names(ids) {
        const result = await db.query<{ user_id: string; name: string }>(
          `SELECT user_id, name FROM progress.learners WHERE user_id = ANY($1)`,
          [ids],
        );
        return new Map(result.rows.map(r => [r.user_id, r.name]));
      },
      top: () => Promise.reject(new Error("not used")),
      rank: () => Promise.reject(new Error("not used")),
    };
    const board = new RedisLeaderboard(redis, prefix, source);
    const week = isoWeek(new Date());
    for (const period of ["weekly", "all"] as const) {
      await redis.del(board.key(period, week), `${board.key(period, week)}:built`);
      await board.ensure(period, week);
    }
    // Display names in one write, as the board's name hash holds them.
    const names = await db.query<{ user_id: string; name: string }>(
      `SELECT user_id, name FROM progress.learners WHERE xp > 0`,
    );
    for (let i = 0; i < names.rows.length; i += 2000) {
      const chunk = names.rows.slice(i, i + 2000);
      await redis.hset(
        `${prefix}progress:lb:names`,
        Object.fromEntries(chunk.map(r => [r.user_id, r.name])),
      );
    }
    return {
      weekly: await redis.zcard(board.key("weekly", week)),
      allTime: await redis.zcard(board.key("all", week)),
    };
  } finally {
    redis.disconnect();
    await db.end();
  }
}

export interface Learner {
  id: string;
  email: string;
  token: string;
}

/**
 * Access tokens for `count` learners, signed with the cluster's key by the users service's
 * own signing code — what a login hands out. Logins themselves are measured in scenario 5;
 * a thousand Argon2 verifications just to obtain tokens would only lengthen the run.
 */
export async function learnerTokens(
  databaseUrl: string,
  cfg: AppConfig,
  count: number,
): Promise<Learner[]> {
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const result = await db.query<{ id: string; email: string; roles: Role[] }>(
      `SELECT id::text, email, roles FROM users.users WHERE email LIKE $1 ORDER BY random() LIMIT $2`,
      [`learner%@${LEARNER_DOMAIN}`, count],
    );
    const keys = await loadSigningKeys(cfg);
    return Promise.all(
      result.rows.map(async row => ({
        id: row.id,
        email: row.email,
        token: (
          await signAccessToken(keys, cfg, {
            userId: row.id,
            roles: row.roles,
            sessionId: crypto.randomUUID(),
          })
        ).accessToken,
      })),
    );
  } finally {
    await db.end();
  }
}

/** Emails of `count` seeded learners (the login scenario signs in as each in turn). */
export async function learnerEmails(databaseUrl: string, count: number): Promise<string[]> {
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const result = await db.query<{ email: string }>(
      `SELECT email FROM users.users WHERE email LIKE $1 ORDER BY random() LIMIT $2`,
      [`learner%@${LEARNER_DOMAIN}`, count],
    );
    return result.rows.map(r => r.email);
  } finally {
    await db.end();
  }
}

/**
 * Scenario 6's load: `count` user.updated envelopes (the real envelope code) written to the
 * users service's outbox in one transaction, as `emitDurable` would inside a change. The
 * users relay publishes them to RabbitMQ with publisher confirms; progress and notify
 * consume them. Returns the commit time.
 */
export async function fillOutbox(databaseUrl: string, count: number): Promise<number> {
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const users = await db.query<{ id: string; name: string; timezone: string }>(
      `SELECT id::text, name, timezone FROM users.users WHERE email LIKE $1 ORDER BY email`,
      [`learner%@${LEARNER_DOMAIN}`],
    );
    await db.query("BEGIN");
    const batch = 10_000;
    for (let start = 0; start < count; start += batch) {
      const ids: string[] = [];
      const payloads: string[] = [];
      const at: string[] = [];
      for (let i = start; i < Math.min(count, start + batch); i += 1) {
        const user = users.rows[i % users.rows.length];
        const envelope = createEnvelope(
          "user.updated",
          { userId: user.id, name: `${user.name}`, timezone: user.timezone },
          { producer: "users", requestId: `bench-${i}` },
        );
        ids.push(envelope.id);
        payloads.push(JSON.stringify(envelope));
        at.push(envelope.occurredAt);
      }
      await db.query(
        `INSERT INTO users.outbox (id, type, payload, created_at)
         SELECT id, 'user.updated', payload, at FROM unnest($1::uuid[], $2::jsonb[], $3::timestamptz[]) AS u(id, payload, at)`,
        [ids, payloads, at],
      );
    }
    await db.query("COMMIT");
    return Date.now();
  } finally {
    await db.end();
  }
}

export interface EventCounts {
  published: number;
  progress: number;
  notify: number;
  lastProcessedAt: number | null;
}

export async function eventCounts(databaseUrl: string): Promise<EventCounts> {
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const result = await db.query<{
      published: string;
      progress: string;
      notify: string;
      last: Date | null;
    }>(
      `SELECT (SELECT count(*) FROM users.outbox WHERE type = 'user.updated' AND sent_at IS NOT NULL) AS published,
              (SELECT count(*) FROM progress.processed_events WHERE event_type = 'user.updated') AS progress,
              (SELECT count(*) FROM notify.processed_events WHERE event_type = 'user.updated') AS notify,
              greatest((SELECT max(processed_at) FROM progress.processed_events WHERE event_type = 'user.updated'),
                       (SELECT max(processed_at) FROM notify.processed_events WHERE event_type = 'user.updated')) AS last`,
    );
    const row = result.rows[0];
    return {
      published: Number(row.published),
      progress: Number(row.progress),
      notify: Number(row.notify),
      lastProcessedAt: row.last ? new Date(row.last).getTime() : null,
    };
  } finally {
    await db.end();
  }
}

/**
 * Scenario 8's course: `learners` more learners (ids `analytics-<n>`) enrolled in the first
 * starter course, each with one attempt at each of its quizzes (every question marked, about
 * 70 % right, better learners right more often), a completion of each passed quiz, the course
 * complete for a tenth of them, and activity on one of the last ten days. Written to the
 * tables; progress.rebuildAnalytics then puts it into the read model.
 */
export async function seedAnalyticsCourse(databaseUrl: string, learners: number): Promise<number> {
  const [courseId] = starterCourseIds();
  const quizzes = starterQuizzes().filter(quiz => quiz.courseId === courseId);
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    await db.query("SET TIME ZONE 'UTC'");
    await db.query("BEGIN");
    await db.query(
      `CREATE TEMP TABLE analytics_seed ON COMMIT DROP AS
       SELECT 'analytics-' || n AS user_id, n, q.lesson_id, q.question_ids,
              now() - ((n % 10) || ' days')::interval - ((n % 1440) || ' minutes')::interval AS at,
              (n % 100) / 100.0 AS skill
       FROM generate_series(1, $1::int) n
       CROSS JOIN jsonb_to_recordset($2::jsonb) AS q(lesson_id text, question_ids text[])`,
      [
        learners,
        JSON.stringify(
          quizzes.map(quiz => ({
            lesson_id: quiz.lessonId,
            question_ids: quiz.questions.map(q => q.id),
          })),
        ),
      ],
    );
    await db.query(
      `CREATE TEMP TABLE analytics_seed_attempts ON COMMIT DROP AS
       SELECT gen_random_uuid()::text AS id, s.user_id, s.n, s.lesson_id, s.at, r.results, r.score, r.max_score
       FROM analytics_seed s CROSS JOIN LATERAL (
         SELECT jsonb_agg(jsonb_build_object('questionId', qid, 'correct', ok, 'credit', CASE WHEN ok THEN 1 ELSE 0 END)) AS results,
                count(*) FILTER (WHERE ok)::int AS score, count(*)::int AS max_score
         FROM (SELECT qid, random() < 0.4 + 0.6 * s.skill AS ok FROM unnest(s.question_ids) qid) graded) r`,
    );
    await db.query(
      `INSERT INTO progress.attempts (id, user_id, lesson_id, course_id, score, max_score, passed,
         xp_earned, answers, results, created_at)
       SELECT id, user_id, lesson_id, $1, score, max_score, score * 10 >= max_score * 7, 0, '[]', results, at
       FROM analytics_seed_attempts`,
      [courseId],
    );
    await db.query(
      `INSERT INTO progress.lesson_completions (user_id, lesson_id, course_id, best_score, completions,
         first_completed_at, last_completed_at)
       SELECT user_id, lesson_id, $1, score, 1, at, at FROM analytics_seed_attempts
       WHERE score * 10 >= max_score * 7`,
      [courseId],
    );
    await db.query(
      `INSERT INTO progress.enrollments (id, user_id, course_id, enrolled_at, completed_at, cards_version)
       SELECT gen_random_uuid()::text, user_id, $1, min(at) - interval '1 hour',
              CASE WHEN min(n) % 10 = 0 THEN max(at) END, 1
       FROM analytics_seed GROUP BY user_id`,
      [courseId],
    );
    await db.query(
      `INSERT INTO progress.learners (user_id, name, created_at)
       SELECT user_id, 'Analytics ' || min(n), min(at) - interval '1 hour' FROM analytics_seed GROUP BY user_id`,
    );
    await db.query(
      `INSERT INTO progress.activity_days (user_id, local_date, xp, lessons, attempts, reviews)
       SELECT user_id, at::date, 0, 0, count(*), 0 FROM analytics_seed_attempts GROUP BY 1, 2`,
    );
    await db.query("COMMIT");
    return quizzes.length;
  } finally {
    await db.end();
  }
}

/** Every skill the starter courses teach (their lessons' and questions' skills). */
function starterSkills(): string[] {
  const skills = new Set<string>();
  for (const course of STARTER_COURSES) {
    for (const lesson of course.lessons) {
      for (const skill of lesson.skills ?? []) skills.add(skill);
      for (const question of lesson.questions ?? []) {
        for (const skill of question.skills ?? []) skills.add(skill);
      }
    }
  }
  return [...skills].sort();
}

export interface LearningReadsSeed {
  skillRatings: number;
  placements: number;
  certificates: number;
  /** A certificate of the first starter course, for GET /certificates/:id. */
  certificateId: string;
}

/**
 * What GET /me/skills, GET /me/next and GET /certificates/:id read: a rating (−2..2 logits,
 * 1–30 answers) of every starter skill for each learner with XP, a finished placement test
 * for half the learners (the level /me/next suggests a course at), and a certificate of the
 * first starter course for every learner who passed one of its quizzes.
 */
export async function seedLearningReads(databaseUrl: string): Promise<LearningReadsSeed> {
  const [courseId] = starterCourseIds();
  const [course] = STARTER_COURSES;
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    await db.query("BEGIN");
    const ratings = await db.query(
      `INSERT INTO progress.skill_ratings (user_id, skill, rating, attempts, last_practiced_at)
       SELECT l.user_id, s.skill, (random() * 4 - 2), 1 + floor(random() * 30)::int,
              now() - random() * interval '30 days'
       FROM progress.learners l CROSS JOIN unnest($1::text[]) AS s(skill) WHERE l.xp > 0`,
      [starterSkills()],
    );
    const placements = await db.query(
      `INSERT INTO progress.placement_tests (id, user_id, started_at, responses, finished_at, level, confidence)
       SELECT gen_random_uuid()::text, user_id, now() - interval '20 days', '[]'::jsonb,
              now() - interval '20 days' + interval '10 minutes',
              (ARRAY['A1', 'A2', 'B1', 'B2'])[1 + (row_number() OVER (ORDER BY user_id))::int % 4], 0.8
       FROM progress.learners WHERE random() < 0.5`,
    );
    const certificates = await db.query<{ id: string }>(
      `INSERT INTO progress.certificates (id, user_id, course_id, learner_name, course_title, level, issued_at)
       SELECT gen_random_uuid()::text, l.user_id, $1, l.name, $2, $3, now() - interval '3 days'
       FROM progress.learners l
       WHERE EXISTS (SELECT 1 FROM progress.lesson_completions c WHERE c.user_id = l.user_id AND c.course_id = $1)
       RETURNING id`,
      [courseId, course.title, course.level],
    );
    await db.query("COMMIT");
    await db.query(
      "ANALYZE progress.skill_ratings, progress.placement_tests, progress.certificates",
    );
    if (certificates.rows.length === 0) throw new Error("no learner to hold a certificate");
    return {
      skillRatings: ratings.rowCount ?? 0,
      placements: placements.rowCount ?? 0,
      certificates: certificates.rows.length,
      certificateId: certificates.rows[0].id,
    };
  } catch (err) {
    await db.query("ROLLBACK").catch(() => undefined);
    throw err;
  } finally {
    await db.end();
  }
}

/**
 * `count` open sessions of seeded learners (rows as a login writes them), to be ended through
 * the users service before the revocation scenario: their ids and owners.
 */
export async function seedSessions(
  databaseUrl: string,
  count: number,
): Promise<Array<{ userId: string; sessionId: string }>> {
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const result = await db.query<{ userId: string; sessionId: string }>(
      `WITH u AS (
         SELECT id, row_number() OVER (ORDER BY id) - 1 AS n, count(*) OVER () AS total
         FROM users.users WHERE email LIKE $2
       )
       INSERT INTO users.sessions (id, user_id, created_at, last_used_at, expires_at, user_agent, ip)
       SELECT gen_random_uuid(), u.id, now(), now(), now() + interval '30 days', 'bench', '127.0.0.1'
       FROM generate_series(0, $1::int - 1) AS g JOIN u ON u.n = g % u.total
       RETURNING id::text AS "sessionId", user_id::text AS "userId"`,
      [count, `learner%@${LEARNER_DOMAIN}`],
    );
    return result.rows;
  } finally {
    await db.end();
  }
}

/** An access token with the admin role for `userId` (scenario 8 reads what admins read). */
export async function adminToken(cfg: AppConfig, userId: string): Promise<string> {
  const keys = await loadSigningKeys(cfg);
  const signed = await signAccessToken(keys, cfg, {
    userId,
    roles: ["learner", "admin"],
    sessionId: crypto.randomUUID(),
  });
  return signed.accessToken;
}
