import type { Sequelize } from "sequelize";

/** The users service's database for the stores written over lib/db/sql.ts: its Sequelize and schema. */
export interface UsersDb {
  sequelize: Sequelize;
  schema: string;
}

/** `"schema".table`, quoted. */
export function tableOf(db: UsersDb, table: string): string {
  return `"${db.schema.replace(/"/g, '""')}".${table}`;
}
