import { ServiceBroker } from "moleculer";
import { DataTypes, QueryTypes } from "sequelize";
import { brokerOptions } from "../../moleculer.config";
import { DbMixin, type Migration } from "../../mixins/db.mixin";
import { createSequelize } from "../../lib/db/connection";
import { withAdvisoryLock } from "../../lib/db/advisory-lock";
import {
  createTestDatabase,
  tempDataDir,
  testConfig,
  uniqueName,
  type TestDatabase,
} from "../support/isolation";
import { noteActions, noteModels, type NotesSchema } from "../support/notes-service";

/** Migrations on the real PostgreSQL: many nodes starting at once migrate once, under a lock. */

const schema = "notes";

/** Slow on purpose (the race window), with a side effect counted afterwards. */
const init: Migration = {
  name: "0001-init",
  up: async ({ context }) => {
    const { sequelize, queryInterface } = context;
    await sequelize.query("SELECT pg_sleep(0.5)");
    await queryInterface.createTable(
      { schema: context.schema, tableName: "runs" },
      { migration: { type: DataTypes.TEXT, allowNull: false } },
    );
    await queryInterface.createTable(
      { schema: context.schema, tableName: "notes" },
      {
        id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
        text: { type: DataTypes.TEXT, allowNull: false },
      },
    );
    await sequelize.query(`INSERT INTO "${context.schema}".runs (migration) VALUES ('0001-init')`);
  },
};

const addColumn: Migration = {
  name: "0002-add-pinned",
  up: async ({ context }) => {
    await context.queryInterface.addColumn(
      { schema: context.schema, tableName: "notes" },
      "pinned",
      {
        type: DataTypes.BOOLEAN,
        allowNull: false,
        defaultValue: false,
      },
    );
    await context.sequelize.query(
      `INSERT INTO "${context.schema}".runs (migration) VALUES ('0002-add-pinned')`,
    );
  },
};

function notesService(migrations: Migration[]): NotesSchema {
  return {
    name: "notes",
    mixins: [DbMixin({ schema, migrations, sync: false, models: noteModels() })],
    actions: noteActions,
  };
}

function node(
  nodeID: string,
  namespace: string,
  databaseUrl: string,
  migrations: Migration[],
): ServiceBroker {
  const cfg = testConfig({
    NAMESPACE: namespace,
    DATABASE_URL: databaseUrl,
    DATA_DIR: tempDataDir("db-mig"),
  });
  const broker = new ServiceBroker({ ...brokerOptions(cfg), nodeID });
  broker.createService(notesService(migrations));
  return broker;
}

describe("DbMixin migrations on PostgreSQL", () => {
  let db: TestDatabase;
  const namespace = uniqueName("dbmig");
  let brokers: ServiceBroker[] = [];
  const inspect = () =>
    createSequelize({
      target: { kind: "url", url: db.url },
      applicationName: "db-migrations-spec",
    });
  const sequelize = () => inspect();

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterEach(async () => {
    await Promise.all(brokers.map(b => b.stop()));
    brokers = [];
  });

  afterAll(async () => {
    await db?.drop();
  });

  test("when three nodes of a service start at once on a fresh database, then the migrations run exactly once and every node works", async () => {
    brokers = ["m-1", "m-2", "m-3"].map(id => node(id, namespace, db.url, [init]));
    await Promise.all(brokers.map(b => b.start()));

    const check = sequelize();
    try {
      const runs = await check.query<{ migration: string }>(
        `SELECT migration FROM "${schema}".runs`,
        { type: QueryTypes.SELECT },
      );
      expect(runs.map(r => r.migration)).toEqual(["0001-init"]);
      const applied = await check.query<{ name: string }>(
        `SELECT name FROM "${schema}".migrations`,
        { type: QueryTypes.SELECT },
      );
      expect(applied.map(r => r.name)).toEqual(["0001-init"]);
      const tables = await check.query<{ table_schema: string; table_name: string }>(
        "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2",
        { type: QueryTypes.SELECT },
      );
      // Everything lives in the service's schema, nothing in public.
      expect(tables).toEqual([
        { table_schema: schema, table_name: "migrations" },
        { table_schema: schema, table_name: "notes" },
        { table_schema: schema, table_name: "runs" },
      ]);
    } finally {
      await check.close();
    }

    for (const [i, broker] of brokers.entries()) {
      await broker.call(
        "notes.create",
        { text: `from ${broker.nodeID}` },
        { nodeID: broker.nodeID },
      );
      expect(await broker.call("notes.count")).toBe(i + 1);
    }
  });

  test("when the nodes restart with one more migration, then only the new one runs, once", async () => {
    brokers = ["m-4", "m-5", "m-6"].map(id => node(id, namespace, db.url, [init, addColumn]));
    await Promise.all(brokers.map(b => b.start()));
    const check = sequelize();
    try {
      const runs = await check.query<{ migration: string }>(
        `SELECT migration FROM "${schema}".runs ORDER BY migration`,
        {
          type: QueryTypes.SELECT,
        },
      );
      expect(runs.map(r => r.migration)).toEqual(["0001-init", "0002-add-pinned"]);
      const [{ pinned }] = await check.query<{ pinned: boolean }>(
        `SELECT pinned FROM "${schema}".notes LIMIT 1`,
        {
          type: QueryTypes.SELECT,
        },
      );
      expect(pinned).toBe(false);
    } finally {
      await check.close();
    }
  });

  test("when a migration fails, then the node does not start, the error names schema and migration, and nothing is recorded", async () => {
    const broken: Migration = {
      name: "0003-broken",
      up: async ({ context }) => {
        await context.sequelize.query(
          `ALTER TABLE "${context.schema}".no_such_table ADD COLUMN x int`,
        );
      },
    };
    brokers = [node("m-7", namespace, db.url, [init, addColumn, broken])];
    await expect(brokers[0].start()).rejects.toThrow(
      /schema notes of service "notes" could not be migrated: .*0003-broken.*no_such_table/,
    );
    const check = sequelize();
    try {
      const applied = await check.query<{ name: string }>(
        `SELECT name FROM "${schema}".migrations ORDER BY name`,
        {
          type: QueryTypes.SELECT,
        },
      );
      expect(applied.map(r => r.name)).toEqual(["0001-init", "0002-add-pinned"]);
    } finally {
      await check.close();
    }
  });

  test("when two holders take the same advisory lock at once, then their critical sections never overlap", async () => {
    const first = sequelize();
    const second = sequelize();
    const timeline: string[] = [];
    let waited = false;
    const hold = async (who: string) => {
      timeline.push(`${who} in`);
      await new Promise(resolve => setTimeout(resolve, 300));
      timeline.push(`${who} out`);
    };
    try {
      await Promise.all([
        withAdvisoryLock(first, "spec-lock", () => hold("first")),
        new Promise(resolve => setTimeout(resolve, 50)).then(() =>
          withAdvisoryLock(second, "spec-lock", () => hold("second"), {
            onWait: () => {
              waited = true;
            },
          }),
        ),
      ]);
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
    expect(timeline).toEqual(["first in", "first out", "second in", "second out"]);
    expect(waited).toBe(true);
  });
});
