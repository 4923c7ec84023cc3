import type { Transaction } from "sequelize";
import { execute, selectRows } from "../../../lib/db/sql";
import { tableOf, type UsersDb } from "./db";

/** A provider's account linked to one of ours, matched by (issuer, subject). */
export interface IdentityRow {
  id: string;
  userId: string;
  provider: string;
  issuer: string;
  subject: string;
  email: string | null;
  linkedAt: Date;
}

const COLUMNS = `id, user_id AS "userId", provider, issuer, subject, email, linked_at AS "linkedAt"`;

export async function findIdentity(
  db: UsersDb,
  issuer: string,
  subject: string,
  t?: Transaction,
): Promise<IdentityRow | undefined> {
  const [row] = await selectRows<IdentityRow>(
    db.sequelize,
    `SELECT ${COLUMNS} FROM ${tableOf(db, "identities")} WHERE issuer = $1 AND subject = $2`,
    { bind: [issuer, subject], transaction: t },
  );
  return row;
}

export function identitiesOf(db: UsersDb, userId: string, t?: Transaction): Promise<IdentityRow[]> {
  return selectRows<IdentityRow>(
    db.sequelize,
    `SELECT ${COLUMNS} FROM ${tableOf(db, "identities")} WHERE user_id = $1 ORDER BY linked_at, id`,
    { bind: [userId], transaction: t },
  );
}

export async function insertIdentity(db: UsersDb, t: Transaction, row: IdentityRow): Promise<void> {
  await execute(
    db.sequelize,
    `INSERT INTO ${tableOf(db, "identities")} (id, user_id, provider, issuer, subject, email, linked_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    {
      bind: [row.id, row.userId, row.provider, row.issuer, row.subject, row.email, row.linkedAt],
      transaction: t,
    },
  );
}

/** Answers whether the user had that identity. */
export async function deleteIdentity(
  db: UsersDb,
  t: Transaction,
  userId: string,
  id: string,
): Promise<boolean> {
  const count = await execute(
    db.sequelize,
    `DELETE FROM ${tableOf(db, "identities")} WHERE id = $1 AND user_id = $2`,
    { bind: [id, userId], transaction: t },
  );
  return count > 0;
}
