import {
  Errors,
  ServiceBroker,
  type Context,
  type ServiceSchema,
  type ServiceSettingSchema,
} from "moleculer";
import { QueryTypes } from "sequelize";
import Redis from "ioredis";
import { DbMixin, type DbServiceThis } from "../../mixins/db.mixin";
import { DurableEvents, type DurableEventsMethods } from "../../mixins/durable-events.mixin";
import { brokerOptions } from "../../moleculer.config";
import type { CourseOutline } from "../../models/course.model";
import type { LessonForGrading } from "../../models/lesson.model";
import type { UserSummary } from "../../models/user.model";
import type { AttemptResult } from "../../models/attempt.model";
import type { Clock } from "../../services/progress/clock";
import { rateAnswer } from "../../services/progress/mastery";
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
      {
        id: "q1",
        type: "single",
        prompt: "Pick",
        options: ["cat", "dog"],
        answer: "cat",
        explanation: null,
      },
      {
        id: "q2",
        type: "multiple",
        prompt: "All vowels",
        options: ["a", "b", "e"],
        answer: ["a", "e"],
        explanation: null,
      },
      {
        id: "q3",
        type: "text",
        prompt: "Hello in English",
        options: [],
        answer: "Good Morning",
        explanation: null,
      },
      {
        id: "q4",
        type: "order",
        prompt: "Order",
        options: ["I", "am", "here"],
        answer: ["I", "am", "here"],
        explanation: null,
      },
      {
        id: "q5",
        type: "single",
        prompt: "Pick",
        options: ["x", "y"],
        answer: "y",
        explanation: null,
      },
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
      { id: "card-1", front: "apple", back: "Apfel", example: null, audioUrl: null },
      { id: "card-2", front: "pear", back: "Birne", example: null, audioUrl: null },
    ],
  },
};

/** Every course the content stand-in knows; tests add and remove some as authors would. */
const COURSES = new Map<string, CourseOutline>([[COURSE.id, COURSE]]);

const PERFECT = [
  { questionId: "q1", value: "cat" },
  { questionId: "q2", value: ["e", "a"] },
  { questionId: "q3", value: "  good   morning " },
  { questionId: "q4", value: ["I", "am", "here"] },
  { questionId: "q5", value: "y" },
];

const profiles = new Map<string, UserSummary>();

function profile(id: string, name: string, timezone = "UTC", dailyGoalXp = 30): UserSummary {
  const p = {
    id,
    email: `${id}@example.com`,
    name,
    timezone,
    dailyGoalXp,
    emailVerified: true,
    nativeLanguage: null,
  };
  profiles.set(id, p);
  return p;
}

/** The course ids progress asked content's outline of, in order. */
const outlineCalls: string[] = [];

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
        outlineCalls.push(ctx.params.courseId);
        const course = COURSES.get(ctx.params.courseId);
        if (!course) throw notFound("Course");
        return course;
      },
    },
    coursesByIds: {
      internal: true,
      handler(ctx: Context<{ ids: string[] }>) {
        return ctx.params.ids.flatMap(id => {
          const course = COURSES.get(id);
          if (!course) return [];
          const { title, level, version, lessons } = course;
          return [{ id, title, level, topics: ["basics"], version, lessonCount: lessons.length }];
        });
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
  mixins: [DbMixin({ schema: "users_standin" }), DurableEvents()],
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
        { questionId: "q4", value: [] },
        { questionId: "q5", value: "x" },
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
    expect(xp).toEqual([90, 12, 12, 6]); // 50 × 0.25 = 12 a repeat, 30 a day for the lesson's repeats
    expect((await call<{ xp: number }>("dave", "progress.myProgress")).result.xp).toBe(120);
    expect(await outboxOf("progress.lesson.completed", "dave")).toHaveLength(1);
    const unlocked = await outboxOf("progress.achievement.unlocked", "dave");
    expect(unlocked.map(e => e.code).sort()).toEqual(["first_lesson", "perfect_quiz", "xp_100"]);
    const rows = await sql<{ n: string }>(
      `SELECT COUNT(*) AS n FROM progress.achievements WHERE user_id = 'dave'`,
    );
    expect(Number(rows[0].n)).toBe(3);
  });

  it("when a learner's progress events are emitted, then each carries the learner's next sequence", async () => {
    // Dave's events so far from four racing attempts: a completion, three achievements, four
    // XP awards, the streak's first day, the enrolment the completion made, and for the
    // analytics read model four graded attempts and four activity records.
    const events = await sql<{ type: string; sequence: number | null }>(
      `SELECT type, (payload->'data'->>'sequence')::int AS sequence FROM progress.outbox
       WHERE type LIKE 'progress.%' AND payload->'data'->>'userId' = 'dave' ORDER BY sequence`,
    );
    expect(events.map(e => e.sequence)).toEqual(Array.from({ length: 18 }, (_, i) => i + 1));
    expect(events.filter(e => e.type === "progress.xp.awarded")).toHaveLength(4);
    expect(events.filter(e => e.type === "progress.streak.changed")).toHaveLength(1);
    expect(events.filter(e => e.type === "progress.attempt.graded")).toHaveLength(4);
    expect(events.filter(e => e.type === "progress.activity.recorded")).toHaveLength(4);
  });

  it("when a reading lesson is completed, then 201 with its XP, once; a quiz cannot be completed without an attempt", async () => {
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
    ).toBe(0);
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
    }>("alice", "progress.review", { lessonId: "deck-1", cardId: "card-1", rating: "good" });
    expect(reviewed.status).toBe(200);
    expect(new Date(reviewed.result.due).getTime()).toBeGreaterThan(now.getTime());
    expect(reviewed.result.stability).toBeGreaterThan(0);
    expect(reviewed.result.xpEarned).toBe(2);
    const left = await call<Array<{ cardId: string }>>("alice", "progress.dueReviews");
    expect(left.result.map(c => c.cardId)).toEqual(["card-2"]);
    const logs = await sql<{ n: string }>(
      `SELECT COUNT(*) AS n FROM progress.review_logs WHERE user_id = 'alice' AND lesson_id = 'deck-1' AND card_id = 'card-1'`,
    );
    expect(Number(logs[0].n)).toBe(1);
    // Bob is not enrolled: alice's card ids mean nothing for him.
    await expect(
      call("bob", "progress.review", { lessonId: "deck-1", cardId: "card-1", rating: "good" }),
    ).rejects.toMatchObject({ code: 404, type: "CARD_NOT_FOUND" });
    await expect(
      call("alice", "progress.review", { lessonId: "deck-1", cardId: "card-1", rating: "great" }),
    ).rejects.toMatchObject({ code: 422 });
    // A card is named by its lesson and its id: the id alone is not enough.
    await expect(
      call("alice", "progress.review", { cardId: "card-2", rating: "good" }),
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
    // 90 (quiz) + 20 + 0 (reading, again) + 2 (review) + 20 (deck)
    expect(result).toEqual({
      xp: 132,
      streak: { current: 1, longest: 1, lastActiveDate: "2026-11-18", freezes: 0 },
      completedLessons: 3,
      todayXp: 132,
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
      { date: "2026-11-18", xp: 132, lessons: 3 },
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
      { rank: 1, userId: "alice", name: "Alice", xp: 132 },
      { rank: 2, userId: "dave", name: "Dave", xp: 120 },
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
      { rank: 1, userId: "alice", name: "Alice", xp: 132 },
      { rank: 2, userId: "dave", name: "Dave", xp: 120 },
    ]);
    expect(all.result.me).toEqual({ rank: 2, xp: 120 });
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
      { userId: "frank", currentStreak: 1, localDate: "2026-11-18", sequence: expect.any(Number) },
    ]);
    // Alice (Berlin) was active on the 18th; at 02:30 on the 19th in Berlin it is not evening.
    expect(await outboxOf("progress.streak.reminder_due", "alice")).toEqual([]);
    setClock(() => now);
  });

  it("when user.deleted arrives, then every trace of the learner is erased, Redis included", async () => {
    // A certificate of theirs goes too, and its place in the status list stays revoked.
    const [held] = await sql<{ status_index: number }>(
      `INSERT INTO progress.certificates (id, user_id, course_id, learner_name, course_title, level, issued_at)
       VALUES ('certificate-of-dave', 'dave', 'course-x', 'Dave', 'X', 'A1', now()) RETURNING status_index`,
    );
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
      "certificates",
    ]) {
      expect(await sql(`SELECT 1 FROM progress.${table} WHERE user_id = 'dave'`)).toEqual([]);
    }
    expect(
      await sql(`SELECT 1 FROM progress.revoked_status_entries WHERE status_index = :index`, {
        index: held.status_index,
      }),
    ).toHaveLength(1);
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

  it("when a learner's user.updated events arrive out of order, then the newest name and time zone stay", async () => {
    const emit = (name: string, timezone: string, sequence: number) =>
      stubs.call("users.emit", {
        type: "user.updated",
        data: { userId: "hana", name, timezone, sequence },
      });
    await emit("Hana 3", "Asia/Tokyo", 3);
    await eventually(
      async () =>
        (await sql(`SELECT 1 FROM progress.learners WHERE user_id = 'hana' AND name = 'Hana 3'`))
          .length === 1,
    );
    await emit("Hana 2", "UTC", 2);
    await stubs.call("users.emit", {
      type: "user.created",
      data: {
        userId: "hana",
        email: "h@example.com",
        name: "Hana 1",
        timezone: "UTC",
        verificationToken: "x",
        sequence: 1,
      },
    });
    // A marker after both: once it is handled, so are they (one consumer, in order of arrival).
    await emit("Hana 4", "Europe/Paris", 4);
    await eventually(
      async () =>
        (await sql(`SELECT 1 FROM progress.learners WHERE user_id = 'hana' AND name = 'Hana 4'`))
          .length === 1,
    );
    await emit("Hana 2 again", "UTC", 2);
    const processedOlder = async () =>
      (await sql(`SELECT 1 FROM progress.learners WHERE user_id = 'hana' AND name <> 'Hana 4'`))
        .length;
    // Give the stale event every chance to land, then check it did not.
    await new Promise(r => setTimeout(r, 1000));
    expect(await processedOlder()).toBe(0);
    const [row] = await sql<{ name: string; timezone: string }>(
      `SELECT name, timezone FROM progress.learners WHERE user_id = 'hana'`,
    );
    expect(row).toEqual({ name: "Hana 4", timezone: "Europe/Paris" });
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

describe("learning integrity", () => {
  const now = new Date("2026-11-18T12:00:00Z");

  function reading(id: string, courseId: string): LessonForGrading {
    return { id, courseId, courseVersion: 1, kind: "lesson", title: id, questions: [], cards: [] };
  }

  /** Publishes a course on the content stand-in (a new version when it exists). */
  async function publish(id: string, lessons: LessonForGrading[], version = 1): Promise<void> {
    for (const lesson of lessons) LESSONS[lesson.id] = { ...lesson, courseVersion: version };
    COURSES.set(id, {
      id,
      title: id,
      level: "A1",
      version,
      lessons: lessons.map((l, i) => ({ id: l.id, title: l.title, order: i + 1, kind: l.kind })),
    });
    // What content broadcasts on every change: progress's copy of its reads goes.
    await stubs.broadcast("cache.clean.content");
  }

  type Course = { course: { id: string }; completion: number; completedAt: string | null };

  /** The right answers to the quiz of skill-tagged questions the tests below publish. */
  const SKILLS_SHEET = [
    { questionId: "a1", value: "an" },
    { questionId: "a2", value: "the" },
  ];

  /** A quiz of two questions tagged with a skill, with SKILLS_SHEET's answers. */
  async function publishSkillsQuiz(): Promise<void> {
    if (LESSONS["quiz-skills"]) return;
    const question = (id: string, answer: string) => ({
      id,
      type: "single" as const,
      prompt: `Pick ${answer}`,
      options: [answer, "nope"],
      answer,
      explanation: null,
      skills: ["articles"],
    });
    await publish("course-skills", [
      {
        id: "quiz-skills",
        courseId: "course-skills",
        courseVersion: 1,
        kind: "quiz",
        title: "Articles",
        cards: [],
        questions: [question("a1", "an"), question("a2", "the")],
      },
    ]);
  }

  beforeAll(() => setClock(() => now));

  it("when a deck has more new cards than newCardsPerDay, then only that many enter the due list a local day (20 by default)", async () => {
    const cards = Array.from({ length: 25 }, (_, i) => ({
      id: `w${String(i + 1).padStart(2, "0")}`,
      front: `word ${i + 1}`,
      back: `Wort ${i + 1}`,
      example: null,
      audioUrl: null,
    }));
    LESSONS["deck-big"] = {
      id: "deck-big",
      courseId: "course-big",
      courseVersion: 1,
      kind: "flashcards",
      title: "Many words",
      questions: [],
      cards,
    };
    COURSES.set("course-big", {
      id: "course-big",
      title: "Many words",
      level: "A1",
      version: 1,
      lessons: [{ id: "deck-big", title: "Many words", order: 1, kind: "flashcards" }],
    });
    profile("dora", "Dora");
    profiles.set("nils", { ...profile("nils", "Nils", "Asia/Tokyo"), newCardsPerDay: 2 });
    const dueOf = async (who: string) =>
      (await call<Array<{ cardId: string }>>(who, "progress.dueReviews")).result.map(c => c.cardId);
    for (const who of ["dora", "nils"]) await call(who, "progress.enroll", { id: "course-big" });
    const dora = await dueOf("dora");
    expect(dora).toHaveLength(20);
    expect(dora).toEqual(cards.slice(0, 20).map(c => c.id));
    expect(await dueOf("nils")).toEqual(["w01", "w02"]);
    // Reviewing the two starts them; no other new card enters today.
    for (const cardId of ["w01", "w02"])
      await call("nils", "progress.review", { lessonId: "deck-big", cardId, rating: "good" });
    expect(await dueOf("nils")).toEqual([]);
    // Nils's next local day (Tokyo): the two again (due by now) and two new ones.
    setClock(() => new Date(now.getTime() + 24 * 3600_000));
    try {
      const tomorrow = await dueOf("nils");
      expect(tomorrow).toHaveLength(4);
      expect(tomorrow).toEqual(expect.arrayContaining(["w01", "w02", "w03", "w04"]));
    } finally {
      setClock(() => now);
    }
  });

  it("when an author publishes a deck reusing a starter card's id, then no learner's review of the starter card changes", async () => {
    profile("kim", "Kim");
    await call("kim", "progress.enroll", { id: "course-1" });
    const reviewed = await call<{ due: string }>("kim", "progress.review", {
      lessonId: "deck-1",
      cardId: "card-1",
      rating: "good",
    });
    await publish("course-x", [
      {
        id: "deck-x",
        courseId: "course-x",
        courseVersion: 1,
        kind: "flashcards",
        title: "X",
        questions: [],
        cards: [
          { id: "card-1", front: "INJECTED BY X", back: "gotcha", example: null, audioUrl: null },
        ],
      },
    ]);
    await call("kim", "progress.enroll", { id: "course-x" });

    const due = await call<Array<{ lessonId: string; cardId: string; front: string }>>(
      "kim",
      "progress.dueReviews",
    );
    expect(due.result.map(c => [c.lessonId, c.cardId, c.front])).toEqual([
      ["deck-1", "card-2", "pear"],
      ["deck-x", "card-1", "INJECTED BY X"],
    ]);
    const starter = await sql<{ front: string; due: Date; reps: number }>(
      `SELECT front, due, reps FROM progress.review_cards WHERE user_id = 'kim' AND lesson_id = 'deck-1' AND card_id = 'card-1'`,
    );
    expect(starter).toEqual([{ front: "apple", due: new Date(reviewed.result.due), reps: 1 }]);
    // Reviewing the other deck's card-1 leaves the starter card as it was.
    await call("kim", "progress.review", { lessonId: "deck-x", cardId: "card-1", rating: "again" });
    const after = await sql<{ reps: number }>(
      `SELECT reps FROM progress.review_cards WHERE user_id = 'kim' AND lesson_id = 'deck-1' AND card_id = 'card-1'`,
    );
    expect(after).toEqual([{ reps: 1 }]);
  });

  it("when learners enrol in a course, then each progress node asks content for its outline once until content changes", async () => {
    await publish("course-outline", [reading("outline-r1", "course-outline")]);
    const asked = () => outlineCalls.filter(id => id === "course-outline").length;
    const enrol = async (who: string[]) => {
      for (const name of who) {
        profile(name, name, "UTC");
        await call(name, "progress.enroll", { id: "course-outline" });
      }
    };
    // Two progress nodes, each with its own copy: six enrolments ask at most twice.
    await enrol(["olga", "omar", "otto", "odin", "orla", "oren"]);
    expect(asked()).toBeLessThanOrEqual(2);
    const before = asked();
    await publish("course-outline", [
      reading("outline-r1", "course-outline"),
      reading("outline-r2", "course-outline"),
    ]);
    await enrol(["oona", "ossi", "ove", "ozzy"]);
    expect(asked()).toBeGreaterThan(before);
    expect(asked()).toBeLessThanOrEqual(before + 2);
  });

  it("when an answer sheet is empty, partial or names an unknown question, then it is 422 and reveals no answer", async () => {
    profile("lena", "Lena");
    for (const answers of [
      [],
      PERFECT.slice(0, 4),
      [...PERFECT, { questionId: "q9", value: "x" }],
    ]) {
      const refused = await call("lena", "progress.submitAttempt", { id: "quiz-1", answers }).then(
        () => undefined,
        (err: { code: number; data: unknown }) => err,
      );
      expect(refused?.code).toBe(422);
      const told = JSON.stringify(refused?.data);
      for (const secret of ["cat", "Good Morning", "here"]) expect(told).not.toContain(secret);
    }
    expect(await sql(`SELECT 1 FROM progress.attempts WHERE user_id = 'lena'`)).toEqual([]);
  });

  it("when a reading lesson is completed 20 times, then only the first completion pays", async () => {
    profile("max", "Max");
    await publish("course-read", [reading("read-farm", "course-read")]);
    for (let i = 0; i < 20; i += 1)
      await call("max", "progress.completeLesson", { id: "read-farm" });
    expect((await call<{ xp: number }>("max", "progress.myProgress")).result.xp).toBe(20);
  });

  it("when a quiz is passed again and again, then repeats pay a quarter and nothing past the lesson's daily cap", async () => {
    profile("nina", "Nina");
    const paid: number[] = [];
    for (let i = 0; i < 6; i += 1) {
      const { result } = await call<AttemptResult>("nina", "progress.submitAttempt", {
        id: "quiz-1",
        answers: PERFECT,
      });
      paid.push(result.xpEarned);
    }
    expect(paid).toEqual([90, 12, 12, 6, 0, 0]);
    // The next local day the cap starts again.
    setClock(() => new Date("2026-11-19T12:00:00Z"));
    const tomorrow = await call<AttemptResult>("nina", "progress.submitAttempt", {
      id: "quiz-1",
      answers: PERFECT,
    });
    expect(tomorrow.result.xpEarned).toBe(12);
    setClock(() => now);
  });

  it("when a 100-question quiz is passed, then one attempt pays no more than 100 + 20 + 20 XP", async () => {
    profile("omar", "Omar");
    const questions = Array.from({ length: 100 }, (_, i) => ({
      id: `b${i}`,
      type: "single" as const,
      prompt: "Pick",
      options: ["yes", "no"],
      answer: "yes",
      explanation: null,
    }));
    await publish("course-big", [
      {
        id: "quiz-big",
        courseId: "course-big",
        courseVersion: 1,
        kind: "quiz",
        title: "Big",
        cards: [],
        questions,
      },
    ]);
    const { result } = await call<AttemptResult>("omar", "progress.submitAttempt", {
      id: "quiz-big",
      answers: questions.map(q => ({ questionId: q.id, value: "yes" })),
    });
    expect(result).toMatchObject({ score: 1000, passed: true, xpEarned: 140 });
  });

  it("when a learner is erased, then their still-valid token writes nothing again and the boards do not show them", async () => {
    profile("pia", "Pia");
    await publish("course-pia", [
      reading("read-pia-1", "course-pia"),
      reading("read-pia-2", "course-pia"),
    ]);
    await call("pia", "progress.completeLesson", { id: "read-pia-1" });
    await stubs.call("users.emit", { type: "user.deleted", data: { userId: "pia" } });
    await eventually(
      async () => (await sql(`SELECT 1 FROM progress.learners WHERE user_id = 'pia'`)).length === 0,
    );
    for (const [action, params] of [
      ["progress.completeLesson", { id: "read-pia-2" }],
      ["progress.submitAttempt", { id: "quiz-1", answers: PERFECT }],
      ["progress.enroll", { id: "course-1" }],
      ["progress.myProgress", {}],
    ] as const) {
      await expect(call("pia", action, params)).rejects.toMatchObject({
        code: 401,
        type: "ACCOUNT_ERASED",
      });
    }
    // A late user.updated does not bring the learner back either.
    await stubs.call("users.emit", {
      type: "user.updated",
      data: { userId: "pia", name: "Pia", timezone: "UTC" },
    });
    await new Promise(resolve => setTimeout(resolve, 500));
    for (const table of ["learners", "enrollments", "lesson_completions", "xp_ledger", "weekly_xp"])
      expect(await sql(`SELECT 1 FROM progress.${table} WHERE user_id = 'pia'`)).toEqual([]);
    const board = await call<{ top: Array<{ userId: string }> }>("kim", "progress.leaderboard", {
      period: "all",
      limit: 100,
    });
    expect(board.result.top.map(e => e.userId)).not.toContain("pia");
  });

  it("when an enrolled course is deleted, then it leaves /me/courses", async () => {
    profile("rob", "Rob");
    await publish("course-gone", [reading("read-gone", "course-gone")]);
    await call("rob", "progress.enroll", { id: "course-gone" });
    await call("rob", "progress.enroll", { id: "course-1" });
    COURSES.delete("course-gone");
    await stubs.broadcast("cache.clean.content");
    const courses = await call<Course[]>("rob", "progress.myCourses");
    expect(courses.result.map(c => c.course.id)).toEqual(["course-1"]);
  });

  it("when a completed course is republished with one more lesson, then completion is of the current version and completedAt stays", async () => {
    profile("sam", "Sam");
    const lessons = [1, 2, 3].map(i => reading(`read-v${i}`, "course-v"));
    await publish("course-v", lessons);
    for (const lesson of lessons) await call("sam", "progress.completeLesson", { id: lesson.id });
    const done = (await call<Course[]>("sam", "progress.myCourses")).result[0];
    expect(done).toMatchObject({ completion: 1, completedAt: now.toISOString() });

    await publish("course-v", [...lessons, reading("read-v4", "course-v")], 2);
    const grown = (await call<Course[]>("sam", "progress.myCourses")).result[0];
    expect(grown).toMatchObject({ completion: 0.75, completedAt: now.toISOString() });
    await call("sam", "progress.completeLesson", { id: "read-v4" });
    const again = (await call<Course[]>("sam", "progress.myCourses")).result[0];
    expect(again).toMatchObject({ completion: 1, completedAt: now.toISOString() });
    // Completed once: one event, one achievement.
    expect(await outboxOf("progress.course.completed", "sam")).toHaveLength(1);
  });

  it("when a learner changes time zone, then XP earned under the old zone stays on their activity calendar", async () => {
    profile("tia", "Tia", "Asia/Tokyo");
    await publish("course-tz", [
      reading("read-tz-1", "course-tz"),
      reading("read-tz-2", "course-tz"),
    ]);
    // 16:00 UTC on the 18th is already the 19th in Tokyo.
    setClock(() => new Date("2026-11-18T16:00:00Z"));
    await call("tia", "progress.completeLesson", { id: "read-tz-1" });
    profile("tia", "Tia", "America/New_York");
    await stubs.call("users.emit", {
      type: "user.updated",
      data: { userId: "tia", name: "Tia", timezone: "America/New_York" },
    });
    await eventually(
      async () =>
        (
          await sql(
            `SELECT 1 FROM progress.learners WHERE user_id = 'tia' AND timezone = 'America/New_York'`,
          )
        ).length === 1,
    );
    // 12:00 in New York, still the 18th.
    setClock(() => new Date("2026-11-18T17:00:00Z"));
    await call("tia", "progress.submitAttempt", { id: "quiz-1", answers: PERFECT });
    const activity = await call<Array<{ date: string; xp: number; lessons: number }>>(
      "tia",
      "progress.myActivity",
      { days: 2 },
    );
    expect(activity.result).toEqual([
      { date: "2026-11-17", xp: 0, lessons: 0 },
      { date: "2026-11-18", xp: 110, lessons: 2 },
    ]);
    const progress = await call<{ xp: number; todayXp: number }>("tia", "progress.myProgress");
    expect(progress.result).toMatchObject({ xp: 110, todayXp: 110 });
    setClock(() => now);
  });

  it("when learners answer one question at once, then its difficulty moves once per answer by the time each answer returns, and not again on a retry", async () => {
    await publishSkillsQuiz();
    const learners = Array.from({ length: 6 }, (_, i) => `ida-${i}`);
    for (const id of learners) profile(id, id);
    const answered = await Promise.all(
      learners.map(async (id, i) => {
        const meta = i === 0 ? { idempotencyKey: "ida-once" } : {};
        await call(
          id,
          "progress.submitAttempt",
          { id: "quiz-skills", answers: SKILLS_SHEET },
          meta,
        );
        // By the time the answer is back, this learner's answer has moved the question.
        const [row] = await sql<{ answers: number }>(
          `SELECT answers FROM progress.question_difficulty WHERE lesson_id = 'quiz-skills' AND question_id = 'a1'`,
        );
        return row.answers;
      }),
    );
    expect(Math.min(...answered)).toBeGreaterThanOrEqual(1);
    // A retry of the first answer is answered from its record: the questions do not move again.
    await call(
      learners[0],
      "progress.submitAttempt",
      { id: "quiz-skills", answers: SKILLS_SHEET },
      { idempotencyKey: "ida-once" },
    );
    // a1 comes first: six learners rated 0 answer it right, whatever their order the same result.
    let expected = { difficulty: 0, answers: 0 };
    for (let i = 0; i < learners.length; i++)
      expected = rateAnswer([{ rating: 0, attempts: 0 }], expected, 1).question;
    const rows = await sql<{ question_id: string; difficulty: number; answers: number }>(
      `SELECT question_id, difficulty, answers FROM progress.question_difficulty
        WHERE lesson_id = 'quiz-skills' ORDER BY question_id`,
    );
    expect(rows.map(r => [r.question_id, r.answers])).toEqual([
      ["a1", 6],
      ["a2", 6],
    ]);
    expect(rows[0].difficulty).toBeCloseTo(expected.difficulty, 9);
  });

  it("when a learner submits an attempt, then it costs a bounded number of SQL statements", async () => {
    await publishSkillsQuiz();
    profile("stan", "Stan");
    const sheet = { id: "quiz-skills", answers: SKILLS_SHEET };
    // On one node (a local service is preferred), whose copy of the lesson is warm by then.
    const attemptOnA = () =>
      nodeA.broker.call("progress.submitAttempt", sheet, {
        meta: { user: { id: "stan", roles: ["learner"] } },
      });
    // Twice: the first may still meet the publish's cache.clean on its way, the second finds
    // the lesson's grading view in the node's copy, as every attempt at a busy lesson does.
    await attemptOnA();
    await attemptOnA();
    // The relay and the consumers run beside the request: what is counted is the request's
    // own transaction (the one writing the attempt) and its statements outside any transaction.
    const background = /"progress"\.(outbox|processed_events|delivery_starts|analytics_)/;
    const spies = [nodeA, nodeB].map(node =>
      jest.spyOn(
        (node.broker.getLocalService("progress") as unknown as DbServiceThis).sequelize,
        "query",
      ),
    );
    let sent: Array<{ text: string; transaction?: unknown }>;
    try {
      // A passed repeat: completion, repeat cap, XP, activity, achievements, mastery, events.
      await attemptOnA();
      sent = spies.flatMap(spy =>
        spy.mock.calls.map(([sql, options]) => ({
          text: typeof sql === "string" ? sql : sql.query,
          transaction: (options as { transaction?: unknown } | undefined)?.transaction,
        })),
      );
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
    const attempt = sent.find(s => /INSERT INTO "progress"\.attempts/.test(s.text))?.transaction;
    const statements = sent.filter(s =>
      s.transaction === undefined ? !background.test(s.text) : s.transaction === attempt,
    );
    expect(attempt).toBeDefined();
    expect(statements.length).toBeLessThanOrEqual(14);
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
    const reviewed = await req("POST", "/me/reviews", {
      lessonId: "deck-1",
      cardId: "card-2",
      rating: "good",
    });
    expect(reviewed.status).toBe(200);
    expect(reviewed.body).toMatchObject({
      lessonId: "deck-1",
      cardId: "card-2",
      stability: expect.any(Number),
      difficulty: expect.any(Number),
    });
    expect(
      (
        await req("POST", "/me/reviews", {
          lessonId: "deck-1",
          cardId: "card-unknown",
          rating: "good",
        })
      ).status,
    ).toBe(404);

    const activity = await req("GET", "/me/activity?days=2");
    expect(activity.body).toEqual([
      { date: "2026-11-17", xp: 0, lessons: 0 },
      { date: "2026-11-18", xp: 112, lessons: 2 },
    ]);
  });
});
