import type { Role } from "../../models/auth.model";
import { http } from "./api-kit";
import { contentStores, startContentProgressNode, type ContentProgressNode } from "./learning-kit";

/**
 * Skills end to end through the gateway, on both content stores: authors tag lessons and
 * questions (a bad tag is a 422 naming its field), every graded answer moves the learner's
 * mastery (GET /me/skills).
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
  });
}
