import { ServiceBroker } from "moleculer";
import { createEnvelope } from "../../lib/events/envelope";
import { MemoryTransport } from "../../lib/events/memory-transport";
import { PendingEvents } from "../../lib/events/mongo-outbox-store";
import { OutboxRelay } from "../../lib/events/relay";
import type { EventEnvelope } from "../../models/events.model";
import * as authoring from "../../services/content/authoring";
import { MongoContentRepository } from "../../services/content/mongo-repository";
import { dropMongoDatabase, requireMongo } from "../support/ferretdb";
import { uniqueName } from "../support/isolation";

/**
 * The MongoDB store's outbox (lib/events/mongo-outbox-store.ts) on the suite's FerretDB (or
 * CONTENT_MONGO_URI's MongoDB): a node that wrote and died before its relay published —
 * or while its relay held the events claimed — loses none of them; the next node's relay
 * publishes each of them.
 */

const broker = new ServiceBroker({ logger: false });
const logger = broker.getLogger("content-mongo-outbox");

function relayOf(repo: MongoContentRepository, published: EventEnvelope[], leaseMs: number) {
  return new OutboxRelay(
    repo.outbox(),
    // No consumer group runs here: the relay's publishes are what the test counts.
    new MemoryTransport(uniqueName("outbox"), () => false),
    {
      pollIntervalMs: 100,
      batchSize: 50,
      leaseMs,
      maxInFlight: 250,
      maxPublishAttempts: 100,
      stopWaitMs: 1_000,
      sentRetentionMs: 60_000,
      processedRetentionMs: 60_000,
      pruneIntervalMs: 60_000,
    },
    logger,
    { published: envelope => published.push(envelope) },
  );
}

/** The content service's MongoDB unit of work (services/content.service.ts), without a relay. */
function depsOf(repo: MongoContentRepository): authoring.AuthoringDeps {
  return {
    repo,
    publicUrl: "http://127.0.0.1",
    transaction: async fn => {
      const pending = new PendingEvents();
      const result = await fn(pending);
      pending.assertAllCarried();
      return result;
    },
    emit: async (type, data, t) => {
      if (!(t instanceof PendingEvents)) throw new Error("no unit of work");
      t.add(createEnvelope(type, data, { producer: "content" }));
    },
  };
}

async function until(what: string, ok: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise(resolve => setTimeout(resolve, 100));
  }
}

describe("the MongoDB content store's outbox", () => {
  let uri: string;

  beforeAll(async () => {
    uri = await requireMongo(uniqueName("lm_outbox").toLowerCase());
  });

  afterAll(async () => {
    if (uri) await dropMongoDatabase(uri);
  });

  it("when a node dies between its writes and their publish, then the next node publishes every event (0 lost)", async () => {
    const writer = new MongoContentRepository(uri, logger);
    await writer.start();
    const deps = depsOf(writer);
    const courses = 4;
    const lessonsPerCourse = 3;
    const lessonIds: string[] = [];
    const courseIds: string[] = [];
    for (let c = 0; c < courses; c++) {
      const course = await authoring.createCourse(deps, "author-1", {
        title: `Course ${c}`,
        description: "",
        topics: [],
        language: "en",
        level: "A1",
      });
      courseIds.push(course.id);
      for (let l = 0; l < lessonsPerCourse; l++) {
        const lesson = await authoring.createLesson(deps, course, {
          title: `Lesson ${l}`,
          kind: "lesson",
          body: "Hello",
        });
        lessonIds.push(lesson.id);
      }
      await authoring.publishCourse(deps, course.id);
    }
    // One lesson of each course deleted on its own, then one whole course.
    const deletedAlone = [];
    for (let c = 0; c < courses; c++) {
      const lessonId = lessonIds[c * lessonsPerCourse];
      const lesson = await writer.getLesson(lessonId);
      await authoring.deleteLesson(deps, lesson!);
      deletedAlone.push(lessonId);
    }
    const doomed = (await writer.getCourse(courseIds[0]))!;
    await authoring.deleteCourse(deps, doomed);
    const expectedDeleted = new Set([
      ...deletedAlone,
      ...lessonIds.slice(1, lessonsPerCourse), // the rest of course 0's lessons
    ]);
    // A relay on another node claims some of the events and dies before publishing them.
    const dying = writer.outbox();
    const held = await dying.claim(3, 2000, []);
    expect(held.length).toBeGreaterThan(0);
    // The node is gone: no relay of its own ever published.
    await writer.stop();

    const restarted = new MongoContentRepository(uri, logger);
    await restarted.start();
    const published: EventEnvelope[] = [];
    const relay = relayOf(restarted, published, 2000);
    const expectedCount = courses + expectedDeleted.size;
    try {
      relay.start();
      await until(`${expectedCount} events published`, () => published.length >= expectedCount);
      await until("an empty outbox", async () => (await restarted.outbox().backlog()) === 0);
      // A last pass: nothing more (and nothing twice) comes out.
      relay.kick();
      await new Promise(resolve => setTimeout(resolve, 500));
    } finally {
      await relay.stop();
    }
    // Delivery is at least once (consumers drop repeats by event id): the drill counts losses.
    const unique = new Map(published.map(e => [e.id, e]));
    const duplicates = published.length - unique.size;
    const courseEvents = [...unique.values()].filter(e => e.type === "content.course.published");
    expect(courseEvents.map(e => (e.data as { courseId: string }).courseId).sort()).toEqual(
      [...courseIds].sort(),
    );
    const deletions = [...unique.values()]
      .filter(e => e.type === "content.lesson.deleted")
      .map(e => (e.data as { lessonId: string }).lessonId);
    expect(new Set(deletions)).toEqual(expectedDeleted);
    const lost = expectedCount - unique.size;
    console.log(
      `mongo outbox drill: ${expectedCount} events written, ${unique.size} published (${duplicates} repeats), ${lost} lost`,
    );
    expect(lost).toBe(0);
    await restarted.stop();
  }, 120_000);

  it("when a document's events fail their publish maxPublishAttempts times, then they are parked, counted, and given back by unpark", async () => {
    const repo = new MongoContentRepository(uri, logger);
    await repo.start();
    try {
      const deps = depsOf(repo);
      const course = await authoring.createCourse(deps, "author-2", {
        title: "Parked course",
        description: "",
        topics: [],
        language: "en",
        level: "A2",
      });
      await authoring.createLesson(deps, course, { title: "Only", kind: "lesson", body: "Hi" });
      await authoring.publishCourse(deps, course.id);
      const outbox = repo.outbox();
      const pending = await outbox.backlog();
      expect(pending).toBeGreaterThan(0);
      for (let attempt = 0; attempt < 2; attempt++) {
        const claimed = await outbox.claim(100, 60_000, []);
        await outbox.release(
          claimed.map(r => r.id),
          "broker said no",
        );
      }
      const parked = await outbox.parkExhausted(2);
      expect(parked.map(p => [p.type, p.lastError])).toContainEqual([
        "content.course.published",
        "broker said no",
      ]);
      expect(await outbox.parked()).toBe(pending);
      expect(await outbox.claim(100, 60_000, [])).toEqual([]);
      expect(await outbox.unpark(100)).toBe(pending);
      expect(await outbox.parked()).toBe(0);
      expect((await outbox.claim(100, 60_000, [])).length).toBe(pending);
    } finally {
      await repo.stop();
    }
  }, 60_000);
});
