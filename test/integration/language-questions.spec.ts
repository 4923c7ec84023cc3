import type { Role } from "../../models/auth.model";
import { http, TEST_PUBLIC_URL } from "./api-kit";
import { contentStores, startContentProgressNode, type ContentProgressNode } from "./learning-kit";

/**
 * The language question types end to end: an author writes cloze, match, translate and listen
 * questions through the gateway (each badly shaped one is a 422 naming its field), a learner
 * reads them without keys and is graded by progress with the slip allowance.
 */

interface Json {
  [key: string]: unknown;
}

/** A tenth of a second of silence as a WAV file: audio that content's sniffing recognises. */
function silentWav(): Buffer {
  const samples = Buffer.alloc(800);
  const header = Buffer.alloc(44);
  header.write("RIFF", 0);
  header.writeUInt32LE(36 + samples.length, 4);
  header.write("WAVEfmt ", 8);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(8000, 24);
  header.writeUInt32LE(8000, 28);
  header.writeUInt16LE(1, 32);
  header.writeUInt16LE(8, 34);
  header.write("data", 36);
  header.writeUInt32LE(samples.length, 40);
  return Buffer.concat([header, samples]);
}

/** Both content stores: FerretDB refuses nested arrays (a match's pairs), so each is tried. */
const stores = contentStores("langq");

for (const store of stores) {
  describe(store.name, () => {
    let cluster: ContentProgressNode;
    let api: string;
    const token: Record<string, string> = {};
    let audioId: string;
    let courseId: string;

    const questions = () => [
      {
        id: "cloze",
        type: "cloze",
        prompt: "She {{1}} taller {{2}} her brother.",
        answer: ["is", ["than"]],
      },
      {
        id: "match",
        type: "match",
        prompt: "Match the opposites",
        options: { left: ["hot", "big", "fast"], right: ["cold", "small", "slow"] },
        answer: [
          ["hot", "cold"],
          ["big", "small"],
          ["fast", "slow"],
        ],
      },
      {
        id: "translate",
        type: "translate",
        prompt: "Je voudrais un café, s'il vous plaît.",
        answer: ["I would like a coffee, please", "I'd like a coffee, please"],
        explanation: "would like is the polite want",
      },
      {
        id: "listen",
        type: "listen",
        prompt: "Write what you hear.",
        media: audioId,
        answer: ["Nice to meet you"],
      },
    ];

    const createQuiz = (qs: unknown[]) =>
      http(`${api}/courses/${courseId}/lessons`, {
        method: "POST",
        token: token.author,
        json: { title: "Comparatives", kind: "quiz", questions: qs },
      });

    beforeAll(async () => {
      cluster = await startContentProgressNode("langq", await store.env());
      api = cluster.apiUrl;
      const sign = async (who: string, roles: Role[]) => {
        token[who] = await cluster.sign(who, roles);
      };
      await sign("author", ["author"]);
      await sign("learner", ["learner"]);
      const form = new FormData();
      form.append("file", new Blob([silentWav()], { type: "audio/wav" }), "meet.wav");
      const upload = await http(`${api}/media`, {
        method: "POST",
        token: token.author,
        body: form,
      });
      expect(upload.status).toBe(201);
      audioId = (upload.body as { id: string }).id;
      const course = await http(`${api}/courses`, {
        method: "POST",
        token: token.author,
        json: { title: "Comparing things", level: "A2" },
      });
      courseId = (course.body as { id: string }).id;
    }, 90_000);

    afterAll(async () => {
      await cluster?.stop();
    }, 60_000);

    describe(`language question types on ${store.name}`, () => {
      it("when a question of a new type is badly shaped, then the 422 names its field and nothing is created", async () => {
        const [cloze, match, translate, listen] = questions();
        const bad = [
          [{ ...cloze, answer: ["is"] }, "questions[0].answer"],
          [{ ...match, answer: [["hot", "slow"]] }, "questions[0].answer"],
          [{ ...translate, options: ["a", "b"] }, "questions[0].options"],
          [{ ...listen, media: undefined }, "questions[0].media"],
        ] as const;
        for (const [question, field] of bad) {
          const res = await createQuiz([question]);
          expect(res.status).toBe(422);
          const fields = (res.body as { data: Array<{ field: string }> }).data.map(d => d.field);
          expect(fields).toEqual([field]);
        }
        const missing = await createQuiz([{ ...listen, media: "no-such-media" }]);
        expect(missing.status).toBe(422);
        const course = await http(`${api}/courses/${courseId}`, { token: token.author });
        expect((course.body as { lessons: unknown[] }).lessons).toEqual([]);
      });

      it("when a learner reads and answers the published quiz, then no key is shown and slips are typos", async () => {
        const created = await createQuiz(questions());
        expect(created.status).toBe(201);
        const lessonId = (created.body as { id: string }).id;
        const published = await http(`${api}/courses/${courseId}/publish`, {
          method: "POST",
          token: token.author,
        });
        expect(published.status).toBe(200);

        const read = await http(`${api}/lessons/${lessonId}`, { token: token.learner });
        expect(read.status).toBe(200);
        const seen = (read.body as { questions: Json[] }).questions;
        expect(read.text).not.toContain("Nice to meet you");
        expect(read.text).not.toContain("would like is the polite want");
        for (const q of seen) expect(q).not.toHaveProperty("answer");
        expect(seen.find(q => q.id === "listen")).toMatchObject({
          media: audioId,
          mediaUrl: `${TEST_PUBLIC_URL}/api/v1/media/${audioId}`,
        });
        const matchOptions = seen.find(q => q.id === "match")!.options as Json;
        expect(matchOptions.left).toEqual(["hot", "big", "fast"]);
        expect(matchOptions.right).not.toEqual(["cold", "small", "slow"]);

        const attempt = await http(`${api}/lessons/${lessonId}/attempts`, {
          method: "POST",
          token: token.learner,
          json: {
            answers: [
              { questionId: "cloze", value: ["is", "then"] },
              {
                questionId: "match",
                value: [
                  ["fast", "slow"],
                  ["hot", "cold"],
                  ["big", "small"],
                ],
              },
              { questionId: "translate", value: "I\u2019d like a cofee, please." },
              { questionId: "listen", value: "nice to meet you!" },
            ],
          },
        });
        expect(attempt.status).toBe(201);
        const result = attempt.body as { score: number; passed: boolean; results: Json[] };
        const byId = Object.fromEntries(result.results.map(r => [r.questionId, r]));
        // "then" for "than" is a wrong word: half the cloze.
        expect(byId.cloze).toMatchObject({ correct: false, credit: 0.5 });
        expect(byId.cloze).not.toHaveProperty("typo");
        expect(byId.match).toMatchObject({ correct: true, credit: 1 });
        expect(byId.translate).toMatchObject({
          correct: true,
          typo: true,
          accepted: "I'd like a coffee, please",
          explanation: "would like is the polite want",
        });
        expect(byId.listen).toMatchObject({ correct: true, expected: ["Nice to meet you"] });
        expect(byId.listen).not.toHaveProperty("typo");
        // 35 of 40 is 87.5 %: a pass.
        expect(result).toMatchObject({ score: 35, passed: true });
      });
    });
  });
}
