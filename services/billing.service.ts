import type { Context, ServiceSchema, ServiceSettingSchema } from "moleculer";
import type { Transaction } from "sequelize";
import { actorOf } from "../lib/auth/guard";
import { configOf, requirePaymentProvider } from "../lib/config";
import { READ_RETRY } from "../moleculer.config";
import { DbMixin, type DbServiceThis } from "../mixins/db.mixin";
import {
  DurableEvents,
  type DurableEventHandlers,
  type DurableEventsMethods,
} from "../mixins/durable-events.mixin";
import type { EventEnvelope } from "../models/events.model";
import { eraseUser } from "./billing/erasure";
import type { RequestMeta } from "../models/auth.model";
import {
  checkoutParams,
  couponParams,
  refundParams,
  type CheckoutInput,
  type CouponInput,
} from "../models/billing.model";
import { pageParams } from "../lib/params";
import { createCoupon, listCoupons, refundInvoice } from "./billing/admin";
import { listPlans, openPortal, startCheckout } from "./billing/checkout";
import type { BillingDeps } from "./billing/deps";
import { billingMigrations } from "./billing/migrations";
import { SCHEMA } from "./billing/store/db";
import { stripeProvider } from "./billing/stripe-provider";
import {
  entitlementsOf,
  myInvoices,
  mySubscription,
  setCancelAtPeriodEnd,
} from "./billing/subscriptions";
import { receiveWebhook } from "./billing/webhooks";
import { localProvider, type LocalProvider } from "./billing/local-provider";
import type { PaymentProvider } from "./billing/provider";
import { checkoutPage, payLocally } from "./billing/local-checkout";
import { idParam, type IdInput } from "../lib/params";
import type { ParamsOf } from "../lib/params-of";

/**
 * billing: plans, Stripe Checkout and the customer portal, subscriptions kept in step with
 * Stripe's signed webhooks, invoices, and the premium entitlement other services ask for.
 * Routes: the Billing table of shared/design/api.md (services/api/routes/billing.routes.ts).
 * State changes leave as billing.subscription.changed through the outbox.
 */

interface BillingSettings extends ServiceSettingSchema {
  /** How long a subscription whose payment failed keeps premium. */
  graceDays: number;
}

interface BillingVars {
  deps: BillingDeps;
  /** The embedded default's provider, when no Stripe keys are set. */
  local?: LocalProvider;
}

type BillingThis = DbServiceThis<object, BillingSettings> & DurableEventsMethods & BillingVars;
type Ctx<P = Record<string, never>> = Context<P, RequestMeta>;

/** A webhook delivery is Stripe's JSON as it came: the signature is over these bytes. */
const MAX_WEBHOOK_BYTES = 1024 * 1024;

/** `durableEvents` is read by the DurableEvents mixin; moleculer's own schema type does not know it. */
type BillingSchema = ServiceSchema<
  BillingSettings,
  Record<string, never>,
  BillingVars,
  BillingThis
> & { durableEvents: DurableEventHandlers<BillingThis> };

const stripeWebhookParams = {
  $$strict: true,
  payload: { type: "string", max: MAX_WEBHOOK_BYTES },
} as const;
const listCouponsParams = { $$strict: true, ...pageParams } as const;
const entitlementsOfParams = {
  $$strict: true,
  userId: { type: "string", min: 1, max: 64 },
} as const;

const BillingService: BillingSchema = {
  name: "billing",
  mixins: [
    DbMixin({
      schema: SCHEMA,
      migrations: billingMigrations,
      sync: false,
    }),
    DurableEvents(),
  ],

  settings: {
    graceDays: 7,
  },

  durableEvents: {
    async "user.deleted"(this: BillingThis, event: EventEnvelope<"user.deleted">, t: Transaction) {
      await eraseUser(this.deps, event.data.userId, t);
    },
  },

  actions: {
    plans: {
      params: { $$strict: true },
      retryPolicy: READ_RETRY,
      async handler() {
        return listPlans(this.deps);
      },
    },

    checkout: {
      auth: true,
      params: checkoutParams,
      async handler(ctx: Ctx<CheckoutInput>) {
        return startCheckout(this.deps, actorOf(ctx).id, ctx.params);
      },
    },

    portal: {
      auth: true,
      params: { $$strict: true },
      async handler(ctx: Ctx) {
        return openPortal(this.deps, actorOf(ctx).id);
      },
    },

    /** Stripe's deliveries; `payload` is the raw body the gateway hands over (services/api/body.ts). */
    stripeWebhook: {
      params: stripeWebhookParams,
      async handler(ctx: Ctx<ParamsOf<typeof stripeWebhookParams>>) {
        const signature = ctx.meta.requestHeaders?.["stripe-signature"];
        return receiveWebhook(this.deps, ctx.params.payload, signature, ctx);
      },
    },

    subscription: {
      auth: true,
      params: { $$strict: true },
      retryPolicy: READ_RETRY,
      async handler(ctx: Ctx) {
        return mySubscription(this.deps, actorOf(ctx).id);
      },
    },

    cancelSubscription: {
      auth: true,
      params: { $$strict: true },
      async handler(ctx: Ctx) {
        return setCancelAtPeriodEnd(this.deps, actorOf(ctx).id, true, ctx);
      },
    },

    resumeSubscription: {
      auth: true,
      params: { $$strict: true },
      async handler(ctx: Ctx) {
        return setCancelAtPeriodEnd(this.deps, actorOf(ctx).id, false, ctx);
      },
    },

    invoices: {
      auth: true,
      params: { $$strict: true },
      retryPolicy: READ_RETRY,
      async handler(ctx: Ctx) {
        return myInvoices(this.deps, actorOf(ctx).id);
      },
    },

    entitlements: {
      auth: true,
      params: { $$strict: true },
      retryPolicy: READ_RETRY,
      async handler(ctx: Ctx) {
        return entitlementsOf(this.deps, actorOf(ctx).id);
      },
    },

    listCoupons: {
      roles: ["admin"],
      params: listCouponsParams,
      async handler(ctx: Ctx<ParamsOf<typeof listCouponsParams>>) {
        return listCoupons(this.deps, ctx.params);
      },
    },

    createCoupon: {
      roles: ["admin"],
      params: couponParams,
      async handler(ctx: Ctx<CouponInput>) {
        return createCoupon(this.deps, ctx.params);
      },
    },

    refund: {
      roles: ["admin"],
      params: refundParams,
      async handler(ctx: Ctx<ParamsOf<typeof refundParams>>) {
        return refundInvoice(this.deps, ctx.params);
      },
    },

    /** The local provider's checkout page (the gateway serves it at /billing/local-checkout/:id). */
    localCheckoutPage: {
      internal: true,
      params: idParam,
      handler(ctx: Ctx<IdInput>) {
        return checkoutPage(this.local, ctx.params.id);
      },
    },

    /** Paying on that page: the events Stripe would send, delivered signed, then the success URL. */
    payLocally: {
      internal: true,
      params: idParam,
      async handler(ctx: Ctx<IdInput>) {
        return payLocally(this.deps, this.local, ctx.params.id, ctx);
      },
    },

    /** Another service's question (progress: premium courses); cached, cleaned on every change. */
    entitlementsOf: {
      internal: true,
      params: entitlementsOfParams,
      cache: { keys: ["userId"] },
      retryPolicy: READ_RETRY,
      async handler(ctx: Ctx<ParamsOf<typeof entitlementsOfParams>>) {
        return entitlementsOf(this.deps, ctx.params.userId);
      },
    },
  },

  async started() {
    const cfg = configOf(this.broker);
    requirePaymentProvider(cfg);
    let provider: PaymentProvider;
    if (cfg.stripe) provider = stripeProvider(cfg.stripe);
    else {
      this.local = localProvider(cfg.publicUrl);
      provider = this.local;
      this.logger.warn(
        "billing: STRIPE_SECRET_KEY is unset: the local payment provider completes every checkout at once (no money moves)",
      );
    }
    this.deps = {
      db: { sequelize: this.sequelize },
      withTransaction: fn => this.withTransaction(fn),
      emit: (type, data, opts) => this.emitDurable(type, data, opts),
      entitlementsChanged: ctx => this.clearCache(ctx),
      provider,
      appOrigins: [...new Set([cfg.publicUrl, ...cfg.corsOrigins].map(url => new URL(url).origin))],
      portalReturnUrl: `${cfg.publicUrl}/account/billing`,
      graceMs: this.settings.graceDays * 24 * 3600_000,
      now: () => new Date(),
      logger: this.logger,
    };
  },
};

export default BillingService;
