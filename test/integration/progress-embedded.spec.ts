import { Errors, ServiceBroker, type Context, type ServiceSchema } from "moleculer";
import { brokerOptions } from "../../moleculer.config";
import type { LessonForGrading } from "../../models/lesson.model";
import { serviceFile } from "../../server";
import type { Clock } from "../../services/progress/clock";
import { tempDataDir, testConfig, uniqueName } from "../support/isolation";

/**
 * The progress service on embedded defaults: no DATABASE_URL (PGlite), no REDIS_URL
 * (leaderboards answered from PostgreSQL), no AMQP_URL, no transporter — one node.
 */

const QUIZ: LessonForGrading = {
  id: "quiz-e",
  courseId: "course-e",
  courseVersion: 2,
  kind: "quiz",
  title: "Quiz",
  cards: [],
  questions: [
    { id: "q1", type: "text", prompt: "Say hi", options: [], answer: "Hello", explanation: null },
    {
      id: "q2",
      type: "order",
      prompt: "Order",
      options: [],
      answer: ["a", "b"],
      explanation: null,
    },
  ],
};
const DECK: LessonForGrading = {
  id: "deck-e",
  courseId: "course-e",
  courseVersion: 2,
  kind: "flashcards",
  title: "Deck",
  questions: [],
  cards: [{ id: "card-e", front: "sun", back: "Sonne", example: null, audioUrl: null }],
};

const StandIns: ServiceSchema[] = [
  {
    name: "content",
    actions: {
      lessonForGrading: (ctx: Context<{ lessonId: string }>) => {
        const lesson = [QUIZ, DECK].find(l => l.id === ctx.params.lessonId);
        if (!lesson) throw new Errors.MoleculerClientError("not found", 404, "NOT_FOUND");
        return lesson;
      },
      courseOutline: () => ({
        id: "course-e",
        title: "Embedded",
        level: "A2",
        version: 2,
        lessons: [
          { id: "quiz-e", title: "Quiz", order: 1, kind: "quiz" },
          { id: "deck-e", title: "Deck", order: 2, kind: "flashcards" },
        ],
      }),
      coursesByIds: () => [
        { id: "course-e", title: "Embedded", level: "A2", topics: [], version: 2, lessonCount: 2 },
      ],
    },
  },
  {
    name: "users",
    actions: {
      profiles: (ctx: Context<{ ids: string[] }>) =>
        ctx.params.ids.map(id => ({
          id,
          email: `${id}@x.test`,
          name: id.toUpperCase(),
          timezone: "Asia/Tokyo",
          dailyGoalXp: 40,
          emailVerified: true,
        })),
    },
  },
];

let broker: ServiceBroker;
const now = new Date("2026-11-18T03:00:00Z"); // 12:00 in Tokyo

const call = <T>(
  userId: string,
  action: string,
  params: Record<string, unknown> = {},
  meta: Record<string, unknown> = {},
) =>
  broker.call(action, params, {
    meta: { user: { id: userId, roles: ["learner"] }, ...meta },
  }) as Promise<T>;

beforeAll(async () => {
  const cfg = testConfig({
    DATA_DIR: tempDataDir("progress-embedded"),
    NAMESPACE: uniqueName("embedded"),
    SERVICES: "progress",
  });
  broker = new ServiceBroker(brokerOptions(cfg));
  for (const schema of StandIns) broker.createService(schema);
  broker.loadService(serviceFile("progress"));
  await broker.start();
  (broker.getLocalService("progress") as unknown as { clock: Clock }).clock = () => now;
}, 60_000);

afterAll(async () => {
  await broker?.stop();
});

describe("progress on embedded defaults", () => {
  it("when a learner enrolls, answers, reviews and reads their progress, then the answers match the cluster's", async () => {
    await expect(call("u1", "progress.enroll", { id: "course-e" })).resolves.toMatchObject({
      courseId: "course-e",
    });
    const attempt = await call<{ score: number; xpEarned: number }>(
      "u1",
      "progress.submitAttempt",
      {
        id: "quiz-e",
        answers: [
          { questionId: "q1", value: "HELLO " },
          { questionId: "q2", value: ["a", "b"] },
        ],
      },
      { idempotencyKey: "k1" },
    );
    expect(attempt).toMatchObject({ score: 20, maxScore: 20, passed: true, xpEarned: 60 });
    await expect(
      call(
        "u1",
        "progress.submitAttempt",
        {
          id: "quiz-e",
          answers: [
            { questionId: "q1", value: "HELLO " },
            { questionId: "q2", value: ["a", "b"] },
          ],
        },
        { idempotencyKey: "k1" },
      ),
    ).resolves.toEqual(attempt);
    await call("u2", "progress.submitAttempt", {
      id: "quiz-e",
      answers: [
        { questionId: "q1", value: "hello" },
        { questionId: "q2", value: ["a", "b"] },
      ],
    });

    expect(await call("u1", "progress.dueReviews")).toEqual([
      {
        cardId: "card-e",
        lessonId: "deck-e",
        front: "sun",
        back: "Sonne",
        due: expect.any(String),
      },
    ]);
    await expect(
      call("u1", "progress.review", { lessonId: "deck-e", cardId: "card-e", rating: "easy" }),
    ).resolves.toMatchObject({ cardId: "card-e", xpEarned: 2 });
    await expect(
      call("u2", "progress.review", { lessonId: "deck-e", cardId: "card-e", rating: "easy" }),
    ).rejects.toMatchObject({ code: 404 });

    expect(await call("u1", "progress.myProgress")).toEqual({
      xp: 62,
      streak: { current: 1, longest: 1, lastActiveDate: "2026-11-18", freezes: 0 },
      completedLessons: 1,
      todayXp: 62,
      dailyGoalXp: 40,
    });
    expect(await call("u1", "progress.myCourses")).toEqual([
      expect.objectContaining({
        course: expect.objectContaining({ id: "course-e" }),
        completedLessons: 1,
        totalLessons: 2,
        completion: 0.5,
      }),
    ]);
    expect(
      (await call<Array<{ code: string }>>("u1", "progress.myAchievements"))
        .map(a => a.code)
        .sort(),
    ).toEqual(["first_lesson", "perfect_quiz"]);
    expect(
      await call<Array<{ date: string; xp: number }>>("u1", "progress.myActivity", { days: 1 }),
    ).toEqual([{ date: "2026-11-18", xp: 62, lessons: 1 }]);
  });

  it("when the leaderboard is read without Redis, then PostgreSQL answers top and rank", async () => {
    const board = await call<{
      top: Array<{ rank: number; userId: string; name: string; xp: number }>;
      me: unknown;
    }>("u2", "progress.leaderboard", { period: "all" });
    expect(board.top).toEqual([
      { rank: 1, userId: "u1", name: "U1", xp: 62 },
      { rank: 2, userId: "u2", name: "U2", xp: 60 },
    ]);
    expect(board.me).toEqual({ rank: 2, xp: 60 });
    await expect(call("u2", "progress.leaderboard", { period: "monthly" })).rejects.toMatchObject({
      code: 422,
    });
  });
});
