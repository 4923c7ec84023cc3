import type { CheckoutInput, CheckoutStarted, Plan } from "../../models/billing.model";
import type { BillingDeps } from "./deps";
import {
  alreadySubscribed,
  foreignReturnUrl,
  noCustomer,
  unknownCoupon,
  unknownPlan,
} from "./errors";
import { mySubscription } from "./subscriptions";
import { couponOf } from "./store/coupons";
import { customerIdOf, saveCustomer } from "./store/customers";
import { activePlan, activePlans, toPlan } from "./store/plans";

/** Buying: the plans on sale, a Checkout Session for one of them, the customer portal. */

export async function listPlans(deps: BillingDeps): Promise<Plan[]> {
  return (await activePlans(deps.db)).map(toPlan);
}

function requireAppUrl(deps: BillingDeps, field: "successUrl" | "cancelUrl", value: string) {
  const origin = new URL(value).origin;
  if (!deps.appOrigins.includes(origin)) throw foreignReturnUrl(field);
}

export async function startCheckout(
  deps: BillingDeps,
  userId: string,
  input: CheckoutInput,
): Promise<CheckoutStarted> {
  requireAppUrl(deps, "successUrl", input.successUrl);
  requireAppUrl(deps, "cancelUrl", input.cancelUrl);
  const plan = await activePlan(deps.db, input.planId);
  if (!plan) throw unknownPlan(input.planId);
  const coupon = input.coupon === undefined ? undefined : await couponOf(deps.db, input.coupon);
  if (input.coupon !== undefined && !coupon) throw unknownCoupon(input.coupon);
  const { provider } = deps;
  const { status } = await mySubscription(deps, userId);
  if (status === "trialing" || status === "active" || status === "past_due")
    throw alreadySubscribed();
  let customerId = await customerIdOf(deps.db, userId);
  if (!customerId) {
    customerId = await provider.createCustomer(userId);
    await saveCustomer(deps.db, userId, customerId);
  }
  const session = await provider.createCheckoutSession({
    customerId,
    userId,
    plan: {
      id: plan.id,
      name: plan.name,
      interval: plan.interval,
      amount: plan.amount,
      currency: plan.currency,
      trialDays: plan.trial_days,
    },
    successUrl: input.successUrl,
    cancelUrl: input.cancelUrl,
    couponId: coupon?.stripe_coupon_id,
  });
  return { sessionId: session.id, checkoutUrl: session.url };
}

export async function openPortal(deps: BillingDeps, userId: string): Promise<{ url: string }> {
  const { provider } = deps;
  const customerId = await customerIdOf(deps.db, userId);
  if (!customerId) throw noCustomer();
  return { url: await provider.createPortalSession(customerId, deps.portalReturnUrl) };
}
