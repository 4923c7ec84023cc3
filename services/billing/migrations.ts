import type { Migration } from "../../mixins/db.mixin";

/** Schema of the billing service (its own PostgreSQL schema; DbMixin runs these once under a lock). */

export const billingMigrations: Migration[] = [
  {
    name: "0001-billing-init",
    async up({ context }) {
      const s = `"${context.schema}"`;
      await context.sequelize.query(`
        CREATE SCHEMA IF NOT EXISTS ${s};

        -- What a learner can buy. Amounts in the currency's minor unit; Checkout gets the price
        -- inline (price_data), so no Stripe price has to be created by hand first.
        CREATE TABLE IF NOT EXISTS ${s}.plans (
          id         text PRIMARY KEY,
          name       text NOT NULL,
          interval   text NOT NULL CHECK (interval IN ('month', 'year')),
          amount     integer NOT NULL CHECK (amount > 0),
          currency   text NOT NULL,
          trial_days integer NOT NULL DEFAULT 0 CHECK (trial_days >= 0),
          features   jsonb NOT NULL DEFAULT '[]',
          active     boolean NOT NULL DEFAULT true,
          position   integer NOT NULL DEFAULT 0
        );
        INSERT INTO ${s}.plans (id, name, interval, amount, currency, trial_days, features, position)
        VALUES
          ('premium-monthly', 'Premium, monthly', 'month', 999, 'eur', 7, '["premium"]', 1),
          ('premium-yearly', 'Premium, yearly', 'year', 9900, 'eur', 14, '["premium"]', 2)
        ON CONFLICT (id) DO NOTHING;

        -- One Stripe customer per user. sequence: the user's billing-event counter (events.md).
        CREATE TABLE IF NOT EXISTS ${s}.customers (
          user_id            text PRIMARY KEY,
          stripe_customer_id text NOT NULL UNIQUE,
          sequence           bigint NOT NULL DEFAULT 0,
          created_at         timestamptz NOT NULL DEFAULT now()
        );

        -- Stripe's subscriptions as last read from Stripe. read_at: when that read began; an
        -- older read (a slower node, a late event) never overwrites a newer one.
        CREATE TABLE IF NOT EXISTS ${s}.subscriptions (
          id                   text PRIMARY KEY,
          user_id              text NOT NULL,
          plan_id              text,
          status               text NOT NULL,
          current_period_end   timestamptz,
          cancel_at_period_end boolean NOT NULL DEFAULT false,
          -- Since when payment is overdue: the grace period of the premium entitlement runs from here.
          past_due_since       timestamptz,
          created_at           timestamptz NOT NULL,
          read_at              timestamptz NOT NULL
        );
        CREATE INDEX IF NOT EXISTS subscriptions_user ON ${s}.subscriptions (user_id, created_at DESC);

        CREATE TABLE IF NOT EXISTS ${s}.invoices (
          id              text PRIMARY KEY,
          user_id         text,
          subscription_id text,
          number          text,
          amount          integer NOT NULL,
          currency        text NOT NULL,
          status          text NOT NULL,
          paid_at         timestamptz,
          pdf_url         text,
          payment_intent  text,
          amount_refunded integer NOT NULL DEFAULT 0,
          created_at      timestamptz NOT NULL
        );
        CREATE INDEX IF NOT EXISTS invoices_user ON ${s}.invoices (user_id, created_at DESC);
        CREATE INDEX IF NOT EXISTS invoices_payment_intent ON ${s}.invoices (payment_intent);

        CREATE TABLE IF NOT EXISTS ${s}.coupons (
          code               text PRIMARY KEY,
          stripe_coupon_id   text NOT NULL UNIQUE,
          percent_off        numeric,
          amount_off         integer,
          currency           text,
          duration           text NOT NULL,
          duration_in_months integer,
          max_redemptions    integer,
          created_at         timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE IF NOT EXISTS ${s}.refunds (
          id         text PRIMARY KEY,
          invoice_id text NOT NULL,
          amount     integer NOT NULL,
          status     text NOT NULL,
          created_at timestamptz NOT NULL DEFAULT now()
        );

        -- Erased users (user.deleted): nothing of theirs is written again, whatever Stripe sends late.
        CREATE TABLE IF NOT EXISTS ${s}.erased_users (
          user_id   text PRIMARY KEY,
          erased_at timestamptz NOT NULL DEFAULT now()
        );

        -- Stripe event ids applied: each webhook event changes our state once, on whichever node.
        CREATE TABLE IF NOT EXISTS ${s}.webhook_events (
          id          text PRIMARY KEY,
          type        text NOT NULL,
          received_at timestamptz NOT NULL DEFAULT now()
        );
      `);
    },
  },
];
