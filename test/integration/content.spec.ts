import type { AddressInfo } from "node:net";
import type { ServiceBroker } from "moleculer";
import { startTestNode, type TestNode } from "../support/cluster";
import { dropMongoDatabase, requireMongo } from "../support/ferretdb";
import {
  clusterEnv,
  createTestDatabase,
  tempDataDir,
  uniqueName,
  type TestDatabase,
} from "../support/isolation";
import {
  fakeUsersService,
  http,
  newSigningKey,
  signAccessToken,
  startServiceNode,
  TEST_PUBLIC_URL,
  type SigningKey,
} from "./api-kit";
import type { Role } from "../../models/auth.model";
import type { EventEnvelope } from "../../models/events.model";
import type { EventTransport } from "../../lib/events/transport";

/**
 * The Content table of api.md through the real gateway, on NATS, Redis, RabbitMQ and
 * PostgreSQL (and again with content in MongoDB: FerretDB, or CONTENT_MONGO_URI's server), with S3 media on s3rver.
 * Tokens are signed by a stand-in users service's key ring (api-kit), so any user and role
 * can be played.
 */

/** s3rver ships no types; the little of it this suite uses. */
interface S3rverServer {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverClass = new (options: Record<string, unknown>) => S3rverServer;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require("s3rver") as S3rverClass;

interface Json {
  [key: string]: unknown;
}

const PNG = Buffer.from(
  "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082",
  "hex",
);

/**
 * The MongoDB half runs against the FerretDB the global set-up started (test/support/ferretdb.ts),
 * or the real MongoDB CONTENT_MONGO_URI names, each run in a database of its own.
 */
const stores: Array<{ name: string; env: () => Promise<Record<string, string>> }> = [
  { name: "postgres", env: async () => ({}) },
  {
    name: "mongodb",
    env: async () => ({
      CONTENT_MONGO_URI: await requireMongo(uniqueName("lm_content").toLowerCase()),
    }),
  },
];

for (const store of stores) {
  describe(`content service on ${store.name}`, () => {
    let storeEnv: Record<string, string> = {};
    let db: TestDatabase;
    let s3: S3rverServer;
    let gateway: TestNode;
    let second: TestNode;
    let users: ServiceBroker;
    let api: string;
    let key: SigningKey;
    const token: Record<string, string> = {};
    let starterIds: { a1: string; a2: string };
    /** What the gateway warned about while the suite ran. */
    const gatewayWarnings: string[] = [];

    /** Every durable event the content nodes published (either store's outbox, through the relay). */
    const relayedEvents: EventEnvelope[] = [];
    const relayed = async (type: string, match: (data: Json) => boolean): Promise<Json> => {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const found = relayedEvents.find(e => e.type === type && match(e.data as Json));
        if (found) return found.data as Json;
        if (Date.now() > deadline)
          throw new Error(`no ${type} event was published (${relayedEvents.length} others were)`);
        await new Promise(resolve => setTimeout(resolve, 100));
      }
    };

    const as = async (who: string, roles: Role[]) => {
      token[who] = await signAccessToken(key, { sub: who, roles });
    };

    beforeAll(async () => {
      storeEnv = await store.env();
      db = await createTestDatabase("lm_content");
      s3 = new S3rver({
        port: 0,
        address: "127.0.0.1",
        silent: true,
        directory: tempDataDir("s3rver"),
        configureBuckets: [{ name: "media", configs: [] }],
      });
      const { port } = (await s3.run()) as AddressInfo;
      const ns = uniqueName("content");
      key = await newSigningKey();
      users = await startServiceNode(
        { ...clusterEnv(ns, db.url), PUBLIC_URL: TEST_PUBLIC_URL },
        `${ns}-users`,
        [fakeUsersService({ keys: [key], jwksCalls: 0 })],
      );
      const env = {
        ...clusterEnv(ns, db.url),
        ...storeEnv,
        PUBLIC_URL: TEST_PUBLIC_URL,
        DATA_DIR: tempDataDir(),
        S3_ENDPOINT: `http://127.0.0.1:${port}`,
        S3_BUCKET: "media",
        S3_ACCESS_KEY: "S3RVER",
        S3_SECRET_KEY: "S3RVER",
      };
      gateway = await startTestNode(["api", "content"], env);
      second = await startTestNode(["content"], { ...env, NODE_ID: `${ns}-content-2` });
      api = gateway.apiUrl!;
      for (const node of [gateway, second]) {
        const content = node.broker.getLocalService("content") as unknown as {
          $durable: { transport: EventTransport };
        };
        const transport = content.$durable.transport;
        const publish = transport.publish.bind(transport);
        jest.spyOn(transport, "publish").mockImplementation(async envelope => {
          await publish(envelope);
          relayedEvents.push(envelope);
        });
      }
      const gatewayLogger = gateway.broker.getLocalService("api").logger;
      const warn = gatewayLogger.warn.bind(gatewayLogger);
      jest.spyOn(gatewayLogger, "warn").mockImplementation((...args: unknown[]) => {
        gatewayWarnings.push(args.map(String).join(" "));
        warn(...args);
      });
      await gateway.broker.waitForServices(["users", "content"]);
      const report = await gateway.broker.call<{ created: string[] }>("content.seedStarter");
      expect(report.created).toEqual(["Greetings and introductions", "Travel"]);
      await as("author-1", ["author"]);
      await as("author-2", ["author"]);
      await as("learner-1", ["learner"]);
      await as("admin-1", ["admin"]);
      const list = (await http(`${api}/courses?pageSize=100`)).body as { rows: Json[] };
      starterIds = {
        a1: list.rows.find(r => r.level === "A1")!.id as string,
        a2: list.rows.find(r => r.level === "A2")!.id as string,
      };
    }, 90_000);

    afterAll(async () => {
      await second?.stop();
      await gateway?.stop();
      await users?.stop();
      await s3?.close();
      await db?.drop();
      if (storeEnv.CONTENT_MONGO_URI) await dropMongoDatabase(storeEnv.CONTENT_MONGO_URI);
    }, 60_000);

    describe("discovery", () => {
      it("when the public lists courses, then it gets the published starter courses in the contract's page shape", async () => {
        const res = await http(`${api}/courses?page=1&pageSize=1`);
        expect(res.status).toBe(200);
        const body = res.body as {
          rows: Json[];
          total: number;
          page: number;
          pageSize: number;
          totalPages: number;
        };
        expect(body).toMatchObject({ total: 2, page: 1, pageSize: 1, totalPages: 2 });
        expect(body.rows).toHaveLength(1);
        expect(body.rows[0]).toMatchObject({
          title: "Greetings and introductions",
          level: "A1",
          lessonCount: 4,
          version: 1,
        });
      });

      it("when filtering by level and topic, then only matching courses come back", async () => {
        const byLevel = (await http(`${api}/courses?level=A2`)).body as { rows: Json[] };
        expect(byLevel.rows.map(r => r.title)).toEqual(["Travel"]);
        const byTopic = (await http(`${api}/courses?topic=greetings`)).body as { rows: Json[] };
        expect(byTopic.rows.map(r => r.title)).toEqual(["Greetings and introductions"]);
        const none = (await http(`${api}/courses?level=C2`)).body as {
          rows: Json[];
          total: number;
        };
        expect(none).toMatchObject({ rows: [], total: 0 });
      });

      it("when searching, then the most relevant course comes first and unrelated ones are left out", async () => {
        const airport = (await http(`${api}/courses?q=${encodeURIComponent("airport hotel trip")}`))
          .body as { rows: Json[] };
        expect(airport.rows.map(r => r.title)).toEqual(["Travel"]);
        const introduce = (
          await http(`${api}/courses?q=${encodeURIComponent("introduce yourself")}`)
        ).body as { rows: Json[] };
        expect(introduce.rows[0].title).toBe("Greetings and introductions");
        const nothing = (await http(`${api}/courses?q=photosynthesis`)).body as { total: number };
        expect(nothing.total).toBe(0);
      });

      it("when a page is larger than 100, then it is capped at 100 (and the action itself refuses more)", async () => {
        const res = await http(`${api}/courses?pageSize=101`);
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({ pageSize: 100 });
        await expect(
          gateway.broker.call("content.listCourses", { pageSize: 101 }),
        ).rejects.toMatchObject({ code: 422 });
      });

      it("when listing topics, then each has a slug, a name and its published course count", async () => {
        const res = await http(`${api}/topics`);
        expect(res.status).toBe(200);
        expect(res.body).toEqual(
          expect.arrayContaining([
            { slug: "travel", name: "Travel", courseCount: 1 },
            { slug: "greetings", name: "Greetings", courseCount: 1 },
          ]),
        );
      });

      it("when the public opens a course, then it sees the published version with its ordered lessons", async () => {
        const res = await http(`${api}/courses/${starterIds.a2}`);
        expect(res.status).toBe(200);
        const course = res.body as { status: string; lessons: Json[] };
        expect(course.status).toBe("published");
        expect(course.lessons.map(l => [l.order, l.kind])).toEqual([
          [1, "lesson"],
          [2, "lesson"],
          [3, "quiz"],
          [4, "flashcards"],
        ]);
      });
    });

    describe("authoring and publishing", () => {
      let courseId: string;
      let quizId: string;

      const quiz = {
        title: "Checkpoint",
        kind: "quiz",
        questions: [
          {
            type: "single",
            prompt: "Pick the greeting.",
            options: ["Hello", "Table"],
            answer: "Hello",
            explanation: "Hello greets.",
          },
          {
            type: "multiple",
            prompt: "Pick the fruits.",
            options: ["apple", "chair", "pear"],
            answer: ["apple", "pear"],
          },
          { type: "text", prompt: "Opposite of 'yes'?", answer: "no" },
          {
            type: "order",
            prompt: "Order them.",
            options: ["one", "two", "three"],
            answer: ["one", "two", "three"],
          },
        ],
      };

      it("when a learner creates a course, then the answer is 403", async () => {
        const res = await http(`${api}/courses`, {
          method: "POST",
          token: token["learner-1"],
          json: { title: "Nope", level: "A1" },
        });
        expect(res.status).toBe(403);
      });

      it("when the body names ownerId or status, then the answer is 422 and nothing is created", async () => {
        for (const extra of [{ ownerId: "author-2" }, { status: "published" }, { version: 9 }]) {
          const res = await http(`${api}/courses`, {
            method: "POST",
            token: token["author-1"],
            json: { title: "Sneaky", level: "A1", ...extra },
          });
          expect(res.status).toBe(422);
        }
        const mine = (await http(`${api}/courses?mine=true`, { token: token["author-1"] }))
          .body as { total: number };
        expect(mine.total).toBe(0);
      });

      it("when fields are invalid, then the 422 lists each field", async () => {
        const res = await http(`${api}/courses`, {
          method: "POST",
          token: token["author-1"],
          json: { title: "x", level: "Z9", topics: "travel" },
        });
        expect(res.status).toBe(422);
        const fields = (res.body as { data: Array<{ field: string }> }).data.map(d => d.field);
        expect(fields).toEqual(expect.arrayContaining(["title", "level", "topics"]));
      });

      it("when an author creates a course, then it is a draft the public cannot see", async () => {
        const res = await http(`${api}/courses`, {
          method: "POST",
          token: token["author-1"],
          json: {
            title: "Café English",
            description: "Order coffee and snacks politely.",
            level: "A1",
            topics: ["Food and drink"],
            language: "en",
          },
        });
        expect(res.status).toBe(201);
        expect(res.body).toMatchObject({
          status: "draft",
          version: 0,
          ownerId: "author-1",
          topics: ["food-and-drink"],
          lessons: [],
        });
        courseId = (res.body as Json).id as string;
        expect(res.headers.get("location")).toBe(`/api/v1/courses/${courseId}`);
        expect((await http(`${api}/courses/${courseId}`)).status).toBe(404);
        expect(
          (await http(`${api}/courses/${courseId}`, { token: token["learner-1"] })).status,
        ).toBe(404);
        expect(
          (await http(`${api}/courses/${courseId}`, { token: token["author-1"] })).body,
        ).toMatchObject({ status: "draft" });
      });

      it("when a quiz's answer keys contradict its options, then the 422 names each question", async () => {
        const bad = {
          title: "Broken",
          kind: "quiz",
          questions: [
            { type: "single", prompt: "?", options: ["a", "b"], answer: "c" },
            { type: "multiple", prompt: "?", options: ["a", "b"], answer: ["a", "z"] },
            { type: "order", prompt: "?", options: ["a", "b", "c"], answer: ["a", "b"] },
            { type: "text", prompt: "?", options: ["a", "b"], answer: "a" },
          ],
        };
        const res = await http(`${api}/courses/${courseId}/lessons`, {
          method: "POST",
          token: token["author-1"],
          json: bad,
        });
        expect(res.status).toBe(422);
        const fields = (res.body as { data: Array<{ field: string }> }).data.map(d => d.field);
        expect(fields).toEqual([
          "questions[0].answer",
          "questions[1].answer",
          "questions[2].answer",
          "questions[3].options",
        ]);
        const cards = await http(`${api}/courses/${courseId}/lessons`, {
          method: "POST",
          token: token["author-1"],
          json: { title: "Deck", kind: "flashcards", cards: [] },
        });
        expect(cards.status).toBe(422);
      });

      it("when an author names question and card ids, then they are kept; a duplicate within the lesson is 422 naming it", async () => {
        const named = await http(`${api}/courses/${courseId}/lessons`, {
          method: "POST",
          token: token["author-1"],
          json: {
            title: "Named quiz",
            kind: "quiz",
            questions: [
              { id: "q1", type: "single", prompt: "?", options: ["a", "b"], answer: "a" },
              { id: "x".repeat(64), type: "text", prompt: "?", answer: "yes" },
            ],
          },
        });
        expect(named.status).toBe(201);
        const namedBody = named.body as { id: string; questions: Array<{ id: string }> };
        expect(namedBody.questions.map(q => q.id)).toEqual(["q1", "x".repeat(64)]);
        const deck = await http(`${api}/courses/${courseId}/lessons`, {
          method: "POST",
          token: token["author-1"],
          json: {
            title: "Named deck",
            kind: "flashcards",
            cards: [{ id: "c1", front: "a", back: "b" }],
          },
        });
        expect(deck.status).toBe(201);
        expect((deck.body as { cards: Array<{ id: string }> }).cards[0].id).toBe("c1");

        const duplicate = await http(`${api}/courses/${courseId}/lessons`, {
          method: "POST",
          token: token["author-1"],
          json: {
            title: "Twice",
            kind: "flashcards",
            cards: [
              { id: "c1", front: "a", back: "b" },
              { id: "c1", front: "c", back: "d" },
            ],
          },
        });
        expect(duplicate.status).toBe(422);
        expect((duplicate.body as { data: Json[] }).data).toEqual([
          expect.objectContaining({ field: "cards[1].id", type: "unique" }),
        ]);
        for (const id of ["", "y".repeat(65)]) {
          const bad = await http(`${api}/courses/${courseId}/lessons`, {
            method: "POST",
            token: token["author-1"],
            json: { title: "Bad id", kind: "flashcards", cards: [{ id, front: "a", back: "b" }] },
          });
          expect(bad.status).toBe(422);
          expect((bad.body as { data: Array<{ field: string }> }).data[0].field).toBe(
            "cards[0].id",
          );
        }
        await http(`${api}/lessons/${namedBody.id}`, {
          method: "DELETE",
          token: token["author-1"],
        });
        await http(`${api}/lessons/${(deck.body as Json).id as string}`, {
          method: "DELETE",
          token: token["author-1"],
        });
      });

      it("when a text question has one option, then the 422 says a text question has no options", async () => {
        const res = await http(`${api}/courses/${courseId}/lessons`, {
          method: "POST",
          token: token["author-1"],
          json: {
            title: "Text",
            kind: "quiz",
            questions: [{ type: "text", prompt: "?", options: ["a"], answer: "a" }],
          },
        });
        expect(res.status).toBe(422);
        expect((res.body as { data: Json[] }).data).toEqual([
          expect.objectContaining({
            field: "questions[0].options",
            message: "A text question has no options.",
          }),
        ]);
      });

      it("when another author touches the course, then it does not exist for them (404)", async () => {
        const other = token["author-2"];
        expect(
          (
            await http(`${api}/courses/${courseId}`, {
              method: "PATCH",
              token: other,
              json: { title: "Mine now" },
            })
          ).status,
        ).toBe(404);
        expect(
          (await http(`${api}/courses/${courseId}`, { method: "DELETE", token: other })).status,
        ).toBe(404);
        expect(
          (await http(`${api}/courses/${courseId}/publish`, { method: "POST", token: other }))
            .status,
        ).toBe(404);
        expect(
          (
            await http(`${api}/courses/${courseId}/lessons`, {
              method: "POST",
              token: other,
              json: quiz,
            })
          ).status,
        ).toBe(404);
        expect((await http(`${api}/courses/${courseId}`, { token: other })).status).toBe(404);
        expect(
          (
            await http(`${api}/courses/${courseId}`, {
              method: "PATCH",
              token: token["learner-1"],
              json: { title: "x" },
            })
          ).status,
        ).toBe(403);
      });

      it("when publishing a course without lessons, then the answer is 422", async () => {
        const res = await http(`${api}/courses/${courseId}/publish`, {
          method: "POST",
          token: token["author-1"],
        });
        expect(res.status).toBe(422);
      });

      it("when the author adds lessons and publishes, then learners see version 1 without answer keys", async () => {
        const reading = await http(`${api}/courses/${courseId}/lessons`, {
          method: "POST",
          token: token["author-1"],
          json: {
            title: "At the café",
            kind: "lesson",
            order: 1,
            body: "> **Waiter:** What can I get you?",
          },
        });
        expect(reading.status).toBe(201);
        const created = await http(`${api}/courses/${courseId}/lessons`, {
          method: "POST",
          token: token["author-1"],
          json: { ...quiz, order: 2 },
        });
        expect(created.status).toBe(201);
        quizId = (created.body as Json).id as string;
        expect(created.headers.get("location")).toBe(`/api/v1/lessons/${quizId}`);
        // The Location resolves against the gateway to the new lesson.
        const lessonAt = await http(
          new URL(created.headers.get("location")!, gateway.origin).href,
          {
            token: token["author-1"],
          },
        );
        expect((lessonAt.body as Json).id).toBe(quizId);
        expect((created.body as { questions: Json[] }).questions[0]).toMatchObject({
          answer: "Hello",
          explanation: "Hello greets.",
        });

        const published = await http(`${api}/courses/${courseId}/publish`, {
          method: "POST",
          token: token["author-1"],
        });
        expect(published.status).toBe(200);
        expect(published.body).toMatchObject({
          status: "published",
          version: 1,
          hasUnpublishedChanges: false,
        });

        const course = (await http(`${api}/courses/${courseId}`)).body as {
          version: number;
          lessons: Json[];
        };
        expect(course.version).toBe(1);
        expect(course.lessons.map(l => l.title)).toEqual(["At the café", "Checkpoint"]);

        const lesson = await http(`${api}/lessons/${quizId}`, { token: token["learner-1"] });
        expect(lesson.status).toBe(200);
        const questions = (lesson.body as { questions: Json[] }).questions;
        expect(questions).toHaveLength(4);
        for (const q of questions) {
          expect(q).not.toHaveProperty("answer");
          expect(q).not.toHaveProperty("explanation");
        }
        // The items of an ordering question are never shown in the answer's order.
        expect(questions[3].options).not.toEqual(["one", "two", "three"]);
        expect(lesson.text).not.toContain("Hello greets.");

        const authorView = (await http(`${api}/lessons/${quizId}`, { token: token["author-1"] }))
          .body as { questions: Json[] };
        expect(authorView.questions[0]).toMatchObject({ answer: "Hello" });
        expect((await http(`${api}/lessons/${quizId}`)).status).toBe(401);

        const grading = await gateway.broker.call<
          { courseVersion: number; questions: Json[] },
          { lessonId: string }
        >("content.lessonForGrading", { lessonId: quizId });
        expect(grading.courseVersion).toBe(1);
        expect(grading.questions[1]).toMatchObject({ type: "multiple", answer: ["apple", "pear"] });

        // Consumers show topics by name without asking content (notify's mails and texts).
        const own = await relayed("content.course.published", data => data.courseId === courseId);
        expect(own).toMatchObject({ topics: ["food-and-drink"], topicNames: ["Food and drink"] });
        // The two starter courses' and this one's.
        expect(
          relayedEvents.filter(e => e.type === "content.course.published").length,
        ).toBeGreaterThanOrEqual(3);
      });

      it("when the author edits the draft, then learners keep the published version until the next publish, on every node", async () => {
        // Fill the cache on the second content node (Redis is shared by both).
        const before = await second.broker.call<Json, Record<string, unknown>>(
          "content.getCourse",
          { id: courseId },
        );
        expect(before).toMatchObject({ title: "Café English", version: 1 });

        const patched = await http(`${api}/courses/${courseId}`, {
          method: "PATCH",
          token: token["author-1"],
          json: { title: "Café and restaurant English" },
        });
        expect(patched.status).toBe(200);
        expect(patched.body).toMatchObject({
          title: "Café and restaurant English",
          hasUnpublishedChanges: true,
          status: "published",
        });
        const lessonPatch = await http(`${api}/lessons/${quizId}`, {
          method: "PATCH",
          token: token["author-1"],
          json: { title: "Checkpoint 1" },
        });
        expect(lessonPatch.status).toBe(200);

        expect(
          await second.broker.call<Json, Record<string, unknown>>("content.getCourse", {
            id: courseId,
          }),
        ).toMatchObject({ title: "Café English", version: 1 });
        expect(
          ((await http(`${api}/lessons/${quizId}`, { token: token["learner-1"] })).body as Json)
            .title,
        ).toBe("Checkpoint");

        const republished = await http(`${api}/courses/${courseId}/publish`, {
          method: "POST",
          token: token["author-1"],
        });
        expect(republished.body).toMatchObject({ version: 2 });
        expect(
          await second.broker.call<Json, Record<string, unknown>>("content.getCourse", {
            id: courseId,
          }),
        ).toMatchObject({ title: "Café and restaurant English", version: 2 });
        expect(
          ((await http(`${api}/lessons/${quizId}`, { token: token["learner-1"] })).body as Json)
            .title,
        ).toBe("Checkpoint 1");
        expect(
          await second.broker.call<Json, Record<string, unknown>>("content.courseOutline", {
            courseId,
          }),
        ).toMatchObject({ version: 2 });
      });

      it("when a lesson is edited into an invalid state or by a stranger, then it is refused", async () => {
        const invalid = await http(`${api}/lessons/${quizId}`, {
          method: "PATCH",
          token: token["author-1"],
          json: {
            questions: [{ type: "single", prompt: "?", options: ["a", "b"], answer: ["a"] }],
          },
        });
        expect(invalid.status).toBe(422);
        expect(
          (
            await http(`${api}/lessons/${quizId}`, {
              method: "PATCH",
              token: token["author-2"],
              json: { title: "x" },
            })
          ).status,
        ).toBe(404);
        expect(
          (await http(`${api}/lessons/${quizId}`, { method: "DELETE", token: token["author-2"] }))
            .status,
        ).toBe(404);
        expect(
          (
            await http(`${api}/lessons/${quizId}`, {
              method: "PATCH",
              token: token["author-1"],
              json: { courseId: "x" },
            })
          ).status,
        ).toBe(422);
      });

      it("when an admin edits someone's course, then it is allowed", async () => {
        const res = await http(`${api}/courses/${courseId}`, {
          method: "PATCH",
          token: token["admin-1"],
          json: { description: "Reviewed by an admin." },
        });
        expect(res.status).toBe(200);
      });

      it("when a lesson is deleted, then learners no longer get it and the deletion is a durable event", async () => {
        const res = await http(`${api}/lessons/${quizId}`, {
          method: "DELETE",
          token: token["author-1"],
        });
        expect(res.status).toBe(204);
        expect((await http(`${api}/lessons/${quizId}`, { token: token["learner-1"] })).status).toBe(
          404,
        );
        const course = (await http(`${api}/courses/${courseId}`)).body as { lessons: Json[] };
        expect(course.lessons.map(l => l.id)).not.toContain(quizId);
        // The course's aggregate version (events.md): version 2 was live when the lesson went.
        expect(await relayed("content.lesson.deleted", data => data.lessonId === quizId)).toEqual({
          lessonId: quizId,
          courseId,
          courseVersion: 2,
        });
      });

      it("when the owner deletes the course, then it is gone for everyone", async () => {
        expect(
          (await http(`${api}/courses/${courseId}`, { method: "DELETE", token: token["author-1"] }))
            .status,
        ).toBe(204);
        expect((await http(`${api}/courses/${courseId}`)).status).toBe(404);
        expect(
          (await http(`${api}/courses/${courseId}`, { token: token["author-1"] })).status,
        ).toBe(404);
      });
    });

    describe("media", () => {
      const upload = (bytes: Buffer, name: string, type: string, who = "author-1") => {
        const form = new FormData();
        form.append("file", new Blob([bytes], { type }), name);
        return http(`${api}/media`, { method: "POST", token: token[who], body: form });
      };

      it("when an author uploads an image, then it is stored in S3 and served back byte for byte", async () => {
        const res = await upload(PNG, "pixel.png", "image/png");
        expect(res.text).toContain("image/png");
        expect(res.status).toBe(201);
        const media = res.body as { id: string; url: string; contentType: string; size: number };
        expect(media).toMatchObject({ contentType: "image/png", size: PNG.length });
        expect(media.url).toBe(`${TEST_PUBLIC_URL}/api/v1/media/${media.id}`);
        expect(res.headers.get("location")).toBe(`/api/v1/media/${media.id}`);
        const file = await fetch(`${api}/media/${media.id}`);
        expect(file.status).toBe(200);
        expect(file.headers.get("content-type")).toContain("image/png");
        expect(Buffer.from(await file.arrayBuffer()).equals(PNG)).toBe(true);

        const course = await http(`${api}/courses`, {
          method: "POST",
          token: token["author-1"],
          json: { title: "Pictures", level: "A1" },
        });
        const lesson = await http(`${api}/courses/${(course.body as Json).id}/lessons`, {
          method: "POST",
          token: token["author-1"],
          json: { title: "Look", kind: "lesson", media: [media.id] },
        });
        expect(lesson.status).toBe(201);
        expect((lesson.body as { media: Json[] }).media).toEqual([media]);
        const unknown = await http(`${api}/courses/${(course.body as Json).id}/lessons`, {
          method: "POST",
          token: token["author-1"],
          json: { title: "Look", kind: "lesson", media: ["no-such-media"] },
        });
        expect(unknown.status).toBe(422);
      });

      it("when a file is not an image or audio, whatever its name says, then it is refused", async () => {
        const res = await upload(
          Buffer.from("#!/bin/sh\necho not an image\n"),
          "photo.png",
          "image/png",
        );
        expect(res.status).toBe(415);
        expect(res.body).toMatchObject({ type: "UNSUPPORTED_MEDIA_TYPE" });
      });

      it("when a learner uploads, then the answer is 403", async () => {
        expect((await upload(PNG, "pixel.png", "image/png", "learner-1")).status).toBe(403);
      });

      it("when a media id is unknown, then the answer is 404", async () => {
        expect((await http(`${api}/media/does-not-exist`)).status).toBe(404);
      });
    });

    describe("after the suite's creations", () => {
      it("when courses, lessons and media were created above, then the gateway never warned of a missing $location", () => {
        expect(gatewayWarnings.filter(line => line.includes("$location"))).toEqual([]);
      });
    });
  });
}
