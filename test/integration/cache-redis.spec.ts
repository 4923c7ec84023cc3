import Redis from "ioredis";
import { ServiceBroker } from "moleculer";
import { brokerOptions } from "../../moleculer.config";
import { DbMixin } from "../../mixins/db.mixin";
import { SERVERS } from "../support/servers";
import {
  createTestDatabase,
  tempDataDir,
  testConfig,
  uniqueName,
  type TestDatabase,
} from "../support/isolation";
import {
  cachedNoteActions,
  noteActions,
  noteModels,
  type Note,
  type NotesSchema,
  type NotesThis,
} from "../support/notes-service";

/** Two nodes over the real NATS sharing the real Redis cacher; entity changes clean it for all. */

const handled: string[] = [];

const notesService: NotesSchema = {
  name: "notes",
  mixins: [DbMixin({ schema: "notes", models: noteModels() })],
  actions: {
    create: noteActions.create,
    ...cachedNoteActions(handled),
  },
};

describe("cache shared through Redis across nodes on NATS", () => {
  const namespace = uniqueName("dbcache");
  const prefix = `${namespace}:`;
  let db: TestDatabase;
  let a: ServiceBroker;
  let b: ServiceBroker;
  const redis = new Redis(SERVERS.redis.url, { lazyConnect: true });
  const cachedNoteKeys = () => redis.keys(`${prefix}cache-notes.*`);

  beforeAll(async () => {
    db = await createTestDatabase();
    const env = {
      NAMESPACE: namespace,
      TRANSPORTER: SERVERS.nats.url,
      CACHER: SERVERS.redis.url,
      REDIS_PREFIX: prefix,
      DATABASE_URL: db.url,
      DATA_DIR: tempDataDir("db-cache-redis"),
    };
    a = new ServiceBroker({ ...brokerOptions(testConfig(env)), nodeID: `${namespace}-a` });
    b = new ServiceBroker({ ...brokerOptions(testConfig(env)), nodeID: `${namespace}-b` });
    a.createService(notesService);
    b.createService(notesService);
    await redis.connect();
    await Promise.all([a.start(), b.start()]);
    // Each node must see the other's notes service before calls are pinned to a node.
    await a.waitForServices({ name: "notes" });
    await b.waitForServices({ name: "notes" });
    const deadline = Date.now() + 10_000;
    while (
      a.registry.getServiceList({ onlyAvailable: true }).filter(s => s.name === "notes").length < 2
    ) {
      if (Date.now() > deadline) throw new Error("node B never appeared on node A");
      await new Promise(resolve => setTimeout(resolve, 50));
    }
  });

  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    await Promise.all([a?.stop(), b?.stop()]);
    await db?.drop();
  });

  test("when node A cached a read, then node B is served it from Redis, and after a change on node B both nodes read fresh data", async () => {
    // Written past the service: a create would broadcast a clean that could reach B after A's
    // read was cached, and B would drop it.
    const notesOnA = a.getLocalService("notes") as unknown as NotesThis;
    const note = (await notesOnA.models.Note.create({ text: "original" })).get({ plain: true });
    const A = a.nodeID;
    const B = b.nodeID;

    const first = await a.call<Note, { id: number }>("notes.read", { id: note.id }, { nodeID: A });
    expect(first.text).toBe("original");
    expect(await cachedNoteKeys()).toHaveLength(1);

    // Called on node B, answered by node B's cacher from Redis: B's handler never runs.
    const fromB = await b.call<Note, { id: number }>("notes.read", { id: note.id }, { nodeID: B });
    expect(fromB).toEqual(first);
    expect(handled).toEqual([A]);

    await b.call("notes.rename", { id: note.id, text: "renamed" }, { nodeID: B });
    // B cleaned the shared cache before it answered.
    expect(await cachedNoteKeys()).toHaveLength(0);

    const freshOnA = await a.call<Note, { id: number }>(
      "notes.read",
      { id: note.id },
      { nodeID: A },
    );
    const freshOnB = await b.call<Note, { id: number }>(
      "notes.read",
      { id: note.id },
      { nodeID: B },
    );
    expect(freshOnA.text).toBe("renamed");
    expect(freshOnB.text).toBe("renamed");
    expect(handled).toEqual([A, A]);
  });

  test("when an entity changes, then every node of the service receives cache.clean.notes once", async () => {
    const received: string[] = [];
    const listeners = [a, b].map(broker =>
      broker.createService({
        name: `listener-${broker.nodeID}`,
        events: {
          "cache.clean.notes"(this: { broker: ServiceBroker }) {
            received.push(this.broker.nodeID);
          },
        },
      }),
    );
    await Promise.all(listeners.map(s => s._start()));
    await a.waitForServices([`listener-${a.nodeID}`, `listener-${b.nodeID}`]);
    await b.waitForServices([`listener-${a.nodeID}`, `listener-${b.nodeID}`]);
    const settle = async (count: number) => {
      const deadline = Date.now() + 5_000;
      while (received.length < count && Date.now() < deadline) {
        await new Promise(resolve => setTimeout(resolve, 20));
      }
      await new Promise(resolve => setTimeout(resolve, 200)); // no extra deliveries
    };
    // Creating a note cleans the caches too.
    const note = await a.call<Note, { text: string }>("notes.create", { text: "x" });
    await settle(2);
    received.length = 0;

    await a.call("notes.rename", { id: note.id, text: "y" }, { nodeID: a.nodeID });
    await settle(2);
    expect(received.sort()).toEqual([a.nodeID, b.nodeID].sort());
    await Promise.all(listeners.map((s, i) => [a, b][i].destroyService(s)));
  });
});
