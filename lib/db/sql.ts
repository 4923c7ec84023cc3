import { QueryTypes, type Sequelize, type Transaction } from "sequelize";

/**
 * The one SQL helper of the PostgreSQL stores (progress/store, notify's store, content's
 * Postgres repository, the durable events' outbox store): a statement with named `:name`
 * replacements or positional `$1` bind values, run in the caller's transaction when there is
 * one — inside a transaction every query must take it (the embedded store serves one
 * transaction at a time, so a query outside it would wait for ever).
 */

export interface SqlValues {
  /** Values of `:name` placeholders, escaped into the statement by Sequelize. */
  replacements?: Record<string, unknown>;
  /** Values of `$1`… placeholders, sent to PostgreSQL as parameters. */
  bind?: unknown[];
  transaction?: Transaction | null;
}

export function selectRows<T extends object>(
  sequelize: Sequelize,
  sql: string,
  values: SqlValues = {},
): Promise<T[]> {
  return sequelize.query<T>(sql, { ...values, type: QueryTypes.SELECT });
}

/** Runs a statement and answers how many rows it changed. */
export async function execute(
  sequelize: Sequelize,
  sql: string,
  values: SqlValues = {},
): Promise<number> {
  const [, meta] = await sequelize.query(sql, { ...values, type: QueryTypes.RAW });
  // Sequelize answers INSERT/UPDATE with the row count itself, anything else with pg's result.
  if (typeof meta === "number") return meta;
  return (meta as { rowCount?: number } | undefined)?.rowCount ?? 0;
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
