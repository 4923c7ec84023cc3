import type { Transaction } from "sequelize";
import { B, change, first, type BillingDb } from "./db";

/** Customers: a user's Stripe customer, and the user's billing-event counter. */

export async function customerIdOf(
  db: BillingDb,
  userId: string,
  t?: Transaction,
): Promise<string | undefined> {
  const row = await first<{ stripe_customer_id: string }>(
    db,
    `SELECT stripe_customer_id FROM ${B}.customers WHERE user_id = :userId`,
    { userId },
    t,
  );
  return row?.stripe_customer_id;
}

export async function userOfCustomer(
  db: BillingDb,
  customerId: string,
  t?: Transaction,
): Promise<string | undefined> {
  const row = await first<{ user_id: string }>(
    db,
    `SELECT user_id FROM ${B}.customers WHERE stripe_customer_id = :customerId`,
    { customerId },
    t,
  );
  return row?.user_id;
}

/** Keeps the first customer recorded for a user (the provider answers the same one anyway). */
export async function saveCustomer(
  db: BillingDb,
  userId: string,
  customerId: string,
  t?: Transaction,
): Promise<void> {
  await change(
    db,
    `INSERT INTO ${B}.customers (user_id, stripe_customer_id) VALUES (:userId, :customerId)
     ON CONFLICT DO NOTHING`,
    { userId, customerId },
    t,
  );
}

/** The user's next billing-event sequence (events.md: a per-aggregate version in every event). */
export async function nextSequence(db: BillingDb, userId: string, t: Transaction): Promise<number> {
  const row = await first<{ sequence: string }>(
    db,
    `UPDATE ${B}.customers SET sequence = sequence + 1 WHERE user_id = :userId RETURNING sequence`,
    { userId },
    t,
  );
  return Number(row?.sequence ?? 0);
}
