import type { Transaction } from "sequelize";
import {
  PREMIUM_FEATURE,
  type Entitlements,
  type InvoiceView,
  type SubscriptionStatus,
  type SubscriptionView,
} from "../../models/billing.model";
import type { BillingDeps, Caller } from "./deps";
import { noSubscription, notCancelled } from "./errors";
import type { ProviderSubscription } from "./provider";
import { saveCustomer, nextSequence, userOfCustomer } from "./store/customers";
import { isErased } from "./store/erasure";
import { invoicesOf, toInvoiceView } from "./store/invoices";
import { featuresOf } from "./store/plans";
import {
  currentSubscriptionOf,
  lockSubscription,
  lockUserBilling,
  saveSubscription,
  type SubscriptionRow,
} from "./store/subscriptions";

/** A learner's subscription, its entitlements and invoices; cancel and resume. */

const RUNNING: readonly SubscriptionStatus[] = ["trialing", "active", "past_due"];

/** Stripe's statuses in the contract's words: unpaid still owes (past due); the unfinished are none. */
export function statusOf(providerStatus: string): SubscriptionStatus {
  switch (providerStatus) {
    case "trialing":
    case "active":
    case "past_due":
    case "canceled":
      return providerStatus;
    case "unpaid":
      return "past_due";
    case "incomplete_expired":
      return "canceled";
    default:
      return "none";
  }
}

/** Premium while trialing or active, and through the grace period once a payment is overdue. */
export function isPremium(row: SubscriptionRow | undefined, now: Date, graceMs: number): boolean {
  if (!row) return false;
  if (row.status === "trialing" || row.status === "active") return true;
  if (row.status !== "past_due") return false;
  const since = row.past_due_since ? new Date(row.past_due_since).getTime() : now.getTime();
  return now.getTime() < since + graceMs;
}

const toView = (row: SubscriptionRow | undefined): SubscriptionView =>
  row
    ? {
        planId: row.plan_id,
        status: row.status,
        currentPeriodEnd: row.current_period_end
          ? new Date(row.current_period_end).toISOString()
          : null,
        cancelAtPeriodEnd: row.cancel_at_period_end,
      }
    : { planId: null, status: "none", currentPeriodEnd: null, cancelAtPeriodEnd: false };

export async function mySubscription(deps: BillingDeps, userId: string): Promise<SubscriptionView> {
  return toView(await currentSubscriptionOf(deps.db, userId));
}

export async function entitlementsOf(deps: BillingDeps, userId: string): Promise<Entitlements> {
  const row = await currentSubscriptionOf(deps.db, userId);
  if (!isPremium(row, deps.now(), deps.graceMs)) return { premium: false, features: [] };
  const features = await featuresOf(deps.db, row?.plan_id ?? null);
  return { premium: true, features: [...new Set([PREMIUM_FEATURE, ...features])] };
}

export async function myInvoices(deps: BillingDeps, userId: string): Promise<InvoiceView[]> {
  return (await invoicesOf(deps.db, userId)).map(toInvoiceView);
}

/**
 * Stores a subscription as just read from the provider (read began at `readAt`) and, when
 * what a learner sees of it changed, emits billing.subscription.changed in the same
 * transaction. True when it emitted.
 */
export async function applySubscription(
  deps: BillingDeps,
  sub: ProviderSubscription,
  readAt: Date,
  t: Transaction,
  ctx?: Caller,
): Promise<boolean> {
  const userId = (await userOfCustomer(deps.db, sub.customerId, t)) ?? sub.userId;
  if (!userId) {
    deps.logger.warn(`billing: subscription ${sub.id} belongs to no user of ours; ignored`);
    return false;
  }
  await lockUserBilling(deps.db, userId, t);
  if (await isErased(deps.db, userId, t)) return false;
  await saveCustomer(deps.db, userId, sub.customerId, t);
  const before = await lockSubscription(deps.db, sub.id, t);
  const state = {
    id: sub.id,
    userId,
    planId: sub.planId ?? null,
    status: statusOf(sub.status),
    currentPeriodEnd: sub.currentPeriodEnd,
    cancelAtPeriodEnd: sub.cancelAtPeriodEnd,
    createdAt: sub.createdAt,
    readAt,
  };
  if (!(await saveSubscription(deps.db, state, t))) return false;
  const after = await lockSubscription(deps.db, sub.id, t);
  if (!after || !differs(before, after)) return false;
  const current = await currentSubscriptionOf(deps.db, userId, t);
  await deps.emit(
    "billing.subscription.changed",
    {
      sequence: await nextSequence(deps.db, userId, t),
      userId,
      subscriptionId: after.id,
      planId: after.plan_id,
      status: after.status,
      currentPeriodEnd: toView(after).currentPeriodEnd,
      cancelAtPeriodEnd: after.cancel_at_period_end,
      premium: isPremium(current, deps.now(), deps.graceMs),
    },
    { transaction: t, ctx },
  );
  return true;
}

function differs(before: SubscriptionRow | undefined, after: SubscriptionRow): boolean {
  if (!before) return true;
  const time = (value: Date | null) => (value ? new Date(value).getTime() : null);
  return (
    before.status !== after.status ||
    before.plan_id !== after.plan_id ||
    before.cancel_at_period_end !== after.cancel_at_period_end ||
    time(before.current_period_end) !== time(after.current_period_end)
  );
}

/** Cancels at the period's end (true) or undoes that before then (false). */
export async function setCancelAtPeriodEnd(
  deps: BillingDeps,
  userId: string,
  cancel: boolean,
  ctx: Caller,
): Promise<SubscriptionView> {
  const { provider } = deps;
  const current = await currentSubscriptionOf(deps.db, userId);
  if (!current || !RUNNING.includes(current.status)) throw noSubscription();
  if (!cancel && !current.cancel_at_period_end) throw notCancelled();
  const readAt = deps.now();
  const updated = await provider.setCancelAtPeriodEnd(current.id, cancel);
  const emitted = await deps.withTransaction(t => applySubscription(deps, updated, readAt, t, ctx));
  if (emitted) await deps.entitlementsChanged(ctx);
  return mySubscription(deps, userId);
}
