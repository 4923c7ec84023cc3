import type { Transaction } from "sequelize";
import { B, change, first, type BillingDb } from "./db";

/**
 * Erasure (user.deleted): invoices stay, as the law keeps them (amount, number, dates, the
 * provider's PDF), no longer linked to the user; the rest of the user's billing data goes,
 * and a tombstone keeps late provider events from writing it again.
 */

export async function isErased(db: BillingDb, userId: string, t?: Transaction): Promise<boolean> {
  const row = await first(
    db,
    `SELECT 1 AS erased FROM ${B}.erased_users WHERE user_id = :userId`,
    { userId },
    t,
  );
  return row !== undefined;
}

export async function eraseBillingData(
  db: BillingDb,
  userId: string,
  t: Transaction,
): Promise<void> {
  await change(
    db,
    `INSERT INTO ${B}.erased_users (user_id) VALUES (:userId) ON CONFLICT (user_id) DO NOTHING`,
    { userId },
    t,
  );
  await change(
    db,
    `UPDATE ${B}.invoices SET user_id = NULL WHERE user_id = :userId`,
    { userId },
    t,
  );
  await change(db, `DELETE FROM ${B}.subscriptions WHERE user_id = :userId`, { userId }, t);
  await change(db, `DELETE FROM ${B}.customers WHERE user_id = :userId`, { userId }, t);
}
