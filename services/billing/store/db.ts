import type { Sequelize, Transaction } from "sequelize";
import { execute, selectRows } from "../../../lib/db/sql";

/** The billing schema's statements over the shared SQL helper, in the caller's transaction. */

export const SCHEMA = "billing";
export const B = `"${SCHEMA}"`;

export interface BillingDb {
  sequelize: Sequelize;
}

type Values = Record<string, unknown>;

export const select = <T extends object>(
  db: BillingDb,
  sql: string,
  values: Values,
  t?: Transaction,
) => selectRows<T>(db.sequelize, sql, { replacements: values, transaction: t });

export async function first<T extends object>(
  db: BillingDb,
  sql: string,
  values: Values,
  t?: Transaction,
): Promise<T | undefined> {
  const [row] = await select<T>(db, sql, values, t);
  return row;
}

/** How many rows the statement changed. */
export const change = (db: BillingDb, sql: string, values: Values, t?: Transaction) =>
  execute(db.sequelize, sql, { replacements: values, transaction: t });
