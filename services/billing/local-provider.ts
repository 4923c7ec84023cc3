import crypto from "node:crypto";
import Stripe from "stripe";
import type { CheckoutRequest, PaymentProvider, ProviderSubscription } from "./provider";
import { stripeEvents } from "./stripe-provider";

/**
 * The embedded default when no Stripe keys are set (config.md; refused in cluster mode): a
 * payment provider inside this process whose checkout page (`/billing/local-checkout/:id` on
 * the gateway) completes the payment at once and delivers the same webhook events Stripe
 * would, signed with a secret of this process, to the same webhook handler. So a newcomer
 * sees the whole flow — checkout, trial, entitlements, invoices — with nothing to set up.
 * Its state lives in memory: a restart forgets its sessions (subscriptions stay in billing's
 * tables, as they would after Stripe's events).
 */

const DAY_SECONDS = 86_400;

interface LocalSubscription {
  id: string;
  customer: string;
  status: "trialing" | "active" | "canceled";
  cancelAtPeriodEnd: boolean;
  created: number;
  periodEnd: number;
  userId: string;
  planId: string;
}

interface LocalSession {
  request: CheckoutRequest;
  completed: boolean;
}

interface LocalDelivery {
  payload: string;
  signature: string;
}

export interface LocalProvider extends PaymentProvider {
  /** What the checkout page shows; undefined for an unknown session. */
  session(id: string): { plan: CheckoutRequest["plan"]; cancelUrl: string } | undefined;
  /** The learner paid: the events to deliver, and where to send the learner. */
  complete(id: string): { deliveries: LocalDelivery[]; successUrl: string } | undefined;
}

const newId = (prefix: string) => `${prefix}_local_${crypto.randomBytes(8).toString("hex")}`;
const now = () => Math.floor(Date.now() / 1000);

export function localProvider(pageBase: string): LocalProvider {
  const secret = `whsec_${crypto.randomBytes(24).toString("hex")}`;
  const verifier = stripeEvents(secret);
  const sessions = new Map<string, LocalSession>();
  const subscriptions = new Map<string, LocalSubscription>();
  const payments = new Map<string, string>();

  const event = (type: string, object: object) => {
    const payload = JSON.stringify({
      id: newId("evt"),
      object: "event",
      type,
      created: now(),
      api_version: Stripe.API_VERSION,
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      data: { object },
    });
    return { payload, signature: Stripe.webhooks.generateTestHeaderString({ payload, secret }) };
  };

  function subscription(id: string): LocalSubscription {
    const found = subscriptions.get(id);
    if (!found) throw new Error(`the local provider has no subscription ${id}`);
    return found;
  }

  const view = (sub: LocalSubscription): ProviderSubscription => ({
    id: sub.id,
    customerId: sub.customer,
    userId: sub.userId,
    planId: sub.planId,
    status: sub.status,
    currentPeriodEnd: new Date(sub.periodEnd * 1000),
    cancelAtPeriodEnd: sub.cancelAtPeriodEnd,
    createdAt: new Date(sub.created * 1000),
  });

  /** The subscription in Stripe's shape, as its events carry it. */
  const stripeShape = (sub: LocalSubscription) => ({
    id: sub.id,
    object: "subscription",
    customer: sub.customer,
    status: sub.status,
    cancel_at_period_end: sub.cancelAtPeriodEnd,
    created: sub.created,
    metadata: { userId: sub.userId, planId: sub.planId },
    items: { object: "list", data: [{ id: `si_${sub.id}`, current_period_end: sub.periodEnd }] },
  });

  return {
    async createCustomer() {
      return newId("cus");
    },

    async createCheckoutSession(request) {
      const id = newId("cs");
      sessions.set(id, { request, completed: false });
      return { id, url: `${pageBase}/billing/local-checkout/${id}` };
    },

    async createPortalSession(_customerId, returnUrl) {
      // No portal here: the app's own billing page (cancel and resume work through the API).
      return returnUrl;
    },

    async retrieveSubscription(id) {
      return view(subscription(id));
    },

    async setCancelAtPeriodEnd(id, cancel) {
      const sub = subscription(id);
      sub.cancelAtPeriodEnd = cancel;
      return view(sub);
    },

    async createCoupon() {
      return newId("coupon");
    },

    async paymentOfInvoice(invoiceId) {
      return payments.get(invoiceId);
    },

    async refund(_paymentIntent, amount) {
      return { id: newId("re"), amount: amount ?? 0, status: "succeeded" };
    },

    async deleteCustomer(customerId) {
      for (const sub of subscriptions.values())
        if (sub.customer === customerId) sub.status = "canceled";
    },

    verifyEvent(payload, signature) {
      return verifier(payload, signature);
    },

    session(id) {
      const found = sessions.get(id);
      if (!found || found.completed) return undefined;
      return { plan: found.request.plan, cancelUrl: found.request.cancelUrl };
    },

    complete(id) {
      const found = sessions.get(id);
      if (!found || found.completed) return undefined;
      found.completed = true;
      const { request } = found;
      const { plan } = request;
      const start = now();
      const trialing = plan.trialDays > 0;
      const periodDays = trialing ? plan.trialDays : plan.interval === "year" ? 365 : 30;
      const sub: LocalSubscription = {
        id: newId("sub"),
        customer: request.customerId,
        status: trialing ? "trialing" : "active",
        cancelAtPeriodEnd: false,
        created: start,
        periodEnd: start + periodDays * DAY_SECONDS,
        userId: request.userId,
        planId: plan.id,
      };
      subscriptions.set(sub.id, sub);
      const deliveries = [
        event("checkout.session.completed", {
          id,
          object: "checkout.session",
          customer: request.customerId,
          client_reference_id: request.userId,
          subscription: sub.id,
        }),
        event("customer.subscription.created", stripeShape(sub)),
      ];
      if (!trialing) {
        const invoiceId = newId("in");
        payments.set(invoiceId, newId("pi"));
        deliveries.push(
          event("invoice.paid", {
            id: invoiceId,
            object: "invoice",
            customer: request.customerId,
            number: null,
            amount_due: plan.amount,
            amount_paid: plan.amount,
            currency: plan.currency,
            status: "paid",
            created: start,
            status_transitions: { paid_at: start },
            invoice_pdf: null,
            parent: { subscription_details: { subscription: sub.id } },
          }),
        );
      }
      return { deliveries, successUrl: request.successUrl };
    },
  };
}
