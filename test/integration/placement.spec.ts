import { PLACEMENT_BANK } from "../../seeds/placement-bank";
import { answerAs, PLACEMENT_KEYS as KEYS } from "../support/placement-answers";
import { http } from "./api-kit";
import { startLearningCluster, type Json, type LearningCluster } from "./learning-kit";
import { PASSWORD, sql, waitFor } from "./users.support";

/**
 * The placement test on the real services (gateway, users and content on one node; progress and
 * notify on the other; NATS, RabbitMQ, Redis, PostgreSQL): content loads its bank when it
 * starts; a learner starts a test and answers until it ends with a level; users stores that
 * level from progress's durable event and GET /me shows it; nobody else can answer the test;
 * bad answers are 422, answers to another question or to a finished test 409.
 */

let c: LearningCluster;

interface Asked {
  id: string;
  type: string;
  prompt: string;
  options?: string[];
}

beforeAll(async () => {
  c = await startLearningCluster("placement", "https://learn.example.test");
}, 120_000);

afterAll(async () => {
  await c?.stop();
}, 30_000);

describe("the placement test", () => {
  let learner: { id: string; token: string };
  let testId: string;
  let lastQuestion: Asked;
  let result: { level: string; confidence: number };

  it("when content has started, then the bank holds at least 12 questions a level from A1 to C1 with their keys, for progress only", async () => {
    const bank =
      await c.action<Array<Json & { level: string; skills: string[] }>>("content.placementBank");
    expect(bank.length).toBe(PLACEMENT_BANK.length);
    for (const level of ["A1", "A2", "B1", "B2", "C1"])
      expect(bank.filter(item => item.level === level).length).toBeGreaterThanOrEqual(12);
    expect(bank.every(item => KEYS.has(item.id as string) && item.answer !== undefined)).toBe(true);
    const routed = await c.call("GET", "/placement/bank");
    expect(routed.status).toBe(404);
  });

  it("when a learner who has not been placed starts a test, then it is 201 with a question and no answer key, and GET /me shows level null", async () => {
    learner = await c.register("Placed Learner");
    const me = await c.ok("GET", "/me", 200, { token: learner.token });
    expect(me.level).toBeNull();
    const started = await c.ok("POST", "/placement", 201, { token: learner.token });
    testId = started.id as string;
    lastQuestion = started.question as Asked;
    // The first question is drawn at random among the level's; only a choice has options.
    expect(Object.keys(lastQuestion).sort()).toEqual(
      lastQuestion.type === "single"
        ? ["id", "options", "prompt", "type"]
        : ["id", "prompt", "type"],
    );
    expect(KEYS.get(lastQuestion.id)?.level).toBe("B1");
  });

  it("when someone else answers that test, then it is 404 as for a test that does not exist", async () => {
    const stranger = await c.register("Curious Stranger");
    const res = await c.call("POST", `/placement/${testId}/answers`, {
      token: stranger.token,
      json: { questionId: lastQuestion.id, value: answerAs("C1", lastQuestion) },
    });
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ code: 404, type: "PLACEMENT_NOT_FOUND" });
    const unknown = await c.call("POST", `/placement/no-such-test/answers`, {
      token: learner.token,
      json: { questionId: lastQuestion.id, value: "x" },
    });
    expect(unknown.status).toBe(404);
  });

  it("when the answer is malformed, then it is 422 naming the field, and the question stays asked", async () => {
    const cases: Array<[Json, string]> = [
      [{ value: "is" }, "questionId"],
      [{ questionId: lastQuestion.id }, "value"],
      [{ questionId: lastQuestion.id, value: 42 }, "value"],
      [{ questionId: lastQuestion.id, value: "is", level: "C2" }, "level"],
    ];
    for (const [json, field] of cases) {
      const res = await c.call("POST", `/placement/${testId}/answers`, {
        token: learner.token,
        json,
      });
      expect(res.status).toBe(422);
      expect(res.body).toMatchObject({ name: "ValidationError", type: "VALIDATION_ERROR" });
      expect(JSON.stringify(res.body.data)).toContain(field);
    }
    const other = [...KEYS.keys()].find(id => id !== lastQuestion.id)!;
    const wrong = await c.call("POST", `/placement/${testId}/answers`, {
      token: learner.token,
      json: { questionId: other, value: "is" },
    });
    expect(wrong.status).toBe(409);
    expect(wrong.body).toMatchObject({ code: 409, type: "PLACEMENT_QUESTION_MISMATCH" });
  });

  it("when a B1 learner answers until the end, then at most 20 questions come, none twice, and the result is a level around B1", async () => {
    const seen = new Set<string>([lastQuestion.id]);
    for (let answered = 1; ; answered += 1) {
      expect(answered).toBeLessThanOrEqual(20);
      const step = await c.ok("POST", `/placement/${testId}/answers`, 200, {
        token: learner.token,
        json: { questionId: lastQuestion.id, value: answerAs("B1", lastQuestion) },
      });
      if (step.result) {
        result = step.result as typeof result;
        break;
      }
      lastQuestion = step.question as Asked;
      expect(seen.has(lastQuestion.id)).toBe(false);
      expect(lastQuestion).not.toHaveProperty("answer");
      seen.add(lastQuestion.id);
    }
    expect(["B1", "B2"]).toContain(result.level);
    expect(result.confidence).toBeGreaterThan(0);
    expect(result.confidence).toBeLessThanOrEqual(1);
  });

  it("when the learner has been placed, then GET /me/next suggests courses at the placed level, not the A1 fallback", async () => {
    const next = await c.ok("GET", "/me/next", 200, { token: learner.token });
    const steps = Object.values(next) as Array<{ kind: string; reason: string }>;
    const courses = steps.filter(step => step.kind === "course");
    for (const step of courses) expect(step.reason).toContain(`(${result.level})`);
    expect(courses.some(step => step.reason.includes("(A1)"))).toBe(false);
  });

  it("when the test has ended, then GET /me shows its level and progress keeps it as the placed level", async () => {
    const me = await waitFor(async () => {
      const profile = await c.ok("GET", "/me", 200, { token: learner.token });
      return profile.level ? profile : undefined;
    }, 20_000);
    expect(me.level).toBe(result.level);
    const placed = await c.action<Json | null>("progress.placedLevel", { userId: learner.id });
    expect(placed).toMatchObject({ level: result.level, confidence: result.confidence });
  });

  it("when a finished test is answered again, then it is 409", async () => {
    const res = await c.call("POST", `/placement/${testId}/answers`, {
      token: learner.token,
      json: { questionId: lastQuestion.id, value: "is" },
    });
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ code: 409, type: "PLACEMENT_FINISHED" });
  });

  it("when a learner who knows everything retakes the test, then the new level replaces the old one on the profile", async () => {
    let step = await c.ok("POST", "/placement", 201, { token: learner.token });
    let question = step.question as Asked;
    const id = step.id as string;
    for (;;) {
      step = await c.ok("POST", `/placement/${id}/answers`, 200, {
        token: learner.token,
        json: { questionId: question.id, value: answerAs("C1", question) },
      });
      if (step.result) break;
      question = step.question as Asked;
    }
    const level = (step.result as Json).level as string;
    expect(["C1", "C2"]).toContain(level);
    await waitFor(async () => {
      const profile = await c.ok("GET", "/me", 200, { token: learner.token });
      return profile.level === level;
    }, 20_000);
  });

  it("when a start is retried with the same Idempotency-Key, then the same test answers, and without a token it is 401", async () => {
    const headers = { "Idempotency-Key": `placement-${learner.id}` };
    const first = await http(`${c.apiUrl}/placement`, {
      method: "POST",
      token: learner.token,
      headers,
    });
    const again = await http(`${c.apiUrl}/placement`, {
      method: "POST",
      token: learner.token,
      headers,
    });
    expect([first.status, again.status]).toEqual([201, 201]);
    expect((again.body as Json).id).toBe((first.body as Json).id);
    expect((await c.call("POST", "/placement")).status).toBe(401);
  });

  it("when the learner erases their account, then their placement tests go with it", async () => {
    const tests = () =>
      sql(c.db.url, "SELECT id FROM progress.placement_tests WHERE user_id = $1", [learner.id]);
    expect((await tests()).length).toBeGreaterThanOrEqual(2);
    await c.ok("DELETE", "/me", 202, { token: learner.token, json: { password: PASSWORD } });
    await waitFor(async () => (await tests()).length === 0, 20_000);
  });
});
