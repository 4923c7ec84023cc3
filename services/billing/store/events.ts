import type { Transaction } from "sequelize";
import { B, change, first, type BillingDb } from "./db";

/** Processed webhook events: the record that makes each Stripe event change our state once. */

export async function wasProcessed(db: BillingDb, id: string): Promise<boolean> {
  return (
    (await first(db, `SELECT 1 AS found FROM ${B}.webhook_events WHERE id = :id`, { id })) !==
    undefined
  );
}

/**
 * Claims the event in the transaction that applies it: false when another delivery (another
 * node) has applied it — a concurrent claim waits for that one to commit, then sees it.
 */
export async function claimEvent(
  db: BillingDb,
  event: { id: string; type: string },
  t: Transaction,
): Promise<boolean> {
  const inserted = await change(
    db,
    `INSERT INTO ${B}.webhook_events (id, type) VALUES (:id, :type) ON CONFLICT (id) DO NOTHING`,
    event,
    t,
  );
  return inserted > 0;
}
