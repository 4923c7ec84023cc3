import { uniqueName } from "../support/isolation";
import { http } from "./api-kit";
import { contentStores, startContentProgressNode, type ContentProgressNode } from "./learning-kit";

/**
 * The placement bank in each content store (PostgreSQL, and MongoDB through FerretDB): content
 * loads it when it starts, progress reads it through `content.placementBank`, and a test runs
 * to its end on it. The level's way to the profile is placement.spec.ts's (real users service).
 */

interface Json {
  [key: string]: unknown;
}

for (const store of contentStores("placement")) {
  describe(`the placement bank on ${store.name}`, () => {
    let node: ContentProgressNode;
    let token: string;

    beforeAll(async () => {
      node = await startContentProgressNode("placement", await store.env());
      token = await node.sign(uniqueName("placed"), ["learner"]);
    }, 120_000);

    afterAll(async () => {
      await node?.stop();
    }, 30_000);

    it("when a learner answers every question wrong, then the test ends within 20 questions at A1", async () => {
      const post = (route: string, json?: unknown) =>
        http(`${node.apiUrl}${route}`, { method: "POST", token, json });
      const started = await post("/placement");
      expect(started.status).toBe(201);
      const id = (started.body as Json).id as string;
      let question = (started.body as Json).question as Json;
      let result: Json | undefined;
      for (let answered = 0; answered < 20 && !result; answered += 1) {
        expect(question).not.toHaveProperty("answer");
        const value = question.type === "cloze" ? ["?", "?"] : "not the answer";
        const step = await post(`/placement/${id}/answers`, { questionId: question.id, value });
        expect(step.status).toBe(200);
        result = (step.body as Json).result as Json | undefined;
        question = (step.body as Json).question as Json;
      }
      expect(result).toMatchObject({ level: "A1" });
    });
  });
}
