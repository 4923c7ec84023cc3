import fs from "node:fs";
import path from "node:path";
import { ServiceBroker, type Context } from "moleculer";
import { DataTypes, QueryTypes } from "sequelize";
import { brokerOptions } from "../../moleculer.config";
import { DbMixin, type DbServiceThis } from "../../mixins/db.mixin";
import { embeddedLeases } from "../../lib/db/embedded";
import { readiness } from "../../lib/health";
import { tempDataDir, testConfig, uniqueName } from "../support/isolation";
import {
  noteActions,
  noteModels,
  type Note,
  type NotesSchema,
  type NotesThis,
} from "../support/notes-service";

/** The embedded store (no DATABASE_URL): PGlite under DATA_DIR/pglite, served on a loopback port. */

const notesService: NotesSchema = {
  name: "notes",
  mixins: [
    DbMixin({
      schema: "notes",
      migrations: [
        {
          name: "0001-init",
          up: async ({ context }) => {
            // JSONB and a full-text index: the embedded store is real PostgreSQL.
            await context.sequelize.query(`
              CREATE TABLE "${context.schema}".notes (
                id serial PRIMARY KEY,
                text text NOT NULL,
                tags jsonb NOT NULL DEFAULT '[]'
              );
              CREATE INDEX notes_text_fts ON "${context.schema}".notes USING gin (to_tsvector('english', text));
            `);
          },
        },
      ],
      sync: false,
      models: noteModels({ tags: true }),
    }),
  ],
  actions: {
    ...noteActions,
    search: {
      params: { q: "string" },
      async handler(this: NotesThis, ctx: Context<{ q: string }>): Promise<string[]> {
        const rows = await this.sequelize.query<{ text: string }>(
          `SELECT text FROM "${this.dbSchema}".notes WHERE to_tsvector('english', text) @@ plainto_tsquery('english', :q) ORDER BY id`,
          { replacements: { q: ctx.params.q }, type: QueryTypes.SELECT },
        );
        return rows.map(r => r.text);
      },
    },
    addMany: {
      params: { count: "number" },
      async handler(this: NotesThis, ctx: Context<{ count: number }>): Promise<number> {
        // Concurrent transactions: the socket server serializes them, none may deadlock or be lost.
        await Promise.all(
          Array.from({ length: ctx.params.count }, (_, i) =>
            this.withTransaction(async t => {
              await this.models.Note.create(
                { text: `bulk ${i}`, tags: ["bulk"] },
                { transaction: t },
              );
              await this.models.Note.count({ transaction: t });
            }),
          ),
        );
        return this.models.Note.count();
      },
    },
  },
};

function node(dataDir: string): ServiceBroker {
  const cfg = testConfig({ NAMESPACE: uniqueName("dbemb"), DATA_DIR: dataDir });
  expect(cfg.databaseUrl).toBeUndefined();
  const broker = new ServiceBroker({ ...brokerOptions(cfg), nodeID: uniqueName("emb") });
  broker.createService(notesService);
  return broker;
}

describe("DbMixin on the embedded store", () => {
  const dataDir = tempDataDir("db-embedded");

  afterAll(() => {
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test("when data is written and the node stops and starts again on the same DATA_DIR, then the data is still there", async () => {
    const first = node(dataDir);
    await first.start();
    const created = await first.call<Note, Partial<Note>>("notes.create", {
      text: "The quick brown fox jumps",
      tags: ["animals"],
    });
    expect((await readiness(first)).checks["database:notes"]).toEqual({ status: "ok" });
    await first.stop();
    // The last service stopped: the embedded database is closed and its files are on disk.
    expect(embeddedLeases(dataDir)).toBe(0);
    expect(fs.existsSync(path.join(dataDir, "pglite", "PG_VERSION"))).toBe(true);

    const second = node(dataDir);
    await second.start();
    try {
      const again = await second.call<Note, { id: number }>("notes.get", { id: created.id });
      expect(again).toEqual({
        id: created.id,
        text: "The quick brown fox jumps",
        tags: ["animals"],
      });
      expect(await second.call("notes.search", { q: "jumping foxes" })).toEqual([
        "The quick brown fox jumps",
      ]);
      // The migration is not applied twice on restart.
      const [rows] = await (
        second.getLocalService("notes") as unknown as NotesThis
      ).sequelize.query(`SELECT name FROM "notes".migrations`);
      expect(rows).toEqual([{ name: "0001-init" }]);
    } finally {
      await second.stop();
    }
  }, 60_000);

  test("when many transactions run at once on the embedded store, then all of them commit", async () => {
    const broker = node(tempDataDir("db-embedded-tx"));
    await broker.start();
    try {
      const before = await broker.call<number>("notes.count");
      expect(await broker.call("notes.addMany", { count: 20 })).toBe(before + 20);
    } finally {
      await broker.stop();
    }
  }, 60_000);

  test("when four services of one node migrate and write at once on the embedded store, then every query gets its own answer", async () => {
    const dataDir = tempDataDir("db-embedded-many");
    const broker = new ServiceBroker({
      ...brokerOptions(testConfig({ NAMESPACE: uniqueName("dbemb"), DATA_DIR: dataDir })),
      nodeID: uniqueName("emb"),
    });
    const names = ["alpha", "beta", "gamma", "delta"];
    for (const name of names) {
      broker.createService({
        name,
        mixins: [
          DbMixin({
            schema: name,
            migrations: [
              {
                name: "0001-init",
                up: async ({ context }) => {
                  await context.queryInterface.createTable(
                    { schema: context.schema, tableName: "items" },
                    { n: { type: DataTypes.INTEGER, primaryKey: true } },
                  );
                  // Parameterised statements (extended protocol) from four connections at once.
                  for (let n = 0; n < 25; n++) {
                    await context.sequelize.query(
                      `INSERT INTO "${context.schema}".items (n) VALUES ($1)`,
                      { bind: [n] },
                    );
                  }
                },
              },
            ],
          }),
        ],
        actions: {
          async get(this: DbServiceThis, ctx: Context<{ id: number }>) {
            const [row] = await this.sequelize.query<{ n: number }>(
              `SELECT n FROM "${this.dbSchema}".items WHERE n = :id`,
              { replacements: { id: ctx.params.id }, type: QueryTypes.SELECT },
            );
            return row ?? null;
          },
          async count(this: DbServiceThis) {
            const [row] = await this.sequelize.query<{ n: number }>(
              `SELECT count(*)::int AS n FROM "${this.dbSchema}".items`,
              { type: QueryTypes.SELECT },
            );
            return row.n;
          },
        },
      });
    }
    await broker.start();
    try {
      const results = await Promise.all(
        names.flatMap(name =>
          Array.from({ length: 10 }, (_, n) =>
            broker.call<{ n: number }, { id: number }>(`${name}.get`, { id: n }),
          ),
        ),
      );
      expect(results.map(r => r.n)).toEqual(
        names.flatMap(() => Array.from({ length: 10 }, (_, n) => n)),
      );
      for (const name of names) expect(await broker.call(`${name}.count`)).toBe(25);
    } finally {
      await broker.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
