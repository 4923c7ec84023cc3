import type { ParamsOf } from "../lib/params-of";
/**
 * The Billing table of shared/design/api.md: what the billing service answers, and the
 * entitlement other services read (progress refuses premium courses without it).
 */

export type PlanInterval = "month" | "year";

/** GET /billing/plans, one row. Amounts are in the currency's minor unit (cents). */
export interface Plan {
  id: string;
  name: string;
  interval: PlanInterval;
  price: { amount: number; currency: string };
  trialDays: number;
  features: string[];
}

/** Stripe's subscription statuses that this service keeps apart; the rest read as "none". */
export type SubscriptionStatus = "trialing" | "active" | "past_due" | "canceled" | "none";

/** GET /me/subscription */
export interface SubscriptionView {
  planId: string | null;
  status: SubscriptionStatus;
  currentPeriodEnd: string | null;
  cancelAtPeriodEnd: boolean;
}

/** GET /me/invoices, one row. */
export interface InvoiceView {
  id: string;
  number: string | null;
  amount: number;
  currency: string;
  /** Stripe's invoice status, or "refunded" once the whole amount went back. */
  status: string;
  paidAt: string | null;
  pdfUrl: string | null;
}

/** Who may learn a course: everyone, or learners with the premium entitlement. */
export const COURSE_ACCESS = ["free", "premium"] as const;
export type CourseAccess = (typeof COURSE_ACCESS)[number];

/** The feature every paid plan grants: premium courses (`access: "premium"`). */
export const PREMIUM_FEATURE = "premium";

/** GET /me/entitlements */
export interface Entitlements {
  premium: boolean;
  features: string[];
}

/** POST /billing/checkout → 201 */
export interface CheckoutStarted {
  sessionId: string;
  checkoutUrl: string;
}

/** A return address of the checkout: the client app's own pages. */
const returnUrlParam = { type: "url", max: 2048 } as const;

export const checkoutParams = {
  $$strict: true,
  planId: { type: "string", min: 1, max: 64 },
  successUrl: returnUrlParam,
  cancelUrl: returnUrlParam,
  coupon: { type: "string", min: 1, max: 64, pattern: /^[A-Za-z0-9_-]+$/, optional: true },
} as const;

export type CheckoutInput = ParamsOf<typeof checkoutParams>;

const COUPON_DURATIONS = ["once", "repeating", "forever"] as const;
export type CouponDuration = (typeof COUPON_DURATIONS)[number];

/** GET /admin/coupons row, POST /admin/coupons → 201 */
export interface CouponView {
  code: string;
  percentOff: number | null;
  amountOff: number | null;
  currency: string | null;
  duration: CouponDuration;
  durationInMonths: number | null;
  maxRedemptions: number | null;
  createdAt: string;
}

/** Exactly one of percentOff and amountOff (checked by the use case: the rule spans fields). */
export const couponParams = {
  $$strict: true,
  code: { type: "string", min: 3, max: 64, pattern: /^[A-Za-z0-9_-]+$/ },
  percentOff: { type: "number", min: 1, max: 100, optional: true },
  amountOff: { type: "number", integer: true, positive: true, optional: true },
  currency: { type: "string", length: 3, lowercase: true, pattern: /^[a-z]{3}$/, optional: true },
  duration: { type: "enum", values: COUPON_DURATIONS },
  durationInMonths: { type: "number", integer: true, min: 1, max: 36, optional: true },
  maxRedemptions: { type: "number", integer: true, positive: true, optional: true },
} as const;

export type CouponInput = ParamsOf<typeof couponParams>;

/** POST /admin/refunds → 201 */
export interface RefundView {
  id: string;
  invoiceId: string;
  amount: number;
  status: string;
}

export const refundParams = {
  $$strict: true,
  invoiceId: { type: "string", min: 1, max: 255 },
  amount: { type: "number", integer: true, positive: true, optional: true },
} as const;
