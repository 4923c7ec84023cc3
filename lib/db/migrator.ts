import type { QueryInterface, Sequelize } from "sequelize";
import { SequelizeStorage, Umzug, type MigrationParams } from "umzug";
import { withAdvisoryLock } from "./advisory-lock";

/** What every migration receives as `context`. */
interface MigrationContext {
  sequelize: Sequelize;
  queryInterface: QueryInterface;
  /** The service's PostgreSQL schema: pass it as `{ schema, tableName }` or qualify raw SQL with it. */
  schema: string;
}

/**
 * One schema change, applied once per database in list order and recorded by name in
 * `<schema>.migrations`. Never rename or edit one that has shipped; add a new one.
 * Embedded-store caveat: a migration that opens a transaction must pass `{ transaction }`
 * to every query inside it.
 */
export interface Migration {
  name: string;
  up(params: MigrationParams<MigrationContext>): Promise<unknown>;
  down?(params: MigrationParams<MigrationContext>): Promise<unknown>;
}

/** Name of the table, in each service's schema, that records applied migrations. */
const MIGRATIONS_TABLE = "migrations";

export interface MigrateOptions {
  sequelize: Sequelize;
  schema: string;
  migrations: readonly Migration[];
  /** Runs under the same lock after the migrations (e.g. creating tables no migration made). */
  afterMigrations?: () => Promise<void>;
  log?: { info(message: string): void; warn(message: string): void };
  /** The embedded store: its advisory locks do not exclude, so lock in-process too. */
  embedded?: boolean;
}

function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function migrationLockKey(schema: string): string {
  return `migrate:${schema}`;
}

/**
 * Brings `schema` up to date: creates it if missing, then applies the pending migrations,
 * all under an advisory lock keyed by the schema, so when many nodes start at once one
 * migrates and the others wait, then find nothing left to do. Returns the names applied.
 */
export async function migrate({
  sequelize,
  schema,
  migrations,
  afterMigrations,
  log,
  embedded,
}: MigrateOptions): Promise<string[]> {
  const names = new Set<string>();
  for (const migration of migrations) {
    if (names.has(migration.name))
      throw new Error(`migration "${migration.name}" of schema ${schema} is listed twice`);
    names.add(migration.name);
  }
  return withAdvisoryLock(
    sequelize,
    migrationLockKey(schema),
    async () => {
      await sequelize.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(schema)}`);
      const umzug = new Umzug<MigrationContext>({
        migrations: migrations.map(m => ({ name: m.name, up: m.up, down: m.down })),
        context: { sequelize, queryInterface: sequelize.getQueryInterface(), schema },
        storage: new SequelizeStorage({
          sequelize,
          schema,
          modelName: `${schema}.migrations`,
          tableName: MIGRATIONS_TABLE,
          timestamps: true,
        }),
        logger: undefined,
      });
      umzug.on("migrating", ({ name }) => log?.info(`applying migration ${schema}/${name}`));
      const applied = (await umzug.up()).map(m => m.name);
      if (afterMigrations) await afterMigrations();
      return applied;
    },
    {
      onWait: () => log?.info(`schema ${schema} is being migrated by another node; waiting`),
      inProcess: embedded,
    },
  );
}
