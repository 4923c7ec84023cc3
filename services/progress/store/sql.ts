import type { Sequelize, Transaction } from "sequelize";
import { execute, selectRows } from "../../../lib/db/sql";

/**
 * The progress schema's queries, with named `:replacements`, over the shared SQL helper
 * (lib/db/sql.ts). Every write takes the caller's transaction; reads inside one take it too.
 */

export const SCHEMA = "progress";
export const S = `"${SCHEMA}"`;

export interface Db {
  sequelize: Sequelize;
}

export type Replacements = Record<string, unknown>;

export async function rows<T extends object>(
  db: Db,
  sql: string,
  replacements: Replacements = {},
  t?: Transaction,
): Promise<T[]> {
  return selectRows<T>(db.sequelize, sql, { replacements, transaction: t });
}

export async function one<T extends object>(
  db: Db,
  sql: string,
  replacements: Replacements = {},
  t?: Transaction,
): Promise<T | undefined> {
  return (await rows<T>(db, sql, replacements, t))[0];
}

export async function exec(
  db: Db,
  sql: string,
  replacements: Replacements = {},
  t?: Transaction,
): Promise<void> {
  await execute(db.sequelize, sql, { replacements, transaction: t });
}

/** The number a `SELECT COUNT(*) AS n …` answers (PostgreSQL gives bigints as text). */
export async function count(
  db: Db,
  sql: string,
  replacements: Replacements = {},
  t?: Transaction,
): Promise<number> {
  const row = await one<{ n: string }>(db, sql, replacements, t);
  return Number(row?.n ?? 0);
}

/** A cluster-wide, transaction-scoped lock: false when another node holds it. */
export async function tryAdvisoryLock(db: Db, key: number, t: Transaction): Promise<boolean> {
  const row = await one<{ locked: boolean }>(
    db,
    `SELECT pg_try_advisory_xact_lock(:key) AS locked`,
    { key },
    t,
  );
  return row?.locked === true;
}
