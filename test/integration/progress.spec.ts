import {
  Errors,
  ServiceBroker,
  type Context,
  type ServiceSchema,
  type ServiceSettingSchema,
} from "moleculer";
import { DataTypes, QueryTypes } from "sequelize";
import Redis from "ioredis";
import { DbMixin, type DbServiceThis } from "../../mixins/db.mixin";
import { DurableEvents, type DurableEventsMethods } from "../../mixins/durable-events.mixin";
import { brokerOptions } from "../../moleculer.config";
import type { CourseOutline, LessonForGrading, UserProfile } from "../../models/progress.model";
import type { AttemptResult } from "../../models/attempt.model";
import type { Clock } from "../../services/progress/clock";
import { startTestNode, type TestNode } from "../support/cluster";
import {
  clusterEnv,
  createTestDatabase,
  testConfig,
  uniqueName,
  type TestDatabase,
} from "../support/isolation";
import { learningRoutes } from "../../services/api/routes/learning.routes";
import { requireServers, SERVERS } from "../support/servers";
import { http, newSigningKey, signAccessToken, TEST_PUBLIC_URL, type SigningKey } from "./api-kit";

/**
 * The progress service on a real cluster (PostgreSQL, Redis, NATS, RabbitMQ): two
 * progress nodes, plus a node with stand-ins of content and users that implement their
 * internal contracts. Calls go through the broker with meta.user as the gateway sets it.
 */

const COURSE: CourseOutline = {
  id: "course-1",
  title: "English basics",
  level: "A1",
  version: 1,
  lessons: [
    { id: "quiz-1", title: "Quiz", order: 1, kind: "quiz" },
    { id: "read-1", title: "Reading", order: 2, kind: "lesson" },
    { id: "deck-1", title: "Words", order: 3, kind: "flashcards" },
  ],
};

const LESSONS: Record<string, LessonForGrading> = {
  "quiz-1": {
    id: "quiz-1",
    courseId: "course-1",
    courseVersion: 1,
    kind: "quiz",
    title: "Quiz",
    cards: [],
    questions: [
      { id: "q1", type: "single", prompt: "Pick", options: ["cat", "dog"], answer: "cat" },
      {
        id: "q2",
        type: "multiple",
        prompt: "All vowels",
        options: ["a", "b", "e"],
        answer: ["a", "e"],
      },
      { id: "q3", type: "text", prompt: "Hello in English", answer: "Good Morning" },
      {
        id: "q4",
        type: "order",
        prompt: "Order",
        options: ["I", "am", "here"],
        answer: ["I", "am", "here"],
      },
      { id: "q5", type: "single", prompt: "Pick", options: ["x", "y"], answer: "y" },
    ],
  },
  "read-1": {
    id: "read-1",
    courseId: "course-1",
    courseVersion: 1,
    kind: "lesson",
    title: "Reading",
    questions: [],
    cards: [],
  },
  "deck-1": {
    id: "deck-1",
    courseId: "course-1",
    courseVersion: 1,
    kind: "flashcards",
    title: "Words",
    questions: [],
    cards: [
      { id: "card-1", front: "apple", back: "Apfel" },
      { id: "card-2", front: "pear", back: "Birne" },
    ],
  },
};

const PERFECT = [
  { questionId: "q1", value: "cat" },
  { questionId: "q2", value: ["e", "a"] },
  { questionId: "q3", value: "  good   morning " },
  { questionId: "q4", value: ["I", "am", "here"] },
  { questionId: "q5", value: "y" },
];

const profiles = new Map<string, UserProfile>();

function profile(id: string, name: string, timezone = "UTC", dailyGoalXp = 30): UserProfile {
  const p = { id, email: `${id}@example.com`, name, timezone, dailyGoalXp, emailVerified: true };
  profiles.set(id, p);
  return p;
}

const notFound = (what: string) =>
  new Errors.MoleculerClientError(`${what} not found`, 404, "NOT_FOUND");

const ContentStandIn: ServiceSchema = {
  name: "content",
  actions: {
    lessonForGrading: {
      internal: true,
      handler(ctx: Context<{ lessonId: string }>) {
        const lesson = LESSONS[ctx.params.lessonId];
        if (!lesson) throw notFound("Lesson");
        return lesson;
      },
    },
    courseOutline: {
      internal: true,
      handler(ctx: Context<{ courseId: string }>) {
        if (ctx.params.courseId !== COURSE.id) throw notFound("Course");
        return COURSE;
      },
    },
    coursesByIds: {
      internal: true,
      handler(ctx: Context<{ ids: string[] }>) {
        return ctx.params.ids
          .filter(id => id === COURSE.id)
          .map(() => ({
            id: COURSE.id,
            title: COURSE.title,
            level: COURSE.level,
            topics: ["basics"],
            version: COURSE.version,
            lessonCount: 3,
          }));
      },
    },
  },
};

type UsersThis = DbServiceThis & DurableEventsMethods;

/** Users' internal contract plus its durable events, produced through a real outbox. */
const UsersStandIn: ServiceSchema<
  ServiceSettingSchema,
  Record<string, never>,
  Record<string, never>,
  UsersThis
> = {
  name: "users",
  mixins: [
    DbMixin({
      schema: "users_standin",
      entity: { name: "nothing", define: { id: { type: DataTypes.TEXT, primaryKey: true } } },
      crudActions: false,
    }),
    DurableEvents(),
  ],
  actions: {
    jwks: {
      handler: () => ({ keys: signingKey ? [signingKey.jwk] : [] }),
    },
    profiles: {
      internal: true,
      handler(ctx: Context<{ ids: string[] }>) {
        return ctx.params.ids.map(id => profiles.get(id)).filter(Boolean);
      },
    },
    emit: {
      async handler(
        this: UsersThis,
        ctx: Context<{ type: "user.created" | "user.updated" | "user.deleted"; data: never }>,
      ) {
        await this.withTransaction(t =>
          this.emitDurable(ctx.params.type, ctx.params.data, { transaction: t, ctx }),
        );
      },
    },
  },
};

let db: TestDatabase;
let namespace: string;
let stubs: ServiceBroker;
let nodeA: TestNode;
let nodeB: TestNode;
let redis: Redis;
let gateway: TestNode;
/** What the gateway warned about while the suite ran. */
const gatewayWarnings: string[] = [];
let signingKey: SigningKey | undefined;

interface Answer<T> {
  result: T;
  status: number;
}

async function call<T>(
  userId: string,
  action: string,
  params: Record<string, unknown> = {},
  meta: Record<string, unknown> = {},
): Promise<Answer<T>> {
  const p = stubs.call(action, params, {
    meta: { user: { id: userId, roles: ["learner"] }, ...meta },
  });
  const result = (await p) as T;
  const ctx = (p as unknown as { ctx: Context<unknown, { $statusCode?: number }> }).ctx;
  // As the gateway answers: the action's own status, else its route's contract status.
  const contract = learningRoutes.find(route => route.action === action)?.status;
  return { result, status: ctx.meta.$statusCode ?? contract ?? 200 };
}

function setClock(clock: Clock): void {
  for (const node of [nodeA, nodeB])
    (node.broker.getLocalService("progress") as unknown as { clock: Clock }).clock = clock;
}

async function sql<T extends object>(
  query: string,
  replacements: Record<string, unknown> = {},
): Promise<T[]> {
  const svc = nodeA.broker.getLocalService("progress") as unknown as DbServiceThis;
  return svc.sequelize.query<T>(query, { replacements, type: QueryTypes.SELECT });
}

async function outboxOf(type: string, userId: string): Promise<Array<Record<string, unknown>>> {
  const found = await sql<{ payload: { data: Record<string, unknown> } }>(
    `SELECT payload FROM progress.outbox WHERE type = :type AND payload->'data'->>'userId' = :userId ORDER BY created_at`,
    { type, userId },
  );
  return found.map(r => r.payload.data);
}

async function eventually(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise(resolve => setTimeout(resolve, 100));
  }
}

beforeAll(async () => {
  await requireServers("postgres", "redis", "rabbitmq", "nats");
  db = await createTestDatabase("lm_progress");
  namespace = uniqueName("progress");
  signingKey = await newSigningKey();
  const env = { ...clusterEnv(namespace, db.url), PUBLIC_URL: TEST_PUBLIC_URL };
  stubs = new ServiceBroker({
    ...brokerOptions(testConfig({ ...env, SERVICES: "" })),
    nodeID: `${namespace}-stubs`,
  });
  stubs.createService(ContentStandIn);
  stubs.createService(UsersStandIn);
  await stubs.start();
  [nodeA, nodeB] = await Promise.all([
    startTestNode(["progress"], { ...env, NODE_ID: `${namespace}-progress-a` }),
    startTestNode(["progress"], { ...env, NODE_ID: `${namespace}-progress-b` }),
  ]);
  gateway = await startTestNode(["api"], {
    ...env,
    NODE_ID: `${namespace}-gw`,
    RATE_LIMIT_RPM: "100000",
  });
  const gatewayLogger = gateway.broker.getLocalService("api").logger;
  const warn = gatewayLogger.warn.bind(gatewayLogger);
  jest.spyOn(gatewayLogger, "warn").mockImplementation((...args: unknown[]) => {
    gatewayWarnings.push(args.map(String).join(" "));
    warn(...args);
  });
  await stubs.waitForServices(["progress", "api"]);
  await gateway.broker.waitForServices(["progress", "users", "content"]);
  redis = new Redis(SERVERS.redis.url);
}, 90_000);

afterAll(async () => {
  await Promise.allSettled([gateway?.stop(), nodeA?.stop(), nodeB?.stop()]);
  await stubs?.stop();
  if (redis) {
    const keys = await redis.keys(`${namespace}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  }
  await db?.drop();
}, 60_000);

describe("progress service on a cluster", () => {
  const now = new Date("2026-11-18T12:00:00Z"); // a Wednesday

  beforeAll(() => {
    setClock(() => now);
    profile("alice", "Alice", "Europe/Berlin", 50);
    profile("bob", "Bob", "America/New_York");
  });

  it("when a learner enrolls, then 201 the first time and 200 after, and unknown courses are 404", async () => {
    const first = await call<{ id: string; courseId: string }>("alice", "progress.enroll", {
      id: "course-1",
    });
    expect(first.status).toBe(201);
    expect(first.result).toMatchObject({ courseId: "course-1", completedAt: null });
    const again = await call<{ id: string }>("alice", "progress.enroll", { id: "course-1" });
    expect(again.status).toBe(200);
    expect(again.result.id).toBe(first.result.id);
    await expect(call("alice", "progress.enroll", { id: "missing" })).rejects.toMatchObject({
      code: 404,
      type: "COURSE_NOT_FOUND",
    });
  });

  it("when a quiz is answered, then the server grades every type and a perfect first pass earns 50 + 20 + 20 XP", async () => {
    const { result, status } = await call<AttemptResult>("alice", "progress.submitAttempt", {
      id: "quiz-1",
      answers: PERFECT,
    });
    expect(status).toBe(201);
    expect(result).toMatchObject({ score: 50, maxScore: 50, passed: true, xpEarned: 90 });
    expect(result.results.every(r => r.correct)).toBe(true);
  });

  it("when answers are partly wrong, then the results name the wrong ones with the expected answers", async () => {
    const { result } = await call<AttemptResult>("bob", "progress.submitAttempt", {
      id: "quiz-1",
      answers: [
        { questionId: "q1", value: "dog" },
        { questionId: "q2", value: ["a"] },
        { questionId: "q3", value: "good morning" },
      ],
    });
    expect(result).toMatchObject({ score: 15, maxScore: 50, passed: false, xpEarned: 0 });
    const wrong = result.results.filter(r => !r.correct);
    expect(wrong.map(r => [r.questionId, r.expected])).toEqual([
      ["q1", "cat"],
      ["q2", ["a", "e"]],
      ["q4", ["I", "am", "here"]],
      ["q5", "y"],
    ]);
    await expect(
      call("bob", "progress.submitAttempt", {
        id: "quiz-1",
        answers: [{ questionId: "zz", value: "x" }],
      }),
    ).rejects.toMatchObject({ code: 422 });
    await expect(
      call("bob", "progress.submitAttempt", { id: "nope", answers: [] }),
    ).rejects.toMatchObject({ code: 404 });
  });

  it("when the same Idempotency-Key is sent again, even concurrently, then the first answer returns and XP is awarded once", async () => {
    profile("carol", "Carol");
    const meta = { idempotencyKey: "key-carol-1" };
    const answers = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        call<AttemptResult>(
          "carol",
          i % 2 ? "progress.submitAttempt" : "progress.submitAttempt",
          { id: "quiz-1", answers: PERFECT },
          meta,
        ),
      ),
    );
    const ids = new Set(answers.map(a => a.result.attemptId));
    expect(ids.size).toBe(1);
    const later = await call<AttemptResult>(
      "carol",
      "progress.submitAttempt",
      { id: "quiz-1", answers: PERFECT },
      meta,
    );
    expect(later.result).toEqual(answers[0].result);
    const progress = await call<{ xp: number }>("carol", "progress.myProgress");
    expect(progress.result.xp).toBe(90);
    await expect(
      call("carol", "progress.submitAttempt", { id: "quiz-1", answers: PERFECT.slice(0, 1) }, meta),
    ).rejects.toMatchObject({ code: 409, type: "IDEMPOTENCY_KEY_REUSED" });
  });

  it("when distinct submissions race for a first completion, then the completion bonus is paid once and the rest are repeats", async () => {
    profile("dave", "Dave");
    const answers = await Promise.all(
      Array.from({ length: 4 }, () =>
        call<AttemptResult>("dave", "progress.submitAttempt", { id: "quiz-1", answers: PERFECT }),
      ),
    );
    const xp = answers.map(a => a.result.xpEarned).sort((a, b) => b - a);
    expect(xp).toEqual([90, 12, 12, 12]); // 50 × 0.25 = 12 per repeat
    expect((await call<{ xp: number }>("dave", "progress.myProgress")).result.xp).toBe(126);
    expect(await outboxOf("progress.lesson.completed", "dave")).toHaveLength(1);
    const unlocked = await outboxOf("progress.achievement.unlocked", "dave");
    expect(unlocked.map(e => e.code).sort()).toEqual(["first_lesson", "perfect_quiz", "xp_100"]);
    const rows = await sql<{ n: string }>(
      `SELECT COUNT(*) AS n FROM progress.achievements WHERE user_id = 'dave'`,
    );
    expect(Number(rows[0].n)).toBe(3);
  });

  it("when a reading lesson is completed, then 201 with its XP; a quiz cannot be completed without an attempt", async () => {
    const first = await call<{ xpEarned: number }>("alice", "progress.completeLesson", {
      id: "read-1",
    });
    expect(first).toEqual({
      status: 201,
      result: { lessonId: "read-1", xpEarned: 20, firstCompletion: true },
    });
    expect(
      (await call<{ xpEarned: number }>("alice", "progress.completeLesson", { id: "read-1" }))
        .result.xpEarned,
    ).toBe(5);
    await expect(call("alice", "progress.completeLesson", { id: "quiz-1" })).rejects.toMatchObject({
      code: 409,
      type: "LESSON_REQUIRES_ATTEMPT",
    });
  });

  it("when flashcards are enrolled, then they are due, reviews reschedule them and only their owner can review", async () => {
    const due = await call<Array<{ cardId: string; lessonId: string; front: string }>>(
      "alice",
      "progress.dueReviews",
    );
    expect(due.result.map(c => [c.cardId, c.lessonId, c.front])).toEqual([
      ["card-1", "deck-1", "apple"],
      ["card-2", "deck-1", "pear"],
    ]);
    const reviewed = await call<{
      cardId: string;
      due: string;
      stability: number;
      difficulty: number;
      xpEarned: number;
    }>("alice", "progress.review", { cardId: "card-1", rating: "good" });
    expect(reviewed.status).toBe(200);
    expect(new Date(reviewed.result.due).getTime()).toBeGreaterThan(now.getTime());
    expect(reviewed.result.stability).toBeGreaterThan(0);
    expect(reviewed.result.xpEarned).toBe(2);
    const left = await call<Array<{ cardId: string }>>("alice", "progress.dueReviews");
    expect(left.result.map(c => c.cardId)).toEqual(["card-2"]);
    const logs = await sql<{ n: string }>(
      `SELECT COUNT(*) AS n FROM progress.review_logs WHERE user_id = 'alice' AND card_id = 'card-1'`,
    );
    expect(Number(logs[0].n)).toBe(1);
    // Bob is not enrolled: alice's card ids mean nothing for him.
    await expect(
      call("bob", "progress.review", { cardId: "card-1", rating: "good" }),
    ).rejects.toMatchObject({ code: 404, type: "CARD_NOT_FOUND" });
    await expect(
      call("alice", "progress.review", { cardId: "card-1", rating: "great" }),
    ).rejects.toMatchObject({ code: 422 });
  });

  it("when the last lesson is completed, then the course completes once with its event and achievement", async () => {
    await call("alice", "progress.completeLesson", { id: "deck-1" });
    const courses = await call<
      Array<{
        course: { id: string; title: string };
        completedLessons: number;
        totalLessons: number;
        completion: number;
        completedAt: string | null;
      }>
    >("alice", "progress.myCourses");
    expect(courses.result).toHaveLength(1);
    expect(courses.result[0]).toMatchObject({
      course: { id: "course-1", title: "English basics" },
      completedLessons: 3,
      totalLessons: 3,
      completion: 1,
    });
    expect(courses.result[0].completedAt).not.toBeNull();
    expect(await outboxOf("progress.course.completed", "alice")).toHaveLength(1);
    const achievements = await call<Array<{ code: string; name: string; unlockedAt: string }>>(
      "alice",
      "progress.myAchievements",
    );
    expect(achievements.result.map(a => a.code).sort()).toEqual([
      "course_completed",
      "first_lesson",
      "perfect_quiz",
      "xp_100",
    ]);
    expect(achievements.result[0].name).toBeTruthy();
  });

  it("when progress is read, then XP, streak, today's XP and the users daily goal are returned", async () => {
    const { result } = await call("alice", "progress.myProgress");
    // 90 (quiz) + 20 + 5 (reading) + 2 (review) + 20 (deck)
    expect(result).toEqual({
      xp: 137,
      streak: { current: 1, longest: 1, lastActiveDate: "2026-11-18", freezes: 0 },
      completedLessons: 3,
      todayXp: 137,
      dailyGoalXp: 50,
    });
  });

  it("when activity is asked for, then one row a local day comes back, zeros included", async () => {
    const { result } = await call<Array<{ date: string; xp: number; lessons: number }>>(
      "alice",
      "progress.myActivity",
      { days: 3 },
    );
    expect(result).toEqual([
      { date: "2026-11-16", xp: 0, lessons: 0 },
      { date: "2026-11-17", xp: 0, lessons: 0 },
      { date: "2026-11-18", xp: 137, lessons: 3 },
    ]);
    expect((await call<unknown[]>("alice", "progress.myActivity")).result).toHaveLength(90);
  });

  it("when the leaderboard is read, then names, ranks and my rank come from Redis, and it is rebuilt after the keys are deleted", async () => {
    const weekly = await call<{
      period: string;
      top: Array<{ rank: number; userId: string; name: string; xp: number }>;
      me: { rank: number; xp: number };
    }>("bob", "progress.leaderboard", { period: "weekly", limit: 10 });
    expect(weekly.result.top.slice(0, 3)).toEqual([
      { rank: 1, userId: "alice", name: "Alice", xp: 137 },
      { rank: 2, userId: "dave", name: "Dave", xp: 126 },
      { rank: 3, userId: "carol", name: "Carol", xp: 90 },
    ]);
    expect(weekly.result.me).toEqual({ rank: null, xp: 0 });
    expect(await redis.exists(`${namespace}:progress:lb:week:2026-W47`)).toBe(1);

    const keys = await redis.keys(`${namespace}:progress:lb:*`);
    await redis.del(...keys);
    const all = await call<{
      top: Array<{ userId: string; name: string; xp: number }>;
      me: { rank: number; xp: number };
    }>("dave", "progress.leaderboard", { period: "all", limit: "2" });
    expect(all.result.top).toEqual([
      { rank: 1, userId: "alice", name: "Alice", xp: 137 },
      { rank: 2, userId: "dave", name: "Dave", xp: 126 },
    ]);
    expect(all.result.me).toEqual({ rank: 2, xp: 126 });
    expect(await redis.zscore(`${namespace}:progress:lb:all`, "carol")).toBe("90");
  });

  it("when the ISO week turns, then the weekly board starts empty while all-time keeps the totals", async () => {
    setClock(() => new Date("2026-11-23T00:00:01Z")); // Monday, W48
    const weekly = await call<{ top: unknown[] }>("alice", "progress.leaderboard", {
      period: "weekly",
    });
    expect(weekly.result.top).toEqual([]);
    const all = await call<{ top: Array<{ userId: string }> }>("alice", "progress.leaderboard", {
      period: "all",
    });
    expect(all.result.top.map(e => e.userId)).toEqual(["alice", "dave", "carol"]);
    setClock(() => now);
  });

  it("when user.updated arrives, then the leaderboard shows the new name", async () => {
    await stubs.call("users.emit", {
      type: "user.updated",
      data: { userId: "alice", name: "Alice Cooper", timezone: "Europe/Berlin" },
    });
    await eventually(async () => {
      const board = await call<{ top: Array<{ name: string }> }>("bob", "progress.leaderboard", {
        period: "all",
        limit: 1,
      });
      return board.result.top[0]?.name === "Alice Cooper";
    });
  });

  it("when many achievements race, then each unlocks exactly once", async () => {
    profile("erin", "Erin");
    await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        call(
          "erin",
          "progress.submitAttempt",
          { id: "quiz-1", answers: PERFECT },
          { idempotencyKey: `erin-${i}` },
        ),
      ),
    );
    const rows = await sql<{ code: string; n: string }>(
      `SELECT code, COUNT(*) AS n FROM progress.achievements WHERE user_id = 'erin' GROUP BY code ORDER BY code`,
    );
    expect(rows.map(r => [r.code, Number(r.n)])).toEqual([
      ["first_lesson", 1],
      ["perfect_quiz", 1],
      ["xp_100", 1],
    ]);
    expect(
      (await outboxOf("progress.achievement.unlocked", "erin")).map(e => e.code).sort(),
    ).toEqual(["first_lesson", "perfect_quiz", "xp_100"]);
  });

  it("when the reminder job runs on both progress nodes in a learner's evening, then one reminder is due, once", async () => {
    profile("frank", "Frank", "America/New_York");
    setClock(() => new Date("2026-11-17T15:00:00Z")); // Tuesday 10:00 in New York
    await call("frank", "progress.completeLesson", { id: "read-1" });
    // Wednesday 20:30 in New York: streak alive, today not done yet.
    const evening = new Date("2026-11-19T01:30:00Z");
    setClock(() => evening);
    const svcA = nodeA.broker.getLocalService("progress") as unknown as {
      runStreakReminders(at?: Date): Promise<{ ran: boolean; reminded: string[] }>;
    };
    const svcB = nodeB.broker.getLocalService("progress") as unknown as typeof svcA;
    const runs = await Promise.all([
      svcA.runStreakReminders(),
      svcB.runStreakReminders(),
      svcA.runStreakReminders(),
      svcB.runStreakReminders(),
    ]);
    expect(runs.flatMap(r => r.reminded).filter(id => id === "frank")).toEqual(["frank"]);
    await svcB.runStreakReminders();
    expect(await outboxOf("progress.streak.reminder_due", "frank")).toEqual([
      { userId: "frank", currentStreak: 1, localDate: "2026-11-18" },
    ]);
    // Alice (Berlin) was active on the 18th; at 02:30 on the 19th in Berlin it is not evening.
    expect(await outboxOf("progress.streak.reminder_due", "alice")).toEqual([]);
    setClock(() => now);
  });

  it("when user.deleted arrives, then every trace of the learner is erased, Redis included", async () => {
    await stubs.call("users.emit", { type: "user.deleted", data: { userId: "dave" } });
    await eventually(
      async () =>
        (await sql(`SELECT 1 FROM progress.learners WHERE user_id = 'dave'`)).length === 0,
    );
    for (const table of [
      "enrollments",
      "lesson_completions",
      "attempts",
      "xp_ledger",
      "weekly_xp",
      "activity_days",
      "achievements",
    ]) {
      expect(await sql(`SELECT 1 FROM progress.${table} WHERE user_id = 'dave'`)).toEqual([]);
    }
    expect(await redis.zscore(`${namespace}:progress:lb:all`, "dave")).toBeNull();
    expect(await redis.hget(`${namespace}:progress:lb:names`, "dave")).toBeNull();
  });

  it("when user.created arrives, then the learner's progress row exists with their time zone", async () => {
    await stubs.call("users.emit", {
      type: "user.created",
      data: {
        userId: "gina",
        email: "g@example.com",
        name: "Gina",
        timezone: "Asia/Tokyo",
        verificationToken: "x",
      },
    });
    await eventually(
      async () =>
        (
          await sql(
            `SELECT 1 FROM progress.learners WHERE user_id = 'gina' AND timezone = 'Asia/Tokyo'`,
          )
        ).length === 1,
    );
  });

  it("when content.lesson.deleted arrives, then the lesson leaves the completion totals", async () => {
    const svc = nodeA.broker.getLocalService("progress") as unknown as DurableEventsMethods &
      DbServiceThis;
    await svc.withTransaction(t =>
      svc.emitDurable(
        "content.lesson.deleted",
        { lessonId: "read-1", courseId: "course-1" },
        { transaction: t },
      ),
    );
    await eventually(
      async () =>
        (await sql(`SELECT 1 FROM progress.course_lessons WHERE lesson_id = 'read-1'`)).length ===
        0,
    );
    const courses = await call<Array<{ totalLessons: number }>>("alice", "progress.myCourses");
    expect(courses.result).toEqual([
      expect.objectContaining({ totalLessons: 2, completedLessons: 2, completion: 1 }),
    ]);
  });
});

describe("the Learning table through the gateway", () => {
  it("when every Learning route is called over HTTP, then each answers its contract status and shape", async () => {
    setClock(() => new Date("2026-11-18T12:00:00Z"));
    profile("hank", "Hank", "Europe/Paris", 25);
    const token = await signAccessToken(signingKey as SigningKey, { sub: "hank" });
    const api = gateway.apiUrl as string;
    const req = (
      method: string,
      path: string,
      json?: unknown,
      headers: Record<string, string> = {},
    ) => http(`${api}${path}`, { method, token, json, headers });

    expect((await http(`${api}/me/progress`)).status).toBe(401);
    expect((await req("POST", "/courses/course-1/enroll")).status).toBe(201);
    expect((await req("POST", "/courses/course-1/enroll")).status).toBe(200);
    expect((await req("POST", "/courses/nope/enroll")).status).toBe(404);

    const attempt = await req(
      "POST",
      "/lessons/quiz-1/attempts",
      { answers: PERFECT },
      { "Idempotency-Key": "hank-1" },
    );
    expect(attempt.status).toBe(201);
    expect(attempt.body).toMatchObject({ score: 50, maxScore: 50, passed: true, xpEarned: 90 });
    const replay = await req(
      "POST",
      "/lessons/quiz-1/attempts",
      { answers: PERFECT },
      { "Idempotency-Key": "hank-1" },
    );
    expect(replay.status).toBe(201);
    expect(replay.body).toEqual(attempt.body);
    expect((await req("POST", "/lessons/quiz-1/attempts", { answers: [], extra: 1 })).status).toBe(
      422,
    );

    const done = await req("POST", "/lessons/read-1/complete");
    expect(done.status).toBe(201);
    expect(done.body).toMatchObject({ xpEarned: 20 });
    // Enrollments and attempts have no URL of their own: their 201 is the route's, no
    // Location, and nothing for moleculer-web to warn about.
    expect(done.headers.get("location")).toBeNull();
    expect(gatewayWarnings.filter(line => line.includes("$location"))).toEqual([]);

    const courses = await req("GET", "/me/courses");
    expect(courses.status).toBe(200);
    expect(courses.body).toEqual([
      expect.objectContaining({ completedLessons: 2, totalLessons: 3 }),
    ]);

    const progress = await req("GET", "/me/progress");
    expect(progress.body).toMatchObject({
      xp: 110,
      todayXp: 110,
      dailyGoalXp: 25,
      completedLessons: 2,
    });

    const achievements = await req("GET", "/me/achievements");
    expect((achievements.body as Array<{ code: string }>).map(a => a.code).sort()).toEqual([
      "first_lesson",
      "perfect_quiz",
      "xp_100",
    ]);

    const board = await req("GET", "/leaderboard?period=all&limit=50");
    expect(board.status).toBe(200);
    expect((board.body as { me: { xp: number } }).me).toMatchObject({ xp: 110 });
    expect((await req("GET", "/leaderboard?period=yearly")).status).toBe(422);

    const due = await req("GET", "/me/reviews/due");
    expect((due.body as Array<{ cardId: string }>).map(c => c.cardId)).toEqual([
      "card-1",
      "card-2",
    ]);
    const reviewed = await req("POST", "/me/reviews", { cardId: "card-2", rating: "good" });
    expect(reviewed.status).toBe(200);
    expect(reviewed.body).toMatchObject({
      cardId: "card-2",
      stability: expect.any(Number),
      difficulty: expect.any(Number),
    });
    expect(
      (await req("POST", "/me/reviews", { cardId: "card-unknown", rating: "good" })).status,
    ).toBe(404);

    const activity = await req("GET", "/me/activity?days=2");
    expect(activity.body).toEqual([
      { date: "2026-11-17", xp: 0, lessons: 0 },
      { date: "2026-11-18", xp: 112, lessons: 2 },
    ]);
  });
});
