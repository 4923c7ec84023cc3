import type { BillingDeps, Caller } from "./deps";
import { localSessionNotFound } from "./errors";
import type { LocalProvider } from "./local-provider";
import { receiveWebhook } from "./webhooks";

/** The local provider's checkout page (embedded defaults): what it shows, and paying on it. */

const escape = (text: string) => text.replace(/[&<>"']/g, ch => `&#${ch.charCodeAt(0)};`);

export function checkoutPage(local: LocalProvider | undefined, sessionId: string): string {
  const session = local?.session(sessionId);
  if (!session) throw localSessionNotFound(sessionId);
  const { plan } = session;
  const price = new Intl.NumberFormat("en", {
    style: "currency",
    currency: plan.currency.toUpperCase(),
  }).format(plan.amount / 100);
  const trial = plan.trialDays > 0 ? `${plan.trialDays} days free, then ` : "";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Lingomesh: local checkout</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 32rem; margin: 3rem auto; padding: 0 1rem">
<h1>${escape(plan.name)}</h1>
<p>${escape(trial)}${escape(price)} a ${escape(plan.interval)}.</p>
<p><strong>This is the local payment provider of a Lingomesh without Stripe keys:</strong> no money moves. Set STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET to take real payments.</p>
<form method="post"><button type="submit">Pay now (test)</button></form>
<p><a href="${escape(session.cancelUrl)}">Cancel</a></p>
</body></html>`;
}

/** The learner paid: the events Stripe would send go to the webhook handler, signed. */
export async function payLocally(
  deps: BillingDeps,
  local: LocalProvider | undefined,
  sessionId: string,
  ctx: Caller,
): Promise<{ successUrl: string }> {
  const done = local?.complete(sessionId);
  if (!done) throw localSessionNotFound(sessionId);
  for (const delivery of done.deliveries)
    await receiveWebhook(deps, delivery.payload, delivery.signature, ctx);
  return { successUrl: done.successUrl };
}
