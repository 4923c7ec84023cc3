import {
  Errors,
  ServiceBroker,
  type Context,
  type ServiceSchema,
  type ServiceSettingSchema,
} from "moleculer";
import { QueryTypes, type Sequelize, type Transaction } from "sequelize";
import Redis from "ioredis";
import { DbMixin, type DbServiceThis } from "../../mixins/db.mixin";
import { DurableEvents, type DurableEventsMethods } from "../../mixins/durable-events.mixin";
import { brokerOptions } from "../../moleculer.config";
import type { AuthUser } from "../../models/auth.model";
import type { CourseOutline } from "../../models/course.model";
import type { LessonForGrading } from "../../models/lesson.model";
import type { UserSummary } from "../../models/user.model";
import { LEARNER_CHANGED_EVENT, type LearnerChanged } from "../../models/progress.model";
import type { Clock } from "../../services/progress/clock";
import { startTestNode, type TestNode } from "../support/cluster";
import {
  clusterEnv,
  createTestDatabase,
  testConfig,
  uniqueName,
  type TestDatabase,
} from "../support/isolation";
import { requireServers, SERVERS } from "../support/servers";
import { http, newSigningKey, signAccessToken, TEST_PUBLIC_URL, type SigningKey } from "./api-kit";

/**
 * GET /me/dashboard over the learner's home summary, on real servers (PostgreSQL, Redis,
 * NATS, RabbitMQ): the real gateway, progress and notify, with stand-ins of content and
 * users (users' events through a real outbox). The summary follows the learner's events,
 * answers the learner's own writes before its consumer ran, and what changes with time alone.
 */

const COURSE: CourseOutline = {
  id: "course-h",
  title: "Home course",
  level: "A1",
  version: 1,
  lessons: [
    { id: "quiz-h", title: "Quiz", order: 1, kind: "quiz" },
    { id: "deck-h", title: "Words", order: 2, kind: "flashcards" },
  ],
};

const LESSONS: Record<string, LessonForGrading> = {
  "quiz-h": {
    id: "quiz-h",
    courseId: COURSE.id,
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
    ],
  },
  "deck-h": {
    id: "deck-h",
    courseId: COURSE.id,
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

const LEARNER = "hana";
const FRIEND = "ivo";

const profiles = new Map<string, UserSummary>(
  [LEARNER, FRIEND].map(id => [
    id,
    {
      id,
      email: `${id}@example.com`,
      name: id.toUpperCase(),
      timezone: "UTC",
      dailyGoalXp: 30,
      emailVerified: true,
      nativeLanguage: null,
    },
  ]),
);

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
          .map(id => ({
            id,
            title: COURSE.title,
            level: COURSE.level,
            topics: ["basics"],
            version: COURSE.version,
            lessonCount: COURSE.lessons.length,
          }));
      },
    },
  },
};

type UsersThis = DbServiceThis & DurableEventsMethods;
type UserEvent = "user.created" | "social.followed";

const UsersStandIn: ServiceSchema<
  ServiceSettingSchema,
  Record<string, never>,
  Record<string, never>,
  UsersThis
> = {
  name: "users",
  mixins: [DbMixin({ schema: "users_standin" }), DurableEvents()],
  actions: {
    jwks: { handler: () => ({ keys: signingKey ? [signingKey.jwk] : [] }) },
    me: {
      auth: true,
      handler(ctx: Context<unknown, { user: AuthUser }>) {
        return profiles.get(ctx.meta.user.id);
      },
    },
    profiles: {
      internal: true,
      handler(ctx: Context<{ ids: string[] }>) {
        return ctx.params.ids.map(id => profiles.get(id)).filter(Boolean);
      },
    },
    emit: {
      async handler(this: UsersThis, ctx: Context<{ type: UserEvent; data: never }>) {
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
let progressNode: TestNode;
let notifyNode: TestNode;
let gateway: TestNode;
let token: string;
let signingKey: SigningKey | undefined;

type Json = Record<string, unknown>;

function callAs<T>(action: string, params: Json = {}): Promise<T> {
  return stubs.call<T, Json>(action, params, {
    meta: { user: { id: LEARNER, roles: ["learner"] } },
  });
}

async function dashboard(): Promise<Json> {
  const res = await http(`${gateway.apiUrl}/me/dashboard`, { token });
  expect(res.status).toBe(200);
  return res.body as Json;
}

function progressDb(): Sequelize {
  return (progressNode.broker.getLocalService("progress") as unknown as DbServiceThis).sequelize;
}

async function sql<T extends object>(query: string, t?: Transaction): Promise<T[]> {
  return progressDb().query<T>(query, {
    replacements: { userId: LEARNER },
    type: QueryTypes.SELECT,
    transaction: t,
  });
}

/** The learner's summary beside their current event sequence. */
async function summaryState(t?: Transaction) {
  const [row] = await sql<{ sequence: string | null; event_sequence: string; unread: number }>(
    `SELECT h.sequence, l.event_sequence, h.unread FROM progress.learners l
     LEFT JOIN progress.home_summaries h ON h.user_id = l.user_id WHERE l.user_id = :userId`,
    t,
  );
  return row;
}

async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await check();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise(resolve => setTimeout(resolve, 100));
  }
}

/** The consumer caught up: the summary reflects every event of the learner. */
const caughtUp = () =>
  eventually(async () => {
    const state = await summaryState();
    return state?.sequence !== null && state?.sequence === state?.event_sequence
      ? state
      : undefined;
  });

/** Time moves for progress and the gateway alike (the gateway holds homes until a time progress names). */
function setClock(clock: Clock): void {
  (progressNode.broker.getLocalService("progress") as unknown as { clock: Clock }).clock = clock;
  (gateway.broker.getLocalService("api") as unknown as { clock: () => number }).clock = () =>
    clock().getTime();
}

/** The gateway's calls of progress.home while `read` runs. */
async function homeCallsDuring(read: () => Promise<unknown>): Promise<number> {
  const calls = jest.spyOn(gateway.broker, "call");
  try {
    await read();
    return calls.mock.calls.filter(([action]) => action === "progress.home").length;
  } finally {
    calls.mockRestore();
  }
}

/**
 * The gateway answers the learner's dashboard from its copy: a read that does not ask
 * progress (the consumer's broadcasts of changes before it may still clear the copy first).
 */
const heldByGateway = () =>
  eventually(async () => ((await homeCallsDuring(dashboard)) === 0 ? true : undefined));

/** What the gateway holds of the learner goes, as after a change progress tells it of. */
function clearGatewayCopy(): Promise<void> {
  const change: LearnerChanged = { userId: LEARNER };
  return gateway.broker.broadcastLocal(LEARNER_CHANGED_EVENT, change);
}

beforeAll(async () => {
  await requireServers("postgres", "redis", "rabbitmq", "nats");
  db = await createTestDatabase("lm_home");
  namespace = uniqueName("home");
  signingKey = await newSigningKey();
  token = await signAccessToken(signingKey, { sub: LEARNER, roles: ["learner"] });
  const env = {
    ...clusterEnv(namespace, db.url),
    PUBLIC_URL: TEST_PUBLIC_URL,
    SMTP_URL: "smtp://127.0.0.1:9",
  };
  stubs = new ServiceBroker({
    ...brokerOptions(testConfig({ ...env, SERVICES: "" })),
    nodeID: `${namespace}-stubs`,
  });
  stubs.createService(ContentStandIn);
  stubs.createService(UsersStandIn);
  await stubs.start();
  [progressNode, notifyNode] = await Promise.all([
    startTestNode(["progress"], { ...env, NODE_ID: `${namespace}-progress` }),
    startTestNode(["notify"], { ...env, NODE_ID: `${namespace}-notify` }),
  ]);
  gateway = await startTestNode(["api"], {
    ...env,
    NODE_ID: `${namespace}-gw`,
    RATE_LIMIT_RPM: "100000",
  });
  await gateway.broker.waitForServices(["progress", "users", "notify"], 20_000);
  for (const id of [LEARNER, FRIEND]) {
    const p = profiles.get(id);
    await stubs.call("users.emit", {
      type: "user.created",
      data: { userId: id, email: p?.email, name: p?.name, timezone: "UTC", verificationToken: "x" },
    });
  }
  // notify knows both as recipients before anything is said to them.
  const notifyDb = (notifyNode.broker.getLocalService("notify") as unknown as DbServiceThis)
    .sequelize;
  await eventually(async () => {
    const [row] = await notifyDb.query<{ n: string }>(
      `SELECT count(*) AS n FROM notify.recipients WHERE user_id IN ('hana', 'ivo')`,
      { type: QueryTypes.SELECT },
    );
    return Number(row.n) === 2 ? true : undefined;
  });
}, 120_000);

afterAll(async () => {
  await Promise.allSettled([gateway?.stop(), progressNode?.stop(), notifyNode?.stop()]);
  await stubs?.stop();
  const redis = new Redis(SERVERS.redis.url);
  const keys = await redis.keys(`${namespace}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
  await db?.drop();
}, 60_000);

describe("GET /me/dashboard from the learner's home summary", () => {
  const start = new Date("2026-11-18T12:00:00Z");

  beforeAll(async () => {
    setClock(() => start);
    // A first request warms every node's code paths and connections, which on a busy machine
    // takes longer than a part's 300 ms; the summary it stores goes, so the first case still
    // starts with none.
    await dashboard();
    await eventually(async () => {
      const [row] = await sql<{ n: string }>(
        `SELECT count(*) AS n FROM progress.home_summaries WHERE user_id = :userId`,
      );
      return Number(row.n) === 1 ? true : undefined;
    });
    await sql(`DELETE FROM progress.home_summaries WHERE user_id = :userId`);
    await clearGatewayCopy();
  });

  it("when the learner has no summary yet, then the dashboard is built from the sources and stored, nothing degraded", async () => {
    const board = await dashboard();
    expect(board).toMatchObject({
      user: { id: LEARNER, name: "HANA" },
      progress: { xp: 0, completedLessons: 0, dailyGoalXp: 30 },
      courses: [],
      dueReviews: [],
      leaderboard: { rank: null },
      notifications: { unread: 0 },
      degraded: [],
    });
    const state = await eventually(async () => {
      const found = await summaryState();
      return found?.sequence !== null && found?.unread === 0 ? found : undefined;
    });
    expect(state.sequence).toBe(state.event_sequence);
  });

  it("when a notification is created and then read, then the unread count follows notify's inbox events", async () => {
    await stubs.call("users.emit", {
      type: "social.followed",
      data: { userId: LEARNER, followerId: FRIEND },
    });
    await eventually(async () =>
      ((await dashboard()).notifications as Json).unread === 1 ? true : undefined,
    );
    await callAs("notify.markAllRead");
    await eventually(async () =>
      ((await dashboard()).notifications as Json).unread === 0 ? true : undefined,
    );
  });

  it("when the gateway holds the learner's home, then it answers without asking progress, and the next inbox change still shows at once", async () => {
    await heldByGateway();
    await stubs.call("users.emit", {
      type: "social.followed",
      data: { userId: LEARNER, followerId: FRIEND },
    });
    // The gateway's clock stands still here: only progress's broadcast can clear its copy.
    await eventually(async () =>
      ((await dashboard()).notifications as Json).unread === 1 ? true : undefined,
    );
    await heldByGateway();
    await callAs("notify.markAllRead");
    await eventually(async () =>
      ((await dashboard()).notifications as Json).unread === 0 ? true : undefined,
    );
  });

  it("when the learner enrols, then the course and its new cards are on the dashboard", async () => {
    await callAs("progress.enroll", { id: COURSE.id });
    const board = await dashboard();
    expect(board.courses).toEqual([
      expect.objectContaining({
        course: expect.objectContaining({ id: COURSE.id, title: COURSE.title, topics: ["basics"] }),
        completedLessons: 0,
        totalLessons: 2,
      }),
    ]);
    expect((board.dueReviews as Json[]).map(c => c.cardId)).toEqual(["card-1", "card-2"]);
    expect(board.degraded).toEqual([]);
    await caughtUp();
  });

  it("when the learner answers right after their own attempt, then it shows — before the consumer ran — and the consumer stores it", async () => {
    const before = await caughtUp();
    // The consumer's update locks the summary row first: held here, it cannot run.
    const held = await progressDb().transaction();
    try {
      await sql(`SELECT 1 FROM progress.home_summaries WHERE user_id = :userId FOR UPDATE`, held);
      const result = await callAs<{ xpEarned: number }>("progress.submitAttempt", {
        id: "quiz-h",
        answers: [{ questionId: "q1", value: "cat" }],
      });
      expect(result.xpEarned).toBeGreaterThan(0);
      const state = await summaryState();
      expect(Number(state.event_sequence)).toBeGreaterThan(Number(before.event_sequence));
      expect(state.sequence).toBe(before.sequence);

      const board = await dashboard();
      expect(board.progress).toMatchObject({ xp: result.xpEarned, completedLessons: 1 });
      expect(board.progress).toMatchObject({ todayXp: result.xpEarned });
      expect(board.courses).toEqual([expect.objectContaining({ completedLessons: 1 })]);
      expect(board.leaderboard).toMatchObject({ rank: 1 });
    } finally {
      await held.commit();
    }
    await caughtUp();
    const [stored] = await sql<{ progress: Json; courses: Json[] }>(
      `SELECT progress, courses FROM progress.home_summaries WHERE user_id = :userId`,
    );
    expect(stored.progress).toMatchObject({ completedLessons: 1 });
    expect(stored.courses[0]).toMatchObject({ completedLessons: 1 });
    // Warm now: the same answer from the summary.
    expect((await dashboard()).progress).toMatchObject({ completedLessons: 1 });
  });

  it("when a card is reviewed, then the consumer updates the summary, the card leaves the due list and comes back with time alone", async () => {
    const [{ xp: before }] = await sql<{ xp: number }>(
      `SELECT (progress->>'xp')::int AS xp FROM progress.home_summaries WHERE user_id = :userId`,
    );
    await callAs("progress.review", { lessonId: "deck-h", cardId: "card-1", rating: "good" });
    // No read in between: only the consumer brings the summary up to the review's events.
    await caughtUp();
    const [{ xp: after }] = await sql<{ xp: number }>(
      `SELECT (progress->>'xp')::int AS xp FROM progress.home_summaries WHERE user_id = :userId`,
    );
    expect(after).toBeGreaterThan(before);
    const afterReview = await dashboard();
    expect((afterReview.dueReviews as Json[]).map(c => c.cardId)).toEqual(["card-2"]);
    const { due } = (
      await sql<{ due: Date }>(
        `SELECT due FROM progress.review_cards WHERE user_id = :userId AND card_id = 'card-1'`,
      )
    )[0];
    // No event: only the clock moves, past the card's due time and into another day.
    const later = new Date(new Date(due).getTime() + 86_400_000);
    setClock(() => later);
    const board = await dashboard();
    expect((board.dueReviews as Json[]).map(c => c.cardId).sort()).toEqual(["card-1", "card-2"]);
    expect(board.progress).toMatchObject({ todayXp: 0 });
    expect((await summaryState()).sequence).toBe((await summaryState()).event_sequence);
  });

  it("when the gateway holds the home and the learner reviews a card, then the next dashboard shows the review's XP and the card gone", async () => {
    await caughtUp();
    await heldByGateway();
    const held = await dashboard();
    // Straight to progress, not through the gateway: only progress's broadcast clears the copy.
    const review = await callAs<{ xpEarned: number }>("progress.review", {
      lessonId: "deck-h",
      cardId: "card-2",
      rating: "good",
    });
    expect(review.xpEarned).toBeGreaterThan(0);
    const board = await dashboard();
    expect((board.progress as Json).xp).toBe(Number((held.progress as Json).xp) + review.xpEarned);
    expect((board.dueReviews as Json[]).map(c => c.cardId)).toEqual(["card-1"]);
  });

  it("when a card the held home does not show falls due, then the next dashboard shows it with no event", async () => {
    const { due } = (
      await sql<{ due: Date }>(
        `SELECT due FROM progress.review_cards WHERE user_id = :userId AND card_id = 'card-2'`,
      )
    )[0];
    const dueAt = new Date(due).getTime();
    // Two seconds before, far within the gateway's own limit on a copy's life.
    setClock(() => new Date(dueAt - 2000));
    await caughtUp();
    await heldByGateway();
    expect((await dashboard()).dueReviews).toEqual([expect.objectContaining({ cardId: "card-1" })]);
    setClock(() => new Date(dueAt));
    const board = await dashboard();
    expect((board.dueReviews as Json[]).map(c => c.cardId).sort()).toEqual(["card-1", "card-2"]);
  });

  it("when the summary row is gone, then the next dashboard rebuilds it from the sources", async () => {
    const warm = await dashboard();
    await sql(`DELETE FROM progress.home_summaries WHERE user_id = :userId`);
    // A row removed by hand is no change progress tells of: the gateway's copy goes as after one.
    await clearGatewayCopy();
    const rebuilt = await dashboard();
    expect({ ...rebuilt, user: null }).toEqual({ ...warm, user: null });
    await eventually(async () => ((await summaryState()).sequence !== null ? true : undefined));
  });

  it("when the progress service is stopped, then a held home still answers, and without one its parts are null and degraded, the profile there, still 200", async () => {
    const held = await dashboard();
    await progressNode.stop();
    await eventually(async () =>
      gateway.broker.registry
        .getServiceList({ onlyAvailable: true })
        .some(s => s.name === "progress")
        ? undefined
        : true,
    );
    // Nothing of the learner's home changes while progress is away: its copy is still theirs.
    expect(await dashboard()).toEqual({ ...held, degraded: [] });
    await clearGatewayCopy();
    const board = await dashboard();
    expect(board).toEqual({
      user: expect.objectContaining({ id: LEARNER }),
      progress: null,
      courses: null,
      dueReviews: null,
      leaderboard: null,
      notifications: null,
      degraded: ["progress", "courses", "dueReviews", "leaderboard", "notifications"],
    });
  });
});
