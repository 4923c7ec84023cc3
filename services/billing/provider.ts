import type { PlanInterval } from "../../models/billing.model";

/**
 * What billing needs of a payment provider, in its own words: the use cases never see
 * Stripe's types (services/billing/stripe-provider.ts speaks Stripe).
 */

/** A subscription as the provider holds it now. */
export interface ProviderSubscription {
  id: string;
  customerId: string;
  /** From the subscription's metadata (set at checkout). */
  userId?: string;
  planId?: string;
  /** The provider's status word (Stripe: trialing, active, past_due, unpaid, canceled, …). */
  status: string;
  currentPeriodEnd: Date | null;
  cancelAtPeriodEnd: boolean;
  createdAt: Date;
}

export interface ProviderInvoice {
  id: string;
  customerId: string | null;
  subscriptionId: string | null;
  number: string | null;
  amount: number;
  currency: string;
  status: string;
  paidAt: Date | null;
  pdfUrl: string | null;
  createdAt: Date;
}

/** A verified webhook event, reduced to what billing applies. */
export type ProviderEvent = { id: string; type: string } & (
  | { kind: "subscription"; subscriptionId: string }
  | { kind: "checkout"; subscriptionId: string | null; userId: string | null }
  | { kind: "invoice"; invoice: ProviderInvoice }
  | { kind: "refund"; paymentIntent: string; amountRefunded: number }
  | { kind: "ignored" }
);

export interface CheckoutRequest {
  customerId: string;
  userId: string;
  plan: {
    id: string;
    name: string;
    interval: PlanInterval;
    amount: number;
    currency: string;
    trialDays: number;
  };
  successUrl: string;
  cancelUrl: string;
  /** The provider's coupon id. */
  couponId?: string;
}

export interface NewCoupon {
  code: string;
  percentOff?: number;
  amountOff?: number;
  currency?: string;
  duration: "once" | "repeating" | "forever";
  durationInMonths?: number;
  maxRedemptions?: number;
}

interface ProviderRefund {
  id: string;
  amount: number;
  status: string;
}

export interface PaymentProvider {
  /** Same user, same customer: concurrent first checkouts do not make two. */
  createCustomer(userId: string): Promise<string>;
  createCheckoutSession(request: CheckoutRequest): Promise<{ id: string; url: string }>;
  createPortalSession(customerId: string, returnUrl: string): Promise<string>;
  retrieveSubscription(id: string): Promise<ProviderSubscription>;
  setCancelAtPeriodEnd(id: string, cancel: boolean): Promise<ProviderSubscription>;
  createCoupon(coupon: NewCoupon): Promise<string>;
  /** The payment that settled an invoice, if any (what a refund refunds). */
  paymentOfInvoice(invoiceId: string): Promise<string | undefined>;
  refund(paymentIntent: string, amount?: number): Promise<ProviderRefund>;
  /** Erasure: the provider forgets the customer and ends its subscriptions at once (its invoices stay). */
  deleteCustomer(customerId: string): Promise<void>;
  /**
   * The event of a webhook delivery, verified over its raw body and signature header with a
   * five-minute timestamp tolerance; throws InvalidSignature otherwise.
   */
  verifyEvent(payload: string, signature: string | undefined): ProviderEvent;
}

export class InvalidSignature extends Error {
  override name = "InvalidSignature";
}
