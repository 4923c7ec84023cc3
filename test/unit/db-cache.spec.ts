import fs from "node:fs";
import { ServiceBroker, type Context, type ServiceSchema } from "moleculer";
import { DataTypes, type Transaction } from "sequelize";
import { brokerOptions } from "../../moleculer.config";
import { DbMixin } from "../../mixins/db.mixin";
import { CacheCleaner } from "../../mixins/cache-cleaner.mixin";
import { embeddedLeases } from "../../lib/db/embedded";
import { tempDataDir, testConfig, uniqueName } from "../support/isolation";
import {
  cachedNoteActions,
  noteActions,
  noteModels,
  type Note,
  type NotesSchema,
  type NotesThis,
} from "../support/notes-service";

/**
 * DbMixin on the embedded store with several nodes in one process (Fake transporter,
 * each node its own memory cache): cache cleaning on every node, lifecycle order,
 * transactions.
 */

/** Which node ran each cached read's handler (a cache hit runs none). */
const handled: string[] = [];

function notesService(extra: Partial<ServiceSchema> = {}): NotesSchema {
  return {
    name: "notes",
    mixins: [
      DbMixin({
        schema: "notes",
        migrations: [
          {
            name: "0001-notes",
            up: async ({ context }) => {
              await context.queryInterface.createTable(
                { schema: context.schema, tableName: "notes" },
                {
                  id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
                  text: { type: DataTypes.TEXT, allowNull: false },
                },
              );
            },
          },
        ],
        models: noteModels(),
      }),
      extra,
    ],
    actions: {
      ...noteActions,
      ...cachedNoteActions(handled),
      failInTransaction: {
        params: { text: "string" },
        async handler(this: NotesThis, ctx: Context<{ text: string }>): Promise<void> {
          await this.withTransaction(async (t: Transaction) => {
            await this.models.Note.create({ text: ctx.params.text }, { transaction: t });
            throw new Error("rolled back on purpose");
          });
        },
      },
    },
  };
}

function node(nodeID: string, namespace: string, dataDir: string): ServiceBroker {
  const cfg = testConfig({ NAMESPACE: namespace, TRANSPORTER: "Fake", DATA_DIR: dataDir });
  return new ServiceBroker({ ...brokerOptions(cfg), nodeID });
}

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise(resolve => setTimeout(resolve, 20));
  }
}

describe("DbMixin cache cleaning (Fake transporter, memory caches, embedded store)", () => {
  const dataDir = tempDataDir("db-cache");
  const namespace = uniqueName("dbcache");
  const a = node("node-a", namespace, dataDir);
  const b = node("node-b", namespace, dataDir);
  let noteId: number;

  beforeAll(async () => {
    a.createService(notesService());
    b.createService(notesService());
    // A service that caches data derived from notes and another that only watches.
    for (const broker of [a, b]) {
      broker.createService({
        name: "digest",
        mixins: [CacheCleaner({ also: ["notes"] })],
        actions: {
          summary: {
            cache: true,
            handler(): string {
              handled.push(`digest@${broker.nodeID}`);
              return "summary";
            },
          },
        },
      });
    }
    await Promise.all([a.start(), b.start()]);
    await a.waitForServices(["notes", "digest"]);
    await b.waitForServices(["notes", "digest"]);
    const created = await a.call<Note, { text: string }>("notes.create", { text: "first" });
    noteId = created.id;
  }, 60_000);

  afterAll(async () => {
    await Promise.all([a.stop(), b.stop()]);
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  beforeEach(() => {
    handled.length = 0;
  });

  test("when both nodes cached a read and the entity changes on node B, then node A serves fresh data too", async () => {
    await a.call("notes.read", { id: noteId }, { nodeID: "node-a" });
    await b.call("notes.read", { id: noteId }, { nodeID: "node-b" });
    await a.call("notes.read", { id: noteId }, { nodeID: "node-a" });
    await b.call("notes.read", { id: noteId }, { nodeID: "node-b" });
    expect(handled).toEqual(["node-a", "node-b"]); // second reads came from each node's cache

    await b.call("notes.rename", { id: noteId, text: "renamed" }, { nodeID: "node-b" });

    // Node B cleaned its own cache before answering; node A on the broadcast.
    const onB = await b.call<Note, { id: number }>(
      "notes.read",
      { id: noteId },
      { nodeID: "node-b" },
    );
    expect(onB.text).toBe("renamed");
    await waitFor(async () =>
      (await a.cacher!.getCacheKeys()).every(k => !k.key.startsWith("notes.")),
    );
    const onA = await a.call<Note, { id: number }>(
      "notes.read",
      { id: noteId },
      { nodeID: "node-a" },
    );
    expect(onA.text).toBe("renamed");
    expect(handled).toEqual(["node-a", "node-b", "node-b", "node-a"]);
  });

  test("when a service lists another in cacheCleanOn and that one changes, then its cache is cleaned on every node", async () => {
    await a.call("digest.summary", {}, { nodeID: "node-a" });
    await b.call("digest.summary", {}, { nodeID: "node-b" });
    await a.call("digest.summary", {}, { nodeID: "node-a" });
    expect(handled).toEqual(["digest@node-a", "digest@node-b"]);

    await a.call("notes.rename", { id: noteId, text: "again" }, { nodeID: "node-a" });
    await waitFor(async () => {
      const keys = [...(await a.cacher!.getCacheKeys()), ...(await b.cacher!.getCacheKeys())];
      return keys.every(k => !k.key.startsWith("digest."));
    });
    await a.call("digest.summary", {}, { nodeID: "node-a" });
    await b.call("digest.summary", {}, { nodeID: "node-b" });
    expect(handled).toEqual(["digest@node-a", "digest@node-b", "digest@node-a", "digest@node-b"]);
  });

  test("when a service is told to clean another service's cache, then that cache is cleaned on every node", async () => {
    await a.call("notes.read", { id: noteId }, { nodeID: "node-a" });
    await b.call("notes.read", { id: noteId }, { nodeID: "node-b" });
    const notesOnA = a.getLocalService("notes") as unknown as NotesThis;
    await notesOnA.cleanCacheOf("digest");
    await a.call("digest.summary", {}, { nodeID: "node-a" });
    await waitFor(async () =>
      (await b.cacher!.getCacheKeys()).every(k => !k.key.startsWith("digest.")),
    );
    // notes' own cache is untouched by a clean of digest.
    const notesKeys = (await b.cacher!.getCacheKeys()).filter(k => k.key.startsWith("notes."));
    expect(notesKeys).toHaveLength(1);
  });

  test("when a transaction's work throws, then nothing of it is written", async () => {
    const before = await a.call<number>("notes.count");
    await expect(a.call("notes.failInTransaction", { text: "ghost" })).rejects.toThrow(
      "rolled back on purpose",
    );
    expect(await a.call<number>("notes.count")).toBe(before);
  });

  test("when every service of the process uses one DATA_DIR, then they share one embedded database", () => {
    expect(embeddedLeases(dataDir)).toBe(2);
  });
});

describe("DbMixin lifecycle order", () => {
  const dataDir = tempDataDir("db-order");
  const broker = node("order", uniqueName("dborder"), dataDir);
  const events: string[] = [];

  afterAll(async () => {
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test("when DbMixin is listed before another mixin, then it migrates before that mixin starts and closes after it stops", async () => {
    const other: Partial<ServiceSchema> = {
      async started() {
        const self = this as unknown as NotesThis;
        // The schema is already migrated: the table is there.
        const [rows] = await self.sequelize.query(
          `SELECT count(*)::int AS n FROM "${self.dbSchema}".notes`,
        );
        events.push(`other started (rows: ${(rows as Array<{ n: number }>)[0].n})`);
      },
      async stopped() {
        await (this as unknown as NotesThis).sequelize.query("SELECT 1");
        events.push("other stopped (database still open)");
      },
    };
    broker.createService(notesService(other));
    await broker.start();
    await broker.stop();
    expect(events).toEqual(["other started (rows: 0)", "other stopped (database still open)"]);
    expect(embeddedLeases(dataDir)).toBe(0);
  }, 60_000);
});
