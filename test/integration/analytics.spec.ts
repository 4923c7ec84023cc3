import { startLearningCluster, type Json, type LearningCluster } from "./learning-kit";

/**
 * Course analytics on the real services: learners of a seeded course answer a quiz in a known
 * pattern through the API, and the author's figures are the ones worked out by hand below.
 */

let c: LearningCluster;
let author: { id: string; token: string };
let courseId: string;
let quizId: string;
let readingId: string;
/** Question id by prompt. */
const questionIds = new Map<string, string>();

const PROMPTS = ["Pick 'tea'.", "Pick 'cold'.", "Pick 'bill'."];
const RIGHT = ["tea", "cold", "bill"];
const WRONG = ["toast", "hot", "menu"];

/** A first attempt with the given questions answered correctly (true) or not. */
async function attempt(token: string, pattern: boolean[]): Promise<Json> {
  const answers = PROMPTS.map((prompt, i) => ({
    questionId: questionIds.get(prompt),
    value: pattern[i] ? RIGHT[i] : WRONG[i],
  }));
  return c.ok("POST", `/lessons/${quizId}/attempts`, 201, { token, json: { answers } });
}

beforeAll(async () => {
  c = await startLearningCluster("analytics", "https://learn.example.test");
  author = await c.author("Course Author");
  const as = { token: author.token };
  courseId = (
    await c.ok("POST", "/courses", 201, {
      ...as,
      json: {
        title: "Tea time",
        description: "Small talk over tea.",
        level: "A2",
        topics: [],
        language: "en",
      },
    })
  ).id as string;
  quizId = (
    await c.ok("POST", `/courses/${courseId}/lessons`, 201, {
      ...as,
      json: {
        title: "Check",
        kind: "quiz",
        order: 1,
        questions: PROMPTS.map((prompt, i) => ({
          type: "single",
          prompt,
          options: [RIGHT[i], WRONG[i]],
          answer: RIGHT[i],
        })),
      },
    })
  ).id as string;
  readingId = (
    await c.ok("POST", `/courses/${courseId}/lessons`, 201, {
      ...as,
      json: { title: "Read", kind: "lesson", order: 2, body: "Tea?" },
    })
  ).id as string;
  await c.ok("POST", `/courses/${courseId}/publish`, 200, as);
}, 120_000);

afterAll(async () => {
  await c?.stop();
});

describe("course analytics", () => {
  it("when five learners enrol and four answer the quiz in a known pattern, then the author's figures are exactly the hand-worked ones", async () => {
    const [a, b, cc, d, e] = await Promise.all(
      ["Ann", "Ben", "Cat", "Dan", "Eve"].map(name => c.register(name)),
    );
    for (const learner of [a, b, cc, d, e])
      await c.ok("POST", `/courses/${courseId}/enroll`, 201, { token: learner.token });
    const view = await c.ok("GET", `/lessons/${quizId}`, 200, { token: a.token });
    for (const q of view.questions as Json[]) questionIds.set(q.prompt as string, q.id as string);

    // First attempts: Ann 3/3 (passes), Ben 2/3, Cat 2/3, Dan 1/3; Ben then passes; Eve idles.
    expect((await attempt(a.token, [true, true, true])).passed).toBe(true);
    expect((await attempt(b.token, [true, true, false])).passed).toBe(false);
    expect((await attempt(cc.token, [true, false, true])).passed).toBe(false);
    expect((await attempt(d.token, [false, false, true])).passed).toBe(false);
    expect((await attempt(b.token, [true, true, true])).passed).toBe(true);
    // Ann reads the last lesson: her course is complete.
    await c.ok("POST", `/lessons/${readingId}/complete`, 201, { token: a.token });

    const figures = await c.ok("GET", `/courses/${courseId}/analytics`, 200, {
      token: author.token,
    });
    // Four first attempts: the best 27 % is Ann alone, the weakest Dan alone (at least one each).
    const q = (i: number) => questionIds.get(PROMPTS[i]);
    expect(figures).toEqual({
      enrolments: 5,
      activeLearners7d: 4,
      completionRate: 0.2,
      lessons: [
        { lessonId: quizId, started: 4, completed: 2, passRate: 0.4 },
        { lessonId: readingId, started: 1, completed: 1, passRate: null },
      ],
      questions: expect.arrayContaining([
        // Right in Ann's, Ben's (twice) and Cat's attempts; Ann yes, Dan no.
        { lessonId: quizId, questionId: q(0), answers: 5, correctRate: 0.8, discrimination: 1 },
        // Right in Ann's and Ben's (twice); Ann yes, Dan no.
        { lessonId: quizId, questionId: q(1), answers: 5, correctRate: 0.6, discrimination: 1 },
        // Right in all but Ben's first; Ann and Dan both right: it tells them apart not at all.
        { lessonId: quizId, questionId: q(2), answers: 5, correctRate: 0.8, discrimination: 0 },
      ]),
    });
    expect(figures.questions).toHaveLength(3);
  });

  it("when someone other than the owning author asks, then a learner gets 403, another author 404 and an admin the figures", async () => {
    const learner = await c.register("Curious Learner");
    const res = await c.call("GET", `/courses/${courseId}/analytics`, { token: learner.token });
    expect(res.status).toBe(403);
    const other = await c.author("Other Author");
    const theirs = await c.call("GET", `/courses/${courseId}/analytics`, { token: other.token });
    expect(theirs.status).toBe(404);
    expect(theirs.body).toMatchObject({ code: 404, type: "COURSE_NOT_FOUND" });
    const admin = await c.ok("GET", `/courses/${courseId}/analytics`, 200, {
      token: c.adminToken,
    });
    expect(admin.enrolments).toBe(5);
    const unknown = await c.call("GET", `/courses/0190a4f6-0000-7000-8000-000000000000/analytics`, {
      token: author.token,
    });
    expect(unknown.status).toBe(404);
  });
});
