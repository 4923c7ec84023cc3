import type { Migration } from "../../mixins/db.mixin";

/** Schema of the notify service (its own PostgreSQL schema; DbMixin runs these once under a lock). */

export const notifyMigrations: Migration[] = [
  {
    name: "0001-notify-init",
    async up({ context }) {
      const s = `"${context.schema}"`;
      await context.sequelize.query(`
        CREATE SCHEMA IF NOT EXISTS ${s};

        CREATE TABLE IF NOT EXISTS ${s}.recipients (
          user_id        text PRIMARY KEY,
          email          text NOT NULL,
          name           text NOT NULL,
          timezone       text NOT NULL DEFAULT 'UTC',
          email_verified boolean NOT NULL DEFAULT false,
          created_at     timestamptz NOT NULL DEFAULT now(),
          updated_at     timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE IF NOT EXISTS ${s}.courses (
          course_id  text PRIMARY KEY,
          title      text NOT NULL,
          level      text NOT NULL,
          topics     jsonb NOT NULL DEFAULT '[]',
          version    integer NOT NULL,
          updated_at timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE IF NOT EXISTS ${s}.emails (
          id               uuid PRIMARY KEY,
          event_id         text NOT NULL,
          template         text NOT NULL,
          category         text NOT NULL,
          user_id          text NOT NULL,
          to_address       text NOT NULL,
          subject          text NOT NULL,
          html             text NOT NULL,
          text             text NOT NULL,
          headers          jsonb NOT NULL DEFAULT '{}',
          status           text NOT NULL DEFAULT 'queued'
                           CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'opened')),
          attempts         integer NOT NULL DEFAULT 0,
          next_attempt_at  timestamptz NOT NULL DEFAULT now(),
          claimed_by       text,
          claim_expires_at timestamptz,
          message_id       text,
          smtp_response    text,
          last_error       text,
          created_at       timestamptz NOT NULL DEFAULT now(),
          last_attempt_at  timestamptz,
          sent_at          timestamptz,
          failed_at        timestamptz,
          opened_at        timestamptz,
          open_count       integer NOT NULL DEFAULT 0,
          clicked_at       timestamptz,
          click_count      integer NOT NULL DEFAULT 0,
          -- One mail per event, template and recipient: a redelivery or a second node cannot add another.
          CONSTRAINT emails_once UNIQUE (event_id, template, user_id)
        );
        CREATE INDEX IF NOT EXISTS emails_due ON ${s}.emails (next_attempt_at) WHERE status IN ('queued', 'sending');
        CREATE INDEX IF NOT EXISTS emails_user ON ${s}.emails (user_id);
        CREATE INDEX IF NOT EXISTS emails_to ON ${s}.emails (lower(to_address), created_at DESC);
        CREATE INDEX IF NOT EXISTS emails_created ON ${s}.emails (created_at DESC);

        CREATE TABLE IF NOT EXISTS ${s}.notifications (
          id         uuid PRIMARY KEY,
          user_id    text NOT NULL,
          event_id   text NOT NULL,
          kind       text NOT NULL,
          title      text NOT NULL,
          body       text NOT NULL,
          link       text,
          data       jsonb NOT NULL DEFAULT '{}',
          read_at    timestamptz,
          created_at timestamptz NOT NULL DEFAULT now(),
          CONSTRAINT notifications_once UNIQUE (event_id, user_id, kind)
        );
        CREATE INDEX IF NOT EXISTS notifications_user ON ${s}.notifications (user_id, created_at DESC);
        CREATE INDEX IF NOT EXISTS notifications_unread ON ${s}.notifications (user_id) WHERE read_at IS NULL;

        CREATE TABLE IF NOT EXISTS ${s}.preferences (
          user_id       text PRIMARY KEY,
          marketing     boolean NOT NULL,
          achievements  boolean NOT NULL,
          reminders     boolean NOT NULL,
          weekly_report boolean NOT NULL,
          updated_at    timestamptz NOT NULL DEFAULT now()
        );

        -- At most one streak reminder per user and local day.
        CREATE TABLE IF NOT EXISTS ${s}.reminder_log (
          user_id    text NOT NULL,
          local_date date NOT NULL,
          created_at timestamptz NOT NULL DEFAULT now(),
          PRIMARY KEY (user_id, local_date)
        );
      `);
    },
  },
  {
    name: "0002-notify-erased-users-event-order",
    async up({ context }) {
      const s = `"${context.schema}"`;
      await context.sequelize.query(`
        -- Tombstones of erased users (user.deleted): no row of theirs is written again.
        CREATE TABLE IF NOT EXISTS ${s}.erased_users (
          user_id   text PRIMARY KEY,
          erased_at timestamptz NOT NULL
        );
        -- The newest user.* event (its sequence) whose name and time zone the row holds.
        ALTER TABLE ${s}.recipients ADD COLUMN IF NOT EXISTS sequence bigint NOT NULL DEFAULT 0;
        -- user.email_verified handled before user.created: kept for when the recipient arrives.
        CREATE TABLE IF NOT EXISTS ${s}.verified_early (
          user_id     text PRIMARY KEY,
          verified_at timestamptz NOT NULL DEFAULT now()
        );
      `);
    },
  },
  {
    name: "0003-notify-early-profiles",
    async up({ context }) {
      const s = `"${context.schema}"`;
      await context.sequelize.query(`
        -- user.updated handled before the user's user.created (no recipient yet): the newest
        -- such name and time zone, applied when the recipient arrives if still newer than it.
        CREATE TABLE IF NOT EXISTS ${s}.early_profiles (
          user_id     text PRIMARY KEY,
          name        text NOT NULL,
          timezone    text NOT NULL,
          sequence    bigint NOT NULL,
          received_at timestamptz NOT NULL DEFAULT now()
        );
      `);
    },
  },
  {
    name: "0004-notify-live-messages",
    async up({ context }) {
      const s = `"${context.schema}"`;
      await context.sequelize.query(`
        -- What a learner's live sockets were told in the last 24 h, for ?since=<id> replays.
        CREATE TABLE IF NOT EXISTS ${s}.live_messages (
          id      uuid PRIMARY KEY,
          user_id text NOT NULL,
          type    text NOT NULL,
          data    jsonb NOT NULL,
          at      timestamptz NOT NULL
        );
        CREATE INDEX IF NOT EXISTS live_messages_user_id ON ${s}.live_messages (user_id, id);
        CREATE INDEX IF NOT EXISTS live_messages_at ON ${s}.live_messages (at);
      `);
    },
  },
  {
    name: "0005-notify-web-push",
    async up({ context }) {
      const s = `"${context.schema}"`;
      await context.sequelize.query(`
        CREATE TABLE IF NOT EXISTS ${s}.push_subscriptions (
          id         uuid PRIMARY KEY,
          user_id    text NOT NULL,
          endpoint   text NOT NULL UNIQUE,
          p256dh     text NOT NULL,
          auth       text NOT NULL,
          created_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX IF NOT EXISTS push_subscriptions_user_id ON ${s}.push_subscriptions (user_id);

        -- One push per (event, subscription); subscription_id outlives a dropped subscription.
        CREATE TABLE IF NOT EXISTS ${s}.push_deliveries (
          id               uuid PRIMARY KEY,
          event_id         text NOT NULL,
          subscription_id  uuid NOT NULL,
          user_id          text NOT NULL,
          payload          jsonb NOT NULL,
          urgency          text NOT NULL,
          ttl_seconds      integer NOT NULL,
          status           text NOT NULL DEFAULT 'queued',
          attempts         integer NOT NULL DEFAULT 0,
          next_attempt_at  timestamptz NOT NULL DEFAULT now(),
          claimed_by       text,
          claim_expires_at timestamptz,
          last_error       text,
          created_at       timestamptz NOT NULL DEFAULT now(),
          finished_at      timestamptz,
          CONSTRAINT push_deliveries_once UNIQUE (event_id, subscription_id)
        );
        CREATE INDEX IF NOT EXISTS push_deliveries_due ON ${s}.push_deliveries (status, next_attempt_at);
      `);
    },
  },
  {
    name: "0006-notify-channel-preferences",
    async up({ context }) {
      const s = `"${context.schema}"`;
      await context.sequelize.query(`
        -- Per channel (email, push, sms, inApp), the categories a learner changed from the defaults.
        CREATE TABLE IF NOT EXISTS ${s}.channel_preferences (
          user_id    text PRIMARY KEY,
          channels   jsonb NOT NULL DEFAULT '{}',
          digest     text NOT NULL DEFAULT 'weekly',
          updated_at timestamptz NOT NULL DEFAULT now()
        );
      `);
    },
  },
  {
    name: "0007-notify-delivery-settings",
    async up({ context }) {
      const s = `"${context.schema}"`;
      await context.sequelize.query(`
        -- What user.updated says about delivery: quiet hours and locale (sequence: newest wins).
        CREATE TABLE IF NOT EXISTS ${s}.delivery_settings (
          user_id     text PRIMARY KEY,
          quiet_hours jsonb,
          locale      text,
          sequence    bigint NOT NULL DEFAULT 0
        );
      `);
    },
  },
  {
    name: "0008-notify-phones",
    async up({ context }) {
      const s = `"${context.schema}"`;
      await context.sequelize.query(`
        -- One number per learner; SMS go only to a verified one. The code is an HMAC, never stored.
        CREATE TABLE IF NOT EXISTS ${s}.phones (
          user_id         text PRIMARY KEY,
          phone           text NOT NULL,
          verified        boolean NOT NULL DEFAULT false,
          verified_at     timestamptz,
          code_hash       text,
          code_expires_at timestamptz,
          guesses         integer NOT NULL DEFAULT 0,
          codes_sent      integer NOT NULL DEFAULT 0,
          window_start    timestamptz NOT NULL DEFAULT now()
        );
      `);
    },
  },
  {
    name: "0009-notify-digests",
    async up({ context }) {
      const s = `"${context.schema}"`;
      await context.sequelize.query(`
        -- What progress events told notify, per learner and local day: the digest's figures.
        CREATE TABLE IF NOT EXISTS ${s}.digest_days (
          user_id    text NOT NULL,
          local_date date NOT NULL,
          xp         integer NOT NULL DEFAULT 0,
          lessons    integer NOT NULL DEFAULT 0,
          PRIMARY KEY (user_id, local_date)
        );
        -- The learner's latest XP total and streak (for each, the newest progress sequence wins).
        CREATE TABLE IF NOT EXISTS ${s}.digest_standing (
          user_id         text PRIMARY KEY,
          total_xp        integer NOT NULL DEFAULT 0,
          xp_sequence     bigint NOT NULL DEFAULT 0,
          streak          integer NOT NULL DEFAULT 0,
          streak_date     date,
          streak_sequence bigint NOT NULL DEFAULT 0
        );
        -- One digest per learner and period ("2026-12-03" or "2026-W49"), written with its mail.
        CREATE TABLE IF NOT EXISTS ${s}.digests_sent (
          user_id  text NOT NULL,
          period   text NOT NULL,
          email_id text NOT NULL,
          sent_at  timestamptz NOT NULL DEFAULT now(),
          PRIMARY KEY (user_id, period)
        );
        -- Inline images (the digest's chart): [{cid, filename, contentType, base64}].
        ALTER TABLE ${s}.emails ADD COLUMN IF NOT EXISTS attachments jsonb;
      `);
    },
  },
];
