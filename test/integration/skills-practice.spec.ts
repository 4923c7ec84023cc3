import type { Role } from "../../models/auth.model";
import { http } from "./api-kit";
import { contentStores, startContentProgressNode, type ContentProgressNode } from "./learning-kit";

/**
 * Skills end to end through the gateway, on both content stores: authors tag lessons and
 * questions (a bad tag is a 422 naming its field), every graded answer moves the learner's
 * mastery (GET /me/skills), practice quizzes come from completed quizzes, weakest skills first,
 * and are graded once with bounded XP (POST /me/practice, POST /lessons/:id/attempts).
 */

interface Json {
  [key: string]: unknown;
}

const single = (id: string, answer: string, wrong: string, skills?: string[]) => ({
  id,
  type: "single",
  prompt: `Pick ${answer}`,
  options: [answer, wrong],
  answer,
  ...(skills ? { skills } : {}),
});

const QUIZ = {
  title: "To be and articles",
  kind: "quiz",
  skills: ["greetings"],
  questions: [
    single("be-1", "is", "are", ["verb-to-be"]),
    single("be-2", "am", "is", ["verb-to-be"]),
    { id: "hello", type: "text", prompt: "Say hello", answer: "hello" },
    single("article", "an", "a", ["articles"]),
  ],
};

/** The right answer to each of QUIZ's prompts. */
const RIGHT: Record<string, string> = Object.fromEntries(
  QUIZ.questions.map(q => [q.prompt, q.answer]),
);

for (const store of contentStores("skills")) {
  describe(`skills on ${store.name}`, () => {
    let cluster: ContentProgressNode;
    let api: string;
    const token: Record<string, string> = {};
    let courseId: string;
    let quizId: string;

    const call = (method: string, path: string, who: string, json?: unknown) =>
      http(`${api}${path}`, { method, token: token[who], json });
    async function ok<T = Json>(
      method: string,
      path: string,
      who: string,
      status: number,
      json?: unknown,
    ): Promise<T> {
      const res = await call(method, path, who, json);
      if (res.status !== status) throw new Error(`${method} ${path}: ${res.status} ${res.text}`);
      return res.body as T;
    }

    beforeAll(async () => {
      cluster = await startContentProgressNode("skills", await store.env());
      api = cluster.apiUrl;
      const sign = async (who: string, roles: Role[]) => {
        token[who] = await cluster.sign(`${who}-${store.name}`, roles);
      };
      await sign("author", ["author"]);
      await sign("learner", ["learner"]);
      await sign("other", ["learner"]);
      await sign("newcomer", ["learner"]);
      courseId = (
        await ok("POST", "/courses", "author", 201, { title: "Everyday English", level: "A1" })
      ).id as string;
    }, 90_000);

    afterAll(async () => {
      await cluster?.stop();
    }, 60_000);

    it("when a skill is not a kebab-case tag, then the 422 names the field and nothing is created", async () => {
      const bad = [
        [{ ...QUIZ, skills: ["Present Simple"] }, "skills[0]"],
        [{ ...QUIZ, skills: ["greetings", "greetings"] }, "skills"],
        [
          { ...QUIZ, questions: [{ ...QUIZ.questions[0], skills: ["ok-tag", "under_score"] }] },
          "questions[0].skills[1]",
        ],
      ] as const;
      for (const [lesson, field] of bad) {
        const res = await call("POST", `/courses/${courseId}/lessons`, "author", lesson);
        expect(res.status).toBe(422);
        const data = (res.body as { data: Array<{ field: string; message: string }> }).data;
        expect(data.map(d => d.field)).toEqual([field]);
      }
      const course = await ok("GET", `/courses/${courseId}`, "author", 200);
      expect(course.lessons).toEqual([]);
    });

    it("when an author tags a quiz, then the author sees the tags and the learner the lesson's", async () => {
      quizId = (await ok("POST", `/courses/${courseId}/lessons`, "author", 201, QUIZ)).id as string;
      const draft = await ok("GET", `/lessons/${quizId}`, "author", 200);
      expect(draft.skills).toEqual(["greetings"]);
      const questions = draft.questions as Json[];
      expect(questions.map(q => q.skills)).toEqual([
        ["verb-to-be"],
        ["verb-to-be"],
        undefined,
        ["articles"],
      ]);
      const patched = await ok("PATCH", `/lessons/${quizId}`, "author", 200, {
        skills: ["greetings", "introductions"],
      });
      expect(patched.skills).toEqual(["greetings", "introductions"]);
      await ok("POST", `/courses/${courseId}/publish`, "author", 200);
      const read = await ok("GET", `/lessons/${quizId}`, "learner", 200);
      expect(read.skills).toEqual(["greetings", "introductions"]);
      for (const q of read.questions as Json[]) expect(q).not.toHaveProperty("answer");
    });

    it("when a learner's answers are graded, then each skill's mastery moves with them", async () => {
      expect(await ok("GET", "/me/skills", "learner", 200)).toEqual([]);
      const graded = await ok("POST", `/lessons/${quizId}/attempts`, "learner", 201, {
        answers: [
          { questionId: "be-1", value: "is" },
          { questionId: "be-2", value: "am" },
          { questionId: "hello", value: "hello" },
          { questionId: "article", value: "a" },
        ],
      });
      expect(graded).toMatchObject({ score: 30, passed: false });
      const skills = await ok<Json[]>("GET", "/me/skills", "learner", 200);
      const bySkill = Object.fromEntries(skills.map(s => [s.skill, s]));
      expect(Object.keys(bySkill)).toEqual([
        "articles",
        "greetings",
        "introductions",
        "verb-to-be",
      ]);
      // The question without its own skills counts for the lesson's.
      expect(bySkill.greetings).toMatchObject({ attempts: 1 });
      expect(bySkill.introductions).toMatchObject({ attempts: 1 });
      expect(bySkill["verb-to-be"]).toMatchObject({ attempts: 2 });
      expect(bySkill.articles).toMatchObject({ attempts: 1 });
      expect(bySkill["verb-to-be"].mastery).toBeGreaterThan(bySkill.greetings.mastery as number);
      expect(bySkill.greetings.mastery).toBeGreaterThan(0.5);
      expect(bySkill.articles.mastery).toBeLessThan(0.5);
      expect(Date.parse(bySkill.articles.lastPracticedAt as string)).not.toBeNaN();
      // Another learner's mastery is their own.
      expect(await ok("GET", "/me/skills", "other", 200)).toEqual([]);
    });

    const rightAnswers = (questions: Json[]) =>
      questions.map(q => ({ questionId: q.id, value: RIGHT[q.prompt as string] }));

    it("when a learner asks for practice before completing a quiz, or names a bad skill, then 409 and 422 say why", async () => {
      const none = await call("POST", "/me/practice", "learner", {});
      expect(none.status).toBe(409);
      expect(none.body).toMatchObject({ code: 409, type: "NOTHING_TO_PRACTISE" });
      const bad = await call("POST", "/me/practice", "learner", { skill: "Verb To Be" });
      expect(bad.status).toBe(422);
      expect((bad.body as { data: Array<{ field: string }> }).data.map(d => d.field)).toEqual([
        "skill",
      ]);
    });

    it("when the learner has completed the quiz, then practice serves its questions without keys, weakest skill first", async () => {
      const passed = await ok("POST", `/lessons/${quizId}/attempts`, "learner", 201, {
        answers: QUIZ.questions.map(q => ({ questionId: q.id, value: q.answer })),
      });
      expect(passed).toMatchObject({ passed: true });
      const quiz = await ok<{ id: string; questions: Json[] }>(
        "POST",
        "/me/practice",
        "learner",
        201,
        {},
      );
      expect(quiz.questions.map(q => q.id)).toEqual(["q1", "q2", "q3", "q4"]);
      for (const q of quiz.questions) {
        expect(q).not.toHaveProperty("answer");
        expect(q).not.toHaveProperty("explanation");
      }
      // "articles" was answered wrong once: its question comes first.
      expect(quiz.questions[0].prompt).toBe("Pick an");
      const one = await ok<{ questions: Json[] }>("POST", "/me/practice", "learner", 201, {
        skill: "verb-to-be",
      });
      expect(one.questions.map(q => q.prompt).sort()).toEqual(["Pick am", "Pick is"]);
      const unknown = await call("POST", "/me/practice", "learner", { skill: "cooking" });
      expect(unknown.status).toBe(409);
      expect(unknown.body).toMatchObject({
        type: "NOTHING_TO_PRACTISE",
        data: { skill: "cooking" },
      });
    });

    it("when a practice quiz is graded, then it pays practice XP once, moves mastery, and is not graded again", async () => {
      const quiz = await ok<{ id: string; questions: Json[] }>(
        "POST",
        "/me/practice",
        "learner",
        201,
        { skill: "verb-to-be" },
      );
      const path = `/lessons/${quiz.id}/attempts`;
      const partial = await call("POST", path, "learner", {
        answers: rightAnswers(quiz.questions).slice(0, 1),
      });
      expect(partial.status).toBe(422);
      // Another learner cannot grade it: to them the id names nothing.
      expect(
        (await call("POST", path, "other", { answers: rightAnswers(quiz.questions) })).status,
      ).toBe(404);
      const before = await ok<Json[]>("GET", "/me/skills", "learner", 200);
      const xpBefore = (await ok("GET", "/me/progress", "learner", 200)).xp as number;
      const keyed = () =>
        http(`${api}${path}`, {
          method: "POST",
          token: token.learner,
          headers: { "Idempotency-Key": `practice-${quiz.id}` },
          json: { answers: rightAnswers(quiz.questions) },
        });
      const first = await keyed();
      expect(first.status).toBe(201);
      const graded = first.body as Json;
      expect(graded).toMatchObject({
        lessonId: quiz.id,
        score: 20,
        maxScore: 20,
        passed: true,
        xpEarned: 4,
      });
      expect((await ok("GET", "/me/progress", "learner", 200)).xp).toBe(xpBefore + 4);
      const after = await ok<Json[]>("GET", "/me/skills", "learner", 200);
      const attemptsOf = (rows: Json[], skill: string) =>
        rows.find(r => r.skill === skill)?.attempts;
      expect(attemptsOf(after, "verb-to-be")).toBe(
        (attemptsOf(before, "verb-to-be") as number) + 2,
      );
      expect(attemptsOf(after, "articles")).toBe(attemptsOf(before, "articles"));
      // A retry with the same Idempotency-Key answers the same, paying nothing again.
      const retried = await keyed();
      expect([retried.status, retried.headers.get("idempotent-replayed")]).toEqual([201, "true"]);
      expect(retried.body).toEqual(graded);
      expect((await ok("GET", "/me/progress", "learner", 200)).xp).toBe(xpBefore + 4);
      const again = await call("POST", path, "learner", { answers: rightAnswers(quiz.questions) });
      expect(again.status).toBe(409);
      expect(again.body).toMatchObject({ type: "PRACTICE_GRADED" });
    });

    it("when a learner practises all day, then practice pays at most 20 a quiz and 60 a local day", async () => {
      let paid = 4; // the quiz graded above, today
      const earned: number[] = [];
      for (let round = 0; round < 8; round += 1) {
        const quiz = await ok<{ id: string; questions: Json[] }>(
          "POST",
          "/me/practice",
          "learner",
          201,
          {},
        );
        const graded = await ok("POST", `/lessons/${quiz.id}/attempts`, "learner", 201, {
          answers: rightAnswers(quiz.questions),
        });
        earned.push(graded.xpEarned as number);
        paid += graded.xpEarned as number;
      }
      // Four right answers pay 8; seven quizzes reach the day's 60, the eighth pays nothing.
      expect(earned).toEqual([8, 8, 8, 8, 8, 8, 8, 0]);
      expect(paid).toBe(60);
    });

    it("when a learner asks what next, then due reviews, the weakest skill, the next open lesson and a course at their level come in that order", async () => {
      const first = await ok<Json[]>("GET", "/me/next", "newcomer", 200);
      expect(first).toEqual([
        { kind: "course", courseId, reason: "A course at your level (A1): Everyday English" },
      ]);
      const path = await ok("POST", "/courses", "author", 201, {
        title: "Next steps",
        level: "A1",
      });
      const pathId = path.id as string;
      const lesson = (body: Json) =>
        ok("POST", `/courses/${pathId}/lessons`, "author", 201, body).then(l => l.id as string);
      const reading = await lesson({ title: "Read me", kind: "lesson", order: 1, body: "Hi" });
      const quiz = await lesson({
        title: "Check me",
        kind: "quiz",
        order: 2,
        requires: [reading],
        skills: ["small-talk"],
        questions: [single("s1", "yes", "no")],
      });
      await lesson({
        title: "Cards",
        kind: "flashcards",
        order: 3,
        cards: [
          { front: "hi", back: "hello" },
          { front: "bye", back: "goodbye" },
        ],
      });
      await ok("POST", `/courses/${pathId}/publish`, "author", 200);
      await ok("POST", `/courses/${pathId}/enroll`, "newcomer", 201);

      const enrolled = await ok<Json[]>("GET", "/me/next", "newcomer", 200);
      expect(enrolled).toEqual([
        { kind: "review", count: 2, reason: "2 flashcards are due for review" },
        {
          kind: "lesson",
          courseId: pathId,
          lessonId: reading,
          reason: "Next in Next steps: Read me",
        },
        { kind: "course", courseId, reason: "A course at your level (A1): Everyday English" },
      ]);
      // The quiz is locked until the reading is done; then it is next.
      await ok("POST", `/lessons/${reading}/complete`, "newcomer", 201);
      await ok("POST", `/lessons/${quiz}/attempts`, "newcomer", 201, {
        answers: [{ questionId: "s1", value: "no" }],
      });
      const after = await ok<Json[]>("GET", "/me/next", "newcomer", 200);
      expect(after.map(s => s.kind)).toEqual(["review", "practice", "lesson", "course"]);
      expect(after[1]).toEqual({
        kind: "practice",
        skill: "small-talk",
        reason: "Practise small-talk: your weakest skill (38 % mastery)",
      });
      expect(after[2]).toMatchObject({ kind: "lesson", lessonId: quiz });
    });
  });
}
