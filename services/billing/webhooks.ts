import type { BillingDeps, Caller } from "./deps";
import { badSignature } from "./errors";
import type { Transaction } from "sequelize";
import {
  InvalidSignature,
  type PaymentProvider,
  type ProviderEvent,
  type ProviderInvoice,
} from "./provider";
import { nextSequence, userOfCustomer } from "./store/customers";
import { isErased } from "./store/erasure";
import { claimEvent, wasProcessed } from "./store/events";
import { recordRefunded, saveInvoice } from "./store/invoices";
import { applySubscription } from "./subscriptions";

/**
 * Stripe's webhook deliveries: verified over the raw body before anything is read, applied
 * once whichever node receives them, in any order. Order does not matter because a
 * subscription is never taken from the event: each event names it, and it is read again from
 * Stripe (the newest read wins, services/billing/store/subscriptions.ts); invoices only move
 * forward (draft → open → paid), refunds only grow.
 */

function verified(provider: PaymentProvider, payload: string, signature: string | undefined) {
  try {
    return provider.verifyEvent(payload, signature);
  } catch (err) {
    if (err instanceof InvalidSignature) throw badSignature();
    throw err;
  }
}

/** The subscription an event concerns, if any. */
function subscriptionIdOf(event: ProviderEvent): string | null {
  switch (event.kind) {
    case "subscription":
      return event.subscriptionId;
    case "checkout":
      return event.subscriptionId;
    case "invoice":
      return event.invoice.subscriptionId;
    default:
      return null;
  }
}

/** The receipt, or the news of a failed payment, for notify to mail (once per Stripe event). */
async function announceInvoice(
  deps: BillingDeps,
  type: string,
  invoice: ProviderInvoice,
  userId: string,
  t: Transaction,
  ctx: Caller,
): Promise<void> {
  const base = {
    sequence: await nextSequence(deps.db, userId, t),
    userId,
    invoiceId: invoice.id,
    number: invoice.number,
    amount: invoice.amount,
    currency: invoice.currency,
  };
  if (type === "invoice.paid") {
    const paidAt = invoice.paidAt ? invoice.paidAt.toISOString() : null;
    await deps.emit(
      "billing.invoice.paid",
      { ...base, paidAt, pdfUrl: invoice.pdfUrl },
      { transaction: t, ctx },
    );
  } else {
    await deps.emit("billing.invoice.payment_failed", base, { transaction: t, ctx });
  }
}

export async function receiveWebhook(
  deps: BillingDeps,
  payload: string,
  signature: string | undefined,
  ctx: Caller,
): Promise<{ received: true }> {
  const { provider } = deps;
  const event = verified(provider, payload, signature);
  if (event.kind === "ignored" || (await wasProcessed(deps.db, event.id)))
    return { received: true };
  // Read outside the transaction: no database transaction waits on Stripe.
  const readAt = deps.now();
  const subscriptionId = subscriptionIdOf(event);
  const subscription = subscriptionId
    ? await provider.retrieveSubscription(subscriptionId)
    : undefined;
  // The payment of a paid invoice is what charge.refunded names (and what a refund refunds).
  const paymentIntent =
    event.kind === "invoice" && event.invoice.status === "paid"
      ? await provider.paymentOfInvoice(event.invoice.id)
      : undefined;
  const changed = await deps.withTransaction(async t => {
    if (!(await claimEvent(deps.db, event, t))) return false;
    // The subscription first: it records the customer an invoice of a new user is found by.
    const emitted = subscription
      ? await applySubscription(deps, subscription, readAt, t, ctx)
      : false;
    if (event.kind === "invoice") {
      const { invoice } = event;
      const known =
        (invoice.customerId ? await userOfCustomer(deps.db, invoice.customerId, t) : undefined) ??
        subscription?.userId;
      const userId = known && !(await isErased(deps.db, known, t)) ? known : null;
      await saveInvoice(deps.db, invoice, userId, paymentIntent, t);
      if (userId) await announceInvoice(deps, event.type, invoice, userId, t, ctx);
    }
    if (event.kind === "refund") {
      await recordRefunded(deps.db, event.paymentIntent, event.amountRefunded, t);
    }
    return emitted;
  });
  if (changed) await deps.entitlementsChanged(ctx);
  return { received: true };
}
