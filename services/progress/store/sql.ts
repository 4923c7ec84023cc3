import { QueryTypes, type Sequelize, type Transaction } from "sequelize";

/**
 * The SQL helpers of the progress schema. Every write takes the caller's transaction;
 * reads that happen inside one take it too (the embedded store serves one transaction at
 * a time, so a query outside it would wait for ever).
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
  return db.sequelize.query<T>(sql, { replacements, type: QueryTypes.SELECT, transaction: t });
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
  await db.sequelize.query(sql, { replacements, type: QueryTypes.RAW, transaction: t });
}

/** PostgreSQL's unique_violation (23505), however Sequelize wraps it. */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as {
    name?: string;
    parent?: { code?: string };
    original?: { code?: string };
    code?: string;
  };
  return (
    e?.name === "SequelizeUniqueConstraintError" ||
    e?.parent?.code === "23505" ||
    e?.original?.code === "23505" ||
    e?.code === "23505"
  );
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
