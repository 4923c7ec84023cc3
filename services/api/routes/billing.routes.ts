import type { RouteSpec } from "../route-table";

/** The Billing table of shared/design/api.md (actions in services/billing.service.ts). */
export const billingRoutes: RouteSpec[] = [
  {
    method: "GET",
    path: "/billing/plans",
    action: "billing.plans",
    summary: "The plans on sale: price, interval, trial days and features",
    tag: "Billing",
  },
  {
    method: "POST",
    path: "/billing/checkout",
    action: "billing.checkout",
    status: 201,
    summary: "Start buying a plan: a Stripe Checkout Session to send the learner to",
    tag: "Billing",
  },
  {
    method: "POST",
    path: "/billing/webhooks/stripe",
    action: "billing.stripeWebhook",
    summary:
      "Stripe's event deliveries, verified by their Stripe-Signature over the raw body (5 min tolerance); each applied once",
    tag: "Billing",
    kind: "raw",
    requestHeaders: ["stripe-signature"],
  },
  {
    method: "GET",
    path: "/me/subscription",
    action: "billing.subscription",
    summary: "My subscription: plan, status, period end, whether it ends then",
    tag: "Billing",
  },
  {
    method: "POST",
    path: "/me/subscription/cancel",
    action: "billing.cancelSubscription",
    summary: "End my subscription at the end of the period already paid",
    tag: "Billing",
  },
  {
    method: "POST",
    path: "/me/subscription/resume",
    action: "billing.resumeSubscription",
    summary: "Keep my subscription after all (before the period ends)",
    tag: "Billing",
  },
  {
    method: "POST",
    path: "/billing/portal",
    action: "billing.portal",
    status: 201,
    summary: "A session of Stripe's customer portal (payment methods, invoices, plan changes)",
    tag: "Billing",
  },
  {
    method: "GET",
    path: "/me/invoices",
    action: "billing.invoices",
    summary: "My invoices, newest first, with their PDF links",
    tag: "Billing",
  },
  {
    method: "GET",
    path: "/me/entitlements",
    action: "billing.entitlements",
    summary: "What my subscription grants now (premium courses)",
    tag: "Billing",
  },
];
