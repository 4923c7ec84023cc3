import type { Transaction } from "sequelize";
import type { SubscriptionStatus } from "../../../models/billing.model";
import { B, change, first, type BillingDb } from "./db";

/** Subscriptions: each one as last read from the provider. */

export interface SubscriptionRow {
  id: string;
  user_id: string;
  plan_id: string | null;
  status: SubscriptionStatus;
  current_period_end: Date | null;
  cancel_at_period_end: boolean;
  past_due_since: Date | null;
}

export interface SubscriptionState {
  id: string;
  userId: string;
  planId: string | null;
  status: SubscriptionStatus;
  currentPeriodEnd: Date | null;
  cancelAtPeriodEnd: boolean;
  createdAt: Date;
  /** When the read from the provider began: an older read never overwrites a newer one. */
  readAt: Date;
}

const COLUMNS =
  "id, user_id, plan_id, status, current_period_end, cancel_at_period_end, past_due_since";

/** The user's subscription that counts: the newest running one, else the newest of all. */
export const currentSubscriptionOf = (db: BillingDb, userId: string, t?: Transaction) =>
  first<SubscriptionRow>(
    db,
    `SELECT ${COLUMNS} FROM ${B}.subscriptions WHERE user_id = :userId
     ORDER BY (status IN ('trialing', 'active', 'past_due')) DESC, created_at DESC LIMIT 1`,
    { userId },
    t,
  );

export const lockSubscription = (db: BillingDb, id: string, t: Transaction) =>
  first<SubscriptionRow>(
    db,
    `SELECT ${COLUMNS} FROM ${B}.subscriptions WHERE id = :id FOR UPDATE`,
    { id },
    t,
  );

/**
 * Serialises the changes of one user's subscriptions across nodes (two events of one
 * subscription arriving at once), for the rest of the transaction.
 */
export async function lockUserBilling(
  db: BillingDb,
  userId: string,
  t: Transaction,
): Promise<void> {
  await first(
    db,
    `SELECT pg_advisory_xact_lock(hashtext(:key)) AS locked`,
    { key: `billing:${userId}` },
    t,
  );
}

/** Stores the state unless a newer read is stored already; true when it was stored. */
export async function saveSubscription(
  db: BillingDb,
  state: SubscriptionState,
  t: Transaction,
): Promise<boolean> {
  const changed = await change(
    db,
    `INSERT INTO ${B}.subscriptions
       (id, user_id, plan_id, status, current_period_end, cancel_at_period_end, past_due_since,
        created_at, read_at)
     VALUES (:id, :userId, :planId, :status, :currentPeriodEnd, :cancelAtPeriodEnd, :pastDueSince,
        :createdAt, :readAt)
     ON CONFLICT (id) DO UPDATE SET
       plan_id = COALESCE(EXCLUDED.plan_id, subscriptions.plan_id),
       status = EXCLUDED.status,
       current_period_end = EXCLUDED.current_period_end,
       cancel_at_period_end = EXCLUDED.cancel_at_period_end,
       past_due_since = CASE WHEN EXCLUDED.status = 'past_due'
         THEN COALESCE(subscriptions.past_due_since, EXCLUDED.past_due_since) END,
       read_at = EXCLUDED.read_at
     WHERE subscriptions.read_at < EXCLUDED.read_at`,
    { ...state, pastDueSince: state.status === "past_due" ? state.readAt : null },
    t,
  );
  return changed > 0;
}
