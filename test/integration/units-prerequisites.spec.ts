import type { Role } from "../../models/auth.model";
import { uniqueName } from "../support/isolation";
import { http } from "./api-kit";
import { contentStores, startContentProgressNode, type ContentProgressNode } from "./learning-kit";

/**
 * Units and prerequisites end to end, on both content stores: an author groups lessons into
 * units and makes lessons require others (a cycle or a stranger's lesson is a 422 naming the
 * field); a signed-in learner sees each lesson locked or open and completed or not; progress
 * answers 409 LESSON_LOCKED to an attempt or a completion of a locked lesson until its
 * required lessons are done.
 */

interface Json {
  [key: string]: unknown;
}

interface Problem {
  field: string;
  type: string;
  message: string;
}

const stores = contentStores("units");

const QUIZ = [
  {
    id: "q1",
    type: "single",
    prompt: "“Hello” is a…",
    options: ["greeting", "farewell"],
    answer: "greeting",
  },
];

for (const store of stores) {
  describe(`units and prerequisites on ${store.name}`, () => {
    let cluster: ContentProgressNode;
    let api: string;
    const token: Record<string, string> = {};
    const ids: Record<string, string> = {};

    const call = (method: string, route: string, who?: string, json?: unknown) =>
      http(`${api}${route}`, { method, token: who ? token[who] : undefined, json });
    const ok = async (
      method: string,
      route: string,
      status: number,
      who?: string,
      json?: unknown,
    ) => {
      const res = await call(method, route, who, json);
      if (res.status !== status) throw new Error(`${method} ${route}: ${res.status} ${res.text}`);
      return res.body as Json;
    };
    const problems = (body: unknown) => (body as { data: Problem[] }).data;
    const lessonsOf = (course: Json) => course.lessons as Json[];
    const unitsOf = (course: Json) => course.units as Array<Json & { lessons: Json[] }>;
    /** Every lesson of a course answer, the flat list's and the units'. */
    const allLessons = (course: Json) => [
      ...lessonsOf(course),
      ...unitsOf(course).flatMap(u => u.lessons),
    ];
    const lessonIn = (course: Json, id: string) => allLessons(course).find(l => l.id === id)!;

    beforeAll(async () => {
      cluster = await startContentProgressNode("units", await store.env());
      api = cluster.apiUrl;
      const ns = uniqueName("units");
      const sign = async (who: string, roles: Role[]) => {
        token[who] = await cluster.sign(`${ns}-${who}`, roles);
      };
      await sign("author", ["author"]);
      await sign("stranger", ["author"]);
      await sign("learner", ["learner"]);
      await sign("latecomer", ["learner"]);
      ids.course = (
        await ok("POST", "/courses", 201, "author", { title: "First steps", level: "A1" })
      ).id as string;
      ids.otherCourse = (
        await ok("POST", "/courses", 201, "author", { title: "Second steps", level: "A1" })
      ).id as string;
    }, 90_000);

    afterAll(async () => {
      await cluster?.stop();
    }, 60_000);

    it("when an author adds units, then each is 201 and the draft lists them in order; others may not", async () => {
      const second = await ok("POST", `/courses/${ids.course}/units`, 201, "author", {
        title: "Unit 2: Numbers",
        order: 2,
      });
      const first = await ok("POST", `/courses/${ids.course}/units`, 201, "author", {
        title: "Unit 1: Greetings",
        order: 1,
      });
      expect(first).toMatchObject({ title: "Unit 1: Greetings", order: 1, courseId: ids.course });
      ids.unit1 = first.id as string;
      ids.unit2 = second.id as string;

      const learner = await call("POST", `/courses/${ids.course}/units`, "learner", {
        title: "Mine",
        order: 3,
      });
      expect(learner.status).toBe(403);
      const stranger = await call("POST", `/courses/${ids.course}/units`, "stranger", {
        title: "Mine",
        order: 3,
      });
      expect(stranger.status).toBe(404);
      const bad = await call("POST", `/courses/${ids.course}/units`, "author", { order: -1 });
      expect(bad.status).toBe(422);
      expect(
        problems(bad.body)
          .map(p => p.field)
          .sort(),
      ).toEqual(["order", "title"]);

      const draft = await ok("GET", `/courses/${ids.course}`, 200, "author");
      expect(unitsOf(draft).map(u => [u.id, u.title, u.order, u.lessons])).toEqual([
        [ids.unit1, "Unit 1: Greetings", 1, []],
        [ids.unit2, "Unit 2: Numbers", 2, []],
      ]);
    });

    it("when lessons name units and requirements, then unknown ones and cycles are 422 naming the field", async () => {
      const create = (title: string, extra: Json) =>
        call("POST", `/courses/${ids.course}/lessons`, "author", { title, ...extra });
      const noUnit = await create("Nowhere", {
        kind: "lesson",
        body: "Hi",
        unitId: "no-such-unit",
      });
      expect(noUnit.status).toBe(422);
      expect(problems(noUnit.body)).toEqual([
        expect.objectContaining({ field: "unitId", type: "unitExists" }),
      ]);

      ids.hello = (
        await ok("POST", `/courses/${ids.course}/lessons`, 201, "author", {
          title: "Saying hello",
          kind: "lesson",
          order: 1,
          body: "Hello! Hi!",
          unitId: ids.unit1,
        })
      ).id as string;
      const quiz = await ok("POST", `/courses/${ids.course}/lessons`, 201, "author", {
        title: "Greetings quiz",
        kind: "quiz",
        order: 2,
        questions: QUIZ,
        unitId: ids.unit1,
      });
      ids.quiz = quiz.id as string;
      expect(quiz).toMatchObject({ unitId: ids.unit1, requires: [] });
      ids.numbers = (
        await ok("POST", `/courses/${ids.course}/lessons`, 201, "author", {
          title: "One to ten",
          kind: "lesson",
          order: 3,
          body: "One, two, three.",
        })
      ).id as string;
      ids.foreign = (
        await ok("POST", `/courses/${ids.otherCourse}/lessons`, 201, "author", {
          title: "Elsewhere",
          kind: "lesson",
          body: "Text",
        })
      ).id as string;

      const patched = await ok("PATCH", `/lessons/${ids.quiz}`, 200, "author", {
        requires: [ids.hello],
      });
      expect(patched).toMatchObject({ unitId: ids.unit1, requires: [ids.hello] });
      await ok("PATCH", `/lessons/${ids.numbers}`, 200, "author", {
        unitId: ids.unit2,
        requires: [ids.hello],
      });

      const cycle = await call("PATCH", `/lessons/${ids.hello}`, "author", {
        requires: [ids.quiz],
      });
      expect(cycle.status).toBe(422);
      expect(problems(cycle.body)).toEqual([
        expect.objectContaining({
          field: "requires",
          type: "requiresCycle",
          message: expect.stringContaining(`${ids.hello} → ${ids.quiz} → ${ids.hello}`),
        }),
      ]);
      const itself = await call("PATCH", `/lessons/${ids.hello}`, "author", {
        requires: [ids.hello],
      });
      expect(itself.status).toBe(422);
      expect(problems(itself.body)[0]).toMatchObject({ field: "requires", type: "requiresCycle" });
      const foreign = await call("PATCH", `/lessons/${ids.hello}`, "author", {
        requires: [ids.foreign, "no-such-lesson"],
      });
      expect(foreign.status).toBe(422);
      expect(problems(foreign.body).map(p => [p.field, p.type, p.message])).toEqual([
        ["requires", "lessonExists", `"${ids.foreign}" is no lesson of this course.`],
        ["requires", "lessonExists", `"no-such-lesson" is no lesson of this course.`],
      ]);
      const foreignUnit = await call("PATCH", `/lessons/${ids.foreign}`, "author", {
        unitId: ids.unit1,
      });
      expect(foreignUnit.status).toBe(422);
      expect(problems(foreignUnit.body)[0]).toMatchObject({ field: "unitId", type: "unitExists" });

      // Nothing refused was kept.
      const hello = await ok("GET", `/lessons/${ids.hello}`, 200, "author");
      expect(hello).toMatchObject({ unitId: ids.unit1, requires: [] });

      const draft = await ok("GET", `/courses/${ids.course}`, 200, "author");
      expect(lessonsOf(draft)).toEqual([]);
      expect(unitsOf(draft).map(u => u.lessons.map(l => [l.id, l.requires]))).toEqual([
        [
          [ids.hello, []],
          [ids.quiz, [ids.hello]],
        ],
        [[ids.numbers, [ids.hello]]],
      ]);

      // Out of a unit again: back in the flat list.
      await ok("PATCH", `/lessons/${ids.numbers}`, 200, "author", { unitId: null });
      const again = await ok("GET", `/courses/${ids.course}`, 200, "author");
      expect(lessonsOf(again).map(l => l.id)).toEqual([ids.numbers]);
      expect(unitsOf(again)[1].lessons).toEqual([]);
    });

    it("when the course is published, then the public sees the units and a learner each lesson's lock", async () => {
      await ok("POST", `/courses/${ids.course}/publish`, 200, "author");

      const open = await ok("GET", `/courses/${ids.course}`, 200);
      expect(lessonsOf(open).map(l => l.id)).toEqual([ids.numbers]);
      expect(unitsOf(open).map(u => [u.title, u.lessons.map(l => l.id)])).toEqual([
        ["Unit 1: Greetings", [ids.hello, ids.quiz]],
        ["Unit 2: Numbers", []],
      ]);
      expect(allLessons(open).some(l => "locked" in l)).toBe(false);

      const seen = await ok("GET", `/courses/${ids.course}`, 200, "learner");
      expect(
        allLessons(seen)
          .map(l => [l.id, l.locked, l.completed])
          .sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
      ).toEqual(
        [
          [ids.hello, false, false],
          [ids.quiz, true, false],
          [ids.numbers, true, false],
        ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
      );
    });

    it("when a learner attempts or completes a locked lesson, then it is 409 LESSON_LOCKED until its requirements are done", async () => {
      const answers = { answers: [{ questionId: "q1", value: "greeting" }] };
      const attempt = await call("POST", `/lessons/${ids.quiz}/attempts`, "learner", answers);
      expect(attempt.status).toBe(409);
      expect(attempt.body).toMatchObject({
        type: "LESSON_LOCKED",
        data: { id: ids.quiz, requires: [ids.hello] },
      });
      const complete = await call("POST", `/lessons/${ids.numbers}/complete`, "learner");
      expect(complete.status).toBe(409);
      expect(complete.body).toMatchObject({ type: "LESSON_LOCKED" });
      expect((await ok("GET", "/me/progress", 200, "learner")).xp).toBe(0);

      await ok("POST", `/lessons/${ids.hello}/complete`, 201, "learner");
      const seen = await ok("GET", `/courses/${ids.course}`, 200, "learner");
      expect(lessonIn(seen, ids.hello)).toMatchObject({ locked: false, completed: true });
      expect(lessonIn(seen, ids.quiz)).toMatchObject({ locked: false, completed: false });

      const passed = await ok("POST", `/lessons/${ids.quiz}/attempts`, 201, "learner", answers);
      expect(passed).toMatchObject({ passed: true });
      await ok("POST", `/lessons/${ids.numbers}/complete`, 201, "learner");
      const done = await ok("GET", `/courses/${ids.course}`, 200, "learner");
      expect(allLessons(done).every(l => l.locked === false && l.completed === true)).toBe(true);

      // Another learner's completions are theirs alone.
      const other = await ok("GET", `/courses/${ids.course}`, 200, "latecomer");
      expect(lessonIn(other, ids.quiz)).toMatchObject({ locked: true, completed: false });
    });

    it("when a required lesson is deleted, then it locks nothing any more, in the draft and the live version", async () => {
      await ok("DELETE", `/lessons/${ids.hello}`, 204, "author");
      expect(await ok("GET", `/lessons/${ids.quiz}`, 200, "author")).toMatchObject({
        requires: [],
      });
      const seen = await ok("GET", `/courses/${ids.course}`, 200, "latecomer");
      expect(lessonIn(seen, ids.numbers)).toMatchObject({ locked: false, requires: [] });
      await ok("POST", `/lessons/${ids.numbers}/complete`, 201, "latecomer");
    });
  });
}
