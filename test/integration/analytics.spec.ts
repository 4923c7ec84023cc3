import { LEARNING_METRICS } from "../../services/progress/learning-metrics";
import { startLearningCluster, type Json, type LearningCluster } from "./learning-kit";
import { sql, waitFor } from "./users.support";
import { statementProblems } from "./xapi-shape";

const DAY_MS = 86_400_000;

/** "2026-W49": the ISO week of a UTC day. */
function isoWeek(at: Date): string {
  const day = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate()));
  const weekday = day.getUTCDay() || 7;
  day.setUTCDate(day.getUTCDate() + 4 - weekday);
  const yearStart = Date.UTC(day.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((day.getTime() - yearStart) / DAY_MS + 1) / 7);
  return `${day.getUTCFullYear()}-W${String(week).padStart(2, "0")}`;
}

/**
 * Course analytics on the real services: learners of a seeded course answer a quiz in a known
 * pattern through the API, and the author's figures are the ones worked out by hand below.
 */

let c: LearningCluster;

/** The answer at `route` once `settled` holds for it (the events have reached the read model). */
async function settledFigures(
  route: string,
  token: string,
  settled: (figures: Json) => void,
): Promise<Json> {
  return waitFor(async () => {
    const figures = await c.ok("GET", route, 200, { token });
    try {
      settled(figures);
      return figures;
    } catch {
      return undefined;
    }
  }, 20_000);
}
let author: { id: string; token: string };
let courseId: string;
let quizId: string;
let readingId: string;
/** The quiz's learners of the first test, by name. */
const learners = new Map<string, { id: string; token: string }>();
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
    for (const [name, learner] of Object.entries({ Ann: a, Ben: b, Cat: cc, Dan: d, Eve: e }))
      learners.set(name, learner);
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

    // Four first attempts: the best 27 % is Ann alone, the weakest Dan alone (at least one each).
    const q = (i: number) => questionIds.get(PROMPTS[i]);
    const expected = {
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
    };
    // The read model follows the events: read until it has caught up with them.
    const figures = await settledFigures(`/courses/${courseId}/analytics`, author.token, f =>
      expect(f).toEqual(expected),
    );
    expect(figures).toEqual(expected);
    expect(figures.questions).toHaveLength(3);
  });

  it("when the learners' events have been handled, then the progress node exports them as business metrics", async () => {
    const progressNode = c.broker.registry
      .getServiceList({ onlyAvailable: true })
      .find(service => service.name === "progress")?.nodeID;
    expect(progressNode).toBeDefined();
    const metrics = await c.broker.call<
      { name: string; values: { labels: Record<string, string>; value: number }[] }[],
      { includes: string[] }
    >(
      "$node.metrics",
      { includes: ["lingomesh.learning.**", "lingomesh.mail.**"] },
      { nodeID: progressNode },
    );
    const total = (name: string, labels: Record<string, string> = {}) =>
      (metrics.find(metric => metric.name === name)?.values ?? [])
        .filter(v => Object.entries(labels).every(([k, value]) => v.labels[k] === value))
        .reduce((sum, v) => sum + v.value, 0);
    expect(total(LEARNING_METRICS.enrolments)).toBe(5);
    expect(total(LEARNING_METRICS.attempts)).toBe(5);
    expect(total(LEARNING_METRICS.attempts, { passed: "true" })).toBe(2);
    expect(total(LEARNING_METRICS.answers)).toBe(15);
    expect(total(LEARNING_METRICS.answersCorrect)).toBe(11);
    expect(total(LEARNING_METRICS.lessonCompletions)).toBe(3);
    expect(total(LEARNING_METRICS.courseCompletions)).toBe(1);
    expect(total(LEARNING_METRICS.registrations)).toBeGreaterThanOrEqual(7);
    expect(metrics.map(metric => metric.name)).toEqual(
      expect.arrayContaining([LEARNING_METRICS.activeLearners, LEARNING_METRICS.mailOutcomes]),
    );
  });

  it("when an admin asks for the platform's figures, then activity, registrations, cohort retention and mail match the seeded tables", async () => {
    // Four learners who started ten days ago: two came back the next day, one of them a week on.
    const now = Date.now();
    const first = new Date(now - 10 * DAY_MS);
    const day = (offset: number) =>
      new Date(first.getTime() + offset * DAY_MS).toISOString().slice(0, 10);
    for (const id of ["old-1", "old-2", "old-3", "old-4"])
      await sql(
        c.db.url,
        `INSERT INTO progress.learners (user_id, name, created_at) VALUES ($1, $1, $2)`,
        [id, first],
      );
    for (const [id, offset] of [
      ["old-1", 1],
      ["old-1", 7],
      ["old-2", 1],
    ] as const)
      await sql(
        c.db.url,
        `INSERT INTO progress.activity_days (user_id, local_date, xp, lessons) VALUES ($1, $2, 10, 1)`,
        [id, day(offset)],
      );

    // Rows written behind the events' back reach the read model by the operator's rebuild.
    const rebuilt = await c.broker.call<Json>("progress.rebuildAnalytics");
    expect(rebuilt).toMatchObject({ attempts: 5, registrations: 7 });

    const learner = await c.call("GET", "/admin/analytics", { token: author.token });
    expect(learner.status).toBe(403);
    const tooMany = await c.call("GET", "/admin/analytics?days=400", { token: c.adminToken });
    expect(tooMany.status).toBe(422);

    // Mail is still going out: the figures are read until they agree with a count of the table.
    const mailOfTable = async () =>
      (
        await sql<Record<string, string>>(
          c.db.url,
          `SELECT COUNT(sent_at) AS sent, COUNT(opened_at) AS opened, COUNT(clicked_at) AS clicked,
                  COUNT(*) FILTER (WHERE status = 'failed') AS failed FROM notify.emails`,
        )
      ).map(row => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Number(v)])))[0];
    const figures = await waitFor(async () => {
      const answer = await c.ok("GET", "/admin/analytics?days=14", 200, { token: c.adminToken });
      const table = await mailOfTable();
      return JSON.stringify(answer.mail) === JSON.stringify(table) && (answer.mail as Json).sent
        ? answer
        : undefined;
    }, 20_000);

    // Ann, Ben, Cat and Dan learned today; old-1 three days ago; old-2 nine days ago.
    expect({ dau: figures.dau, wau: figures.wau, mau: figures.mau }).toEqual({
      dau: 4,
      wau: 5,
      mau: 6,
    });
    const registrations = figures.registrations as Array<{ date: string; count: number }>;
    expect(registrations).toHaveLength(14);
    expect(registrations.at(-1)).toEqual({
      date: new Date(now).toISOString().slice(0, 10),
      count: 7,
    });
    expect(registrations.slice(0, -1).every(r => r.count === 0)).toBe(true);
    const cohorts = figures.retention as Json[];
    expect(cohorts[0]).toEqual({
      cohortWeek: isoWeek(first),
      size: 4,
      d1: 0.5,
      d7: 0.25,
      d30: null,
    });
    // Today's learners: their first day has not had a tomorrow yet.
    expect(cohorts.at(-1)).toMatchObject({
      cohortWeek: isoWeek(new Date(now)),
      d1: null,
      d7: null,
      d30: null,
    });
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

describe("the analytics read model, rebuilt", () => {
  it("when the read model is lost and the operator rebuilds it from the tables, then every figure is the one the events had built", async () => {
    const routes = [`/courses/${courseId}/analytics`, "/admin/analytics?days=30"];
    const read = () =>
      Promise.all(routes.map(route => c.ok("GET", route, 200, { token: c.adminToken })));
    // Built by the events (the mail still going out settles first).
    const built = await waitFor(async () => {
      const first = await read();
      await new Promise(resolve => setTimeout(resolve, 500));
      return JSON.stringify(await read()) === JSON.stringify(first) ? first : undefined;
    }, 30_000);
    expect((built[0] as Json).enrolments).toBe(5);

    const tables = await sql<{ table_name: string }>(
      c.db.url,
      `SELECT table_name FROM information_schema.tables
       WHERE table_schema = 'progress' AND table_name LIKE 'analytics\\_%'`,
    );
    expect(tables.length).toBeGreaterThanOrEqual(10);
    for (const { table_name } of tables) await sql(c.db.url, `DELETE FROM progress.${table_name}`);
    const lost = await read();
    expect(lost[0]).toMatchObject({ enrolments: 0, activeLearners7d: 0, questions: [] });
    expect(lost[1]).toMatchObject({ dau: 0, mau: 0, retention: [], mail: { sent: 0 } });

    await c.broker.call("progress.rebuildAnalytics");
    expect(await read()).toEqual(built);
  });
});

describe("xAPI statements", () => {
  const ADL = "http://adlnet.gov/expapi/verbs";
  const PUBLIC_URL = "https://learn.example.test";

  it("when a learner reads their record, then it is well-formed xAPI 1.0.3: answered, passed or failed, completed, experienced", async () => {
    const ann = learners.get("Ann")!;
    // A flashcard review of hers, as the review use case records it.
    await sql(
      c.db.url,
      `INSERT INTO progress.review_logs (user_id, card_id, lesson_id, rating, state, due, stability, difficulty, scheduled_days, reviewed_at)
       VALUES ($1, 'card-1', $2, 3, 2, now(), 1, 5, 1, now())`,
      [ann.id, readingId],
    );
    const answer = await c.ok("GET", "/me/xapi", 200, { token: ann.token });
    const statements = answer.statements as Json[];
    expect(statements.flatMap(statementProblems)).toEqual([]);
    const said = statements.map(st => [
      ((st.verb as Json).id as string).replace(`${ADL}/`, ""),
      ((st.object as Json).id as string).replace(PUBLIC_URL, ""),
    ]);
    expect(said).toEqual([
      ["answered", `/lessons/${quizId}/questions/${questionIds.get(PROMPTS[0])}`],
      ["answered", `/lessons/${quizId}/questions/${questionIds.get(PROMPTS[1])}`],
      ["answered", `/lessons/${quizId}/questions/${questionIds.get(PROMPTS[2])}`],
      ["passed", `/lessons/${quizId}`],
      ["completed", `/lessons/${quizId}`],
      ["completed", `/lessons/${readingId}`],
      ["completed", `/courses/${courseId}`],
      ["experienced", `/lessons/${readingId}/cards/card-1`],
    ]);
    expect(new Set(statements.map(st => st.id)).size).toBe(statements.length);
    for (const st of statements)
      expect(st.actor).toEqual({
        objectType: "Agent",
        account: { homePage: PUBLIC_URL, name: ann.id },
      });
    expect(statements[3].result).toEqual({
      success: true,
      score: { scaled: 1, raw: expect.any(Number), min: 0, max: expect.any(Number) },
    });
    expect(statements[7].result).toEqual({ response: "good" });
    // The same record asked again is the same statements (ids included).
    expect((await c.ok("GET", "/me/xapi", 200, { token: ann.token })).statements).toEqual(
      statements,
    );

    // Ben's: a failed attempt, then a passed one.
    const ben = (await c.ok("GET", "/me/xapi", 200, { token: learners.get("Ben")!.token }))
      .statements as Json[];
    const verdicts = ben.filter(st => /passed|failed/.test((st.verb as Json).id as string));
    expect(verdicts.map(st => [(st.verb as Json).id, (st.result as Json).success])).toEqual([
      [`${ADL}/failed`, false],
      [`${ADL}/passed`, true],
    ]);
    expect(((verdicts[0].result as Json).score as Json).scaled).toBeCloseTo(2 / 3, 3);
  });

  it("when ?since= is given, then only later statements come; a bad since is a 422", async () => {
    const ann = learners.get("Ann")!;
    const all = (await c.ok("GET", "/me/xapi", 200, { token: ann.token })).statements as Json[];
    const since = all[3].timestamp as string; // the passed attempt
    const later = (
      await c.ok("GET", `/me/xapi?since=${encodeURIComponent(since)}`, 200, { token: ann.token })
    ).statements as Json[];
    expect(later.map(st => st.id)).toEqual(
      all.filter(st => (st.timestamp as string) > since).map(st => st.id),
    );
    expect(later.length).toBeLessThan(all.length);
    const bad = await c.call("GET", "/me/xapi?since=yesterday-ish", { token: ann.token });
    expect(bad.status).toBe(422);
    expect((await c.call("GET", "/me/xapi")).status).toBe(401);
    // Without XAPI_LRS_URL nothing is announced for a sender.
    const announced = await sql(
      c.db.url,
      `SELECT 1 FROM progress.outbox WHERE type = 'progress.xapi.recorded'`,
    );
    expect(announced).toEqual([]);
  });
});

describe("erasure and the read model", () => {
  it("when a learner's account is deleted, then their share leaves every figure, as a rebuild from the emptied tables has it", async () => {
    const dan = learners.get("Dan")!;
    const route = `/courses/${courseId}/analytics`;
    await c.broker.call("users.remove", { id: dan.id });
    // Dan's one attempt answered the third question right, the first two wrong.
    const q = (i: number) => questionIds.get(PROMPTS[i]);
    const after = await settledFigures(route, c.adminToken, f =>
      expect(f).toMatchObject({ enrolments: 4 }),
    );
    expect(after.questions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ questionId: q(0), answers: 4, correctRate: 1 }),
        expect.objectContaining({ questionId: q(1), answers: 4, correctRate: 0.75 }),
        expect.objectContaining({ questionId: q(2), answers: 4, correctRate: 0.75 }),
      ]),
    );
    expect((after.lessons as Json[])[0]).toEqual({
      lessonId: quizId,
      started: 3,
      completed: 2,
      passRate: 0.5,
    });
    await c.broker.call("progress.rebuildAnalytics");
    expect(await c.ok("GET", route, 200, { token: c.adminToken })).toEqual(after);
  });
});
