import type { AuthUser, Role } from "../../models/auth.model";
import { startLearningCluster, type Json, type LearningCluster } from "./learning-kit";

/**
 * A signed-in learner's GET /courses/:id, answered by the gateway from its own copies (the
 * live version, the learner's completed lessons), on a real two-node cluster: gateway, users
 * and content on one node, progress on the other. The answer is byte for byte content's own
 * for the same caller, before and after the learner completes lessons (through this gateway,
 * or past it: progress's broadcast alone), and whoever may see a draft is answered by content.
 */

const QUIZ = [
  {
    id: "q1",
    type: "single",
    prompt: "“Hello” is a…",
    options: ["greeting", "farewell"],
    answer: "greeting",
  },
];

let c: LearningCluster;
let courseId: string;
const lesson: Record<string, string> = {};
let author: { id: string; token: string };

/** The caller the gateway puts in the meta for a token (what content reads of it). */
function userOf(token: string): AuthUser {
  const claims = JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString()) as {
    sub: string;
    roles: Role[];
  };
  return { id: claims.sub, roles: claims.roles };
}

/** Content's own answer to `user`, serialized as the gateway writes a body. */
async function contentAnswer(user: AuthUser, params: Json = {}): Promise<string> {
  const answer = await c.broker.call(
    "content.getCourse",
    { id: courseId, ...params },
    { meta: { user } },
  );
  return JSON.stringify(answer);
}

async function gatewayAnswer(token: string, query = ""): Promise<string> {
  const res = await c.call("GET", `/courses/${courseId}${query}`, { token });
  expect(res.status).toBe(200);
  return res.text;
}

/** How many times content.getCourse ran on the gateway's node (the metrics count each call). */
function getCourseCalls(): number {
  const metric = c.broker.metrics.getMetric("moleculer.request.total");
  return (metric?.snapshot() ?? [])
    .filter(item => item.labels.action === "content.getCourse")
    .reduce((sum, item) => sum + ("value" in item ? Number(item.value) : 0), 0);
}

type Lesson = Json & { id: string; locked?: boolean; completed?: boolean };

function lessonsOf(body: string): Lesson[] {
  const course = JSON.parse(body) as { lessons: Lesson[]; units: Array<{ lessons: Lesson[] }> };
  return [...course.lessons, ...course.units.flatMap(u => u.lessons)];
}

function stateOf(body: string, id: string): Pick<Lesson, "locked" | "completed"> | undefined {
  const found = lessonsOf(body).find(l => l.id === id);
  return found && { locked: found.locked, completed: found.completed };
}

beforeAll(async () => {
  c = await startLearningCluster("learnerreads", "https://learn.example.test");
  author = await c.author("Ada Author");
  const as = { token: author.token };
  courseId = (
    await c.ok("POST", "/courses", 201, { ...as, json: { title: "Small talk", level: "A2" } })
  ).id as string;
  const unit = await c.ok("POST", `/courses/${courseId}/units`, 201, {
    ...as,
    json: { title: "Unit 1: Weather", order: 1 },
  });
  const add = async (json: Json) =>
    (await c.ok("POST", `/courses/${courseId}/lessons`, 201, { ...as, json })).id as string;
  lesson.intro = await add({ title: "Openers", kind: "lesson", order: 1, body: "Nice day!" });
  lesson.weather = await add({
    title: "Rain and sun",
    kind: "lesson",
    order: 2,
    body: "It is raining.",
    unitId: unit.id,
  });
  lesson.quiz = await add({ title: "Check", kind: "quiz", order: 3, questions: QUIZ });
  await c.ok("PATCH", `/lessons/${lesson.weather}`, 200, {
    ...as,
    json: { requires: [lesson.intro] },
  });
  await c.ok("PATCH", `/lessons/${lesson.quiz}`, 200, {
    ...as,
    json: { requires: [lesson.weather] },
  });
  await c.ok("POST", `/courses/${courseId}/publish`, 200, as);
}, 120_000);

afterAll(async () => {
  await c?.stop();
}, 60_000);

describe("a signed-in learner's course read at the gateway", () => {
  it("when a learner reads a live course, then the gateway answers content's own answer for them without asking content", async () => {
    const learner = await c.register("Lea Learner");
    const user = userOf(learner.token);
    expect(user.roles).toEqual(["learner"]);

    const before = getCourseCalls();
    const first = await gatewayAnswer(learner.token);
    const second = await gatewayAnswer(learner.token);
    expect(getCourseCalls()).toBe(before);

    const expected = await contentAnswer(user);
    expect(first).toBe(expected);
    expect(second).toBe(expected);
    expect(stateOf(first, lesson.intro)).toEqual({ locked: false, completed: false });
    expect(stateOf(first, lesson.weather)).toEqual({ locked: true, completed: false });
    expect(stateOf(first, lesson.quiz)).toEqual({ locked: true, completed: false });
  });

  it("when the learner completes lessons through the gateway, then their very next read shows each, as content's does", async () => {
    const learner = await c.register("Rui Reader");
    const user = userOf(learner.token);
    await gatewayAnswer(learner.token);

    await c.ok("POST", `/lessons/${lesson.intro}/complete`, 201, { token: learner.token });
    const afterIntro = await gatewayAnswer(learner.token);
    expect(stateOf(afterIntro, lesson.intro)).toEqual({ locked: false, completed: true });
    expect(stateOf(afterIntro, lesson.weather)).toEqual({ locked: false, completed: false });
    expect(afterIntro).toBe(await contentAnswer(user));

    await c.ok("POST", `/lessons/${lesson.weather}/complete`, 201, { token: learner.token });
    const passed = await c.ok("POST", `/lessons/${lesson.quiz}/attempts`, 201, {
      token: learner.token,
      json: { answers: [{ questionId: "q1", value: "greeting" }] },
    });
    expect(passed).toMatchObject({ passed: true });
    const done = await gatewayAnswer(learner.token);
    expect(lessonsOf(done).every(l => l.locked === false && l.completed === true)).toBe(true);
    expect(done).toBe(await contentAnswer(user));
  });

  it("when a completion reaches progress past this gateway, then progress's broadcast alone makes the next read show it", async () => {
    const learner = await c.register("Pia Past");
    const user = userOf(learner.token);
    expect(stateOf(await gatewayAnswer(learner.token), lesson.intro)).toEqual({
      locked: false,
      completed: false,
    });

    await c.broker.call("progress.completeLesson", { id: lesson.intro }, { meta: { user } });
    const seen = await gatewayAnswer(learner.token);
    expect(stateOf(seen, lesson.intro)).toEqual({ locked: false, completed: true });
    expect(seen).toBe(await contentAnswer(user));
  });

  it("when the author reads their course, then content answers the draft; with view=published, the gateway the learner's view", async () => {
    const user = userOf(author.token);
    const before = getCourseCalls();
    const draft = await gatewayAnswer(author.token);
    expect(getCourseCalls()).toBe(before + 1);
    expect(JSON.parse(draft)).toMatchObject({ id: courseId, ownerId: author.id });
    expect(draft).toBe(await contentAnswer(user));
    expect(lessonsOf(draft).some(l => "locked" in l)).toBe(false);

    const live = await gatewayAnswer(author.token, "?view=published");
    expect(live).toBe(await contentAnswer(user, { view: "published" }));
    expect(stateOf(live, lesson.intro)).toEqual({ locked: false, completed: false });
  });

  it("when a learner asks for a course that is not live, then content's own 404 answers", async () => {
    const learner = await c.register("Noa Nowhere");
    const res = await c.call("GET", "/courses/no-such-course", { token: learner.token });
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ type: "COURSE_NOT_FOUND" });
  });
});
