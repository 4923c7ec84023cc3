import Stripe from "stripe";
import type { StripeConfig } from "../../lib/config";
import {
  InvalidSignature,
  type CheckoutRequest,
  type NewCoupon,
  type PaymentProvider,
  type ProviderEvent,
  type ProviderInvoice,
  type ProviderSubscription,
} from "./provider";

/** Stripe's `Stripe-Signature` tolerance (security.md line 27; api.md: 5 minutes). */
const SIGNATURE_TOLERANCE_SECONDS = 300;

const idOf = (value: string | { id: string } | null | undefined): string | null =>
  value === null || value === undefined ? null : typeof value === "string" ? value : value.id;

const dateOf = (seconds: number | null | undefined): Date | null =>
  seconds === null || seconds === undefined ? null : new Date(seconds * 1000);

function subscriptionOf(sub: Stripe.Subscription): ProviderSubscription {
  // Since API 2025-03-31 the period belongs to each item; a subscription of ours has one.
  const periodEnds = sub.items.data.map(item => item.current_period_end);
  return {
    id: sub.id,
    customerId: idOf(sub.customer) ?? "",
    userId: sub.metadata.userId,
    planId: sub.metadata.planId,
    status: sub.status,
    currentPeriodEnd: periodEnds.length > 0 ? dateOf(Math.max(...periodEnds)) : null,
    cancelAtPeriodEnd: sub.cancel_at_period_end,
    createdAt: new Date(sub.created * 1000),
  };
}

function invoiceOf(invoice: Stripe.Invoice): ProviderInvoice {
  return {
    id: invoice.id,
    customerId: idOf(invoice.customer),
    subscriptionId: idOf(invoice.parent?.subscription_details?.subscription),
    number: invoice.number,
    amount: invoice.status === "paid" ? invoice.amount_paid : invoice.amount_due,
    currency: invoice.currency,
    status: invoice.status ?? "draft",
    paidAt: dateOf(invoice.status_transitions.paid_at),
    pdfUrl: invoice.invoice_pdf ?? null,
    createdAt: new Date(invoice.created * 1000),
  };
}

function eventOf(event: Stripe.Event): ProviderEvent {
  const base = { id: event.id, type: event.type };
  switch (event.type) {
    case "customer.subscription.created":
    case "customer.subscription.updated":
    case "customer.subscription.deleted":
      return { ...base, kind: "subscription", subscriptionId: event.data.object.id };
    case "checkout.session.completed": {
      const session = event.data.object;
      return {
        ...base,
        kind: "checkout",
        subscriptionId: idOf(session.subscription),
        userId: session.client_reference_id,
      };
    }
    case "invoice.paid":
    case "invoice.payment_failed":
      return { ...base, kind: "invoice", invoice: invoiceOf(event.data.object) };
    case "charge.refunded": {
      const paymentIntent = idOf(event.data.object.payment_intent);
      if (!paymentIntent) return { ...base, kind: "ignored" };
      return {
        ...base,
        kind: "refund",
        paymentIntent,
        amountRefunded: event.data.object.amount_refunded,
      };
    }
    default:
      return { ...base, kind: "ignored" };
  }
}

/**
 * Verifies a webhook delivery with the library (signature over the raw body, five-minute
 * tolerance) and reduces its event to what billing applies.
 */
export function stripeEvents(
  webhookSecret: string,
): (payload: string, signature: string | undefined) => ProviderEvent {
  const webhooks = Stripe.webhooks;
  return (payload, signature) => {
    if (!signature) throw new InvalidSignature("no Stripe-Signature header");
    try {
      return eventOf(
        webhooks.constructEvent(payload, signature, webhookSecret, SIGNATURE_TOLERANCE_SECONDS),
      );
    } catch (err) {
      if (err instanceof Stripe.errors.StripeSignatureVerificationError)
        throw new InvalidSignature(err.message);
      throw err;
    }
  };
}

/** STRIPE_API_URL points the library at a double (tests); unset, it talks to api.stripe.com. */
function connectionOf(apiUrl: string | undefined): Stripe.StripeConfig {
  if (!apiUrl) return {};
  const url = new URL(apiUrl);
  const protocol = url.protocol === "http:" ? "http" : "https";
  return {
    host: url.hostname,
    port: url.port || (protocol === "http" ? 80 : 443),
    protocol,
  };
}

export function stripeProvider(cfg: StripeConfig): PaymentProvider {
  const stripe = new Stripe(cfg.secretKey, {
    ...connectionOf(cfg.apiUrl),
    maxNetworkRetries: 2,
    timeout: 10_000,
    telemetry: false,
  });
  return {
    async createCustomer(userId) {
      const customer = await stripe.customers.create(
        { metadata: { userId } },
        { idempotencyKey: `lingomesh-customer-${userId}` },
      );
      return customer.id;
    },

    async createCheckoutSession(request: CheckoutRequest) {
      const { plan } = request;
      const metadata = { userId: request.userId, planId: plan.id };
      const session = await stripe.checkout.sessions.create({
        mode: "subscription",
        customer: request.customerId,
        client_reference_id: request.userId,
        line_items: [
          {
            quantity: 1,
            price_data: {
              currency: plan.currency,
              unit_amount: plan.amount,
              recurring: { interval: plan.interval },
              product_data: { name: plan.name },
            },
          },
        ],
        subscription_data: {
          metadata,
          ...(plan.trialDays > 0 ? { trial_period_days: plan.trialDays } : {}),
        },
        ...(request.couponId ? { discounts: [{ coupon: request.couponId }] } : {}),
        metadata,
        success_url: request.successUrl,
        cancel_url: request.cancelUrl,
      });
      if (!session.url)
        throw new Error(`Stripe answered checkout session ${session.id} without a url`);
      return { id: session.id, url: session.url };
    },

    async createPortalSession(customerId, returnUrl) {
      const session = await stripe.billingPortal.sessions.create({
        customer: customerId,
        return_url: returnUrl,
      });
      return session.url;
    },

    async retrieveSubscription(id) {
      return subscriptionOf(await stripe.subscriptions.retrieve(id));
    },

    async setCancelAtPeriodEnd(id, cancel) {
      return subscriptionOf(
        await stripe.subscriptions.update(id, { cancel_at_period_end: cancel }),
      );
    },

    async createCoupon(coupon: NewCoupon) {
      const created = await stripe.coupons.create({
        name: coupon.code,
        duration: coupon.duration,
        ...(coupon.durationInMonths !== undefined
          ? { duration_in_months: coupon.durationInMonths }
          : {}),
        ...(coupon.percentOff !== undefined ? { percent_off: coupon.percentOff } : {}),
        ...(coupon.amountOff !== undefined
          ? { amount_off: coupon.amountOff, currency: coupon.currency }
          : {}),
        ...(coupon.maxRedemptions !== undefined ? { max_redemptions: coupon.maxRedemptions } : {}),
      });
      return created.id;
    },

    async paymentOfInvoice(invoiceId) {
      const payments = await stripe.invoicePayments.list({ invoice: invoiceId, status: "paid" });
      for (const payment of payments.data) {
        const intent = idOf(payment.payment.payment_intent);
        if (intent) return intent;
      }
      return undefined;
    },

    async refund(paymentIntent, amount) {
      const refund = await stripe.refunds.create({
        payment_intent: paymentIntent,
        ...(amount !== undefined ? { amount } : {}),
      });
      return { id: refund.id, amount: refund.amount, status: refund.status ?? "pending" };
    },

    async deleteCustomer(customerId) {
      try {
        await stripe.customers.del(customerId);
      } catch (err) {
        // Deleted already (a redelivered user.deleted): the erasure is done at Stripe.
        if (err instanceof Stripe.errors.StripeInvalidRequestError && err.statusCode === 404)
          return;
        throw err;
      }
    },

    verifyEvent: stripeEvents(cfg.webhookSecret),
  };
}
