import type { QueryInterface, Sequelize } from "sequelize";

/** Migration context the db mixin hands to each step (see mixins/db.mixin.ts). */
interface MigrationContext {
  sequelize: Sequelize;
  queryInterface: QueryInterface;
  schema: string;
}

export interface UsersMigration {
  name: string;
  up: (params: { context: MigrationContext }) => Promise<void>;
}

const q = (schema: string) => `"${schema.replace(/"/g, '""')}"`;

export const usersMigrations: UsersMigration[] = [
  {
    name: "0001-users-sessions-tokens",
    async up({ context: { sequelize, schema } }) {
      const s = q(schema);
      await sequelize.query(`
        CREATE TABLE IF NOT EXISTS ${s}.users (
          id uuid PRIMARY KEY,
          email text NOT NULL,
          name text NOT NULL,
          avatar_url text,
          timezone text NOT NULL DEFAULT 'UTC',
          native_language text,
          daily_goal_xp integer NOT NULL DEFAULT 20,
          roles text[] NOT NULL DEFAULT ARRAY['learner']::text[],
          password_hash text NOT NULL,
          email_verified boolean NOT NULL DEFAULT false,
          mfa_enabled boolean NOT NULL DEFAULT false,
          mfa_secret text,
          mfa_pending_secret text,
          mfa_last_step integer,
          password_changed_at timestamptz NOT NULL DEFAULT now(),
          created_at timestamptz NOT NULL DEFAULT now(),
          updated_at timestamptz NOT NULL DEFAULT now(),
          CONSTRAINT users_email_normalised CHECK (email = lower(btrim(email)))
        );
        CREATE UNIQUE INDEX IF NOT EXISTS users_email_key ON ${s}.users (email);
        CREATE INDEX IF NOT EXISTS users_created_at_idx ON ${s}.users (created_at DESC, id);

        CREATE TABLE IF NOT EXISTS ${s}.sessions (
          id uuid PRIMARY KEY,
          user_id uuid NOT NULL REFERENCES ${s}.users (id) ON DELETE CASCADE,
          created_at timestamptz NOT NULL,
          last_used_at timestamptz NOT NULL,
          expires_at timestamptz NOT NULL,
          user_agent text,
          ip text,
          revoked_at timestamptz,
          revoked_reason text
        );
        CREATE INDEX IF NOT EXISTS sessions_user_idx ON ${s}.sessions (user_id) WHERE revoked_at IS NULL;

        CREATE TABLE IF NOT EXISTS ${s}.refresh_tokens (
          token_hash text PRIMARY KEY,
          session_id uuid NOT NULL REFERENCES ${s}.sessions (id) ON DELETE CASCADE,
          created_at timestamptz NOT NULL,
          used_at timestamptz
        );
        CREATE INDEX IF NOT EXISTS refresh_tokens_session_idx ON ${s}.refresh_tokens (session_id);

        CREATE TABLE IF NOT EXISTS ${s}.one_time_tokens (
          token_hash text PRIMARY KEY,
          user_id uuid NOT NULL REFERENCES ${s}.users (id) ON DELETE CASCADE,
          purpose text NOT NULL CHECK (purpose IN ('verify', 'reset')),
          created_at timestamptz NOT NULL,
          expires_at timestamptz NOT NULL,
          used_at timestamptz
        );
        CREATE INDEX IF NOT EXISTS one_time_tokens_user_idx ON ${s}.one_time_tokens (user_id, purpose);

        CREATE TABLE IF NOT EXISTS ${s}.recovery_codes (
          user_id uuid NOT NULL REFERENCES ${s}.users (id) ON DELETE CASCADE,
          code_hash text NOT NULL,
          used_at timestamptz,
          PRIMARY KEY (user_id, code_hash)
        );
      `);
    },
  },
  {
    name: "0002-users-event-sequence",
    async up({ context: { sequelize, schema } }) {
      // The per-user version every user.* event carries (events.md): bumped with the outbox row.
      await sequelize.query(
        `ALTER TABLE ${q(schema)}.users ADD COLUMN IF NOT EXISTS event_sequence bigint NOT NULL DEFAULT 0`,
      );
    },
  },
  {
    name: "0003-users-identities-status-social",
    async up({ context: { sequelize, schema } }) {
      const s = q(schema);
      await sequelize.query(`
        -- An account made by a provider sign-in has no password.
        ALTER TABLE ${s}.users ALTER COLUMN password_hash DROP NOT NULL;
        ALTER TABLE ${s}.users
          ADD COLUMN IF NOT EXISTS status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
          ADD COLUMN IF NOT EXISTS suspended_reason text,
          ADD COLUMN IF NOT EXISTS profile_visibility text NOT NULL DEFAULT 'followers'
            CHECK (profile_visibility IN ('public', 'followers', 'private')),
          ADD COLUMN IF NOT EXISTS locale text,
          ADD COLUMN IF NOT EXISTS new_cards_per_day integer NOT NULL DEFAULT 20,
          ADD COLUMN IF NOT EXISTS quiet_hours jsonb,
          ADD COLUMN IF NOT EXISTS pending_email text;

        ALTER TABLE ${s}.one_time_tokens DROP CONSTRAINT IF EXISTS one_time_tokens_purpose_check;
        ALTER TABLE ${s}.one_time_tokens ADD CONSTRAINT one_time_tokens_purpose_check
          CHECK (purpose IN ('verify', 'reset', 'email_change'));

        -- A provider's account, matched by (issuer, sub) (security.md line 26).
        CREATE TABLE IF NOT EXISTS ${s}.identities (
          id uuid PRIMARY KEY,
          user_id uuid NOT NULL REFERENCES ${s}.users (id) ON DELETE CASCADE,
          provider text NOT NULL,
          issuer text NOT NULL,
          subject text NOT NULL,
          email text,
          linked_at timestamptz NOT NULL,
          UNIQUE (issuer, subject)
        );
        CREATE INDEX IF NOT EXISTS identities_user_idx ON ${s}.identities (user_id);

        -- A sign-in begun at /auth/oidc/:provider/start: state (digest), PKCE verifier, nonce.
        CREATE TABLE IF NOT EXISTS ${s}.oidc_flows (
          state_hash text PRIMARY KEY,
          provider text NOT NULL,
          code_verifier text NOT NULL,
          nonce text NOT NULL,
          redirect_uri text NOT NULL,
          link_user_id uuid REFERENCES ${s}.users (id) ON DELETE CASCADE,
          expires_at timestamptz NOT NULL
        );
        CREATE INDEX IF NOT EXISTS oidc_flows_expiry_idx ON ${s}.oidc_flows (expires_at);

        -- The one-time code the callback hands the app, for POST /auth/oidc/exchange.
        CREATE TABLE IF NOT EXISTS ${s}.oidc_exchange_codes (
          code_hash text PRIMARY KEY,
          user_id uuid NOT NULL REFERENCES ${s}.users (id) ON DELETE CASCADE,
          created boolean NOT NULL,
          expires_at timestamptz NOT NULL,
          used_at timestamptz
        );

        -- Nonces of native ID tokens already used: one sign-in per ID token.
        CREATE TABLE IF NOT EXISTS ${s}.oidc_used_nonces (
          provider text NOT NULL,
          nonce_hash text NOT NULL,
          expires_at timestamptz NOT NULL,
          PRIMARY KEY (provider, nonce_hash)
        );

        CREATE TABLE IF NOT EXISTS ${s}.follows (
          follower_id uuid NOT NULL REFERENCES ${s}.users (id) ON DELETE CASCADE,
          followee_id uuid NOT NULL REFERENCES ${s}.users (id) ON DELETE CASCADE,
          created_at timestamptz NOT NULL DEFAULT now(),
          PRIMARY KEY (follower_id, followee_id),
          CHECK (follower_id <> followee_id)
        );
        CREATE INDEX IF NOT EXISTS follows_followee_idx ON ${s}.follows (followee_id);

        CREATE TABLE IF NOT EXISTS ${s}.blocks (
          blocker_id uuid NOT NULL REFERENCES ${s}.users (id) ON DELETE CASCADE,
          blocked_id uuid NOT NULL REFERENCES ${s}.users (id) ON DELETE CASCADE,
          created_at timestamptz NOT NULL DEFAULT now(),
          PRIMARY KEY (blocker_id, blocked_id),
          CHECK (blocker_id <> blocked_id)
        );
        CREATE INDEX IF NOT EXISTS blocks_blocked_idx ON ${s}.blocks (blocked_id);

        -- Every admin action (GET /admin/audit): who, what, to whom, when, from where. No foreign
        -- keys: the record outlives the accounts it names.
        CREATE TABLE IF NOT EXISTS ${s}.admin_audit (
          id uuid PRIMARY KEY,
          actor_id uuid,
          action text NOT NULL,
          target_id uuid,
          detail jsonb NOT NULL DEFAULT '{}',
          ip text,
          request_id text,
          at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX IF NOT EXISTS admin_audit_at_idx ON ${s}.admin_audit (at DESC, id DESC);
      `);
    },
  },
  {
    name: "0004-users-placed-level",
    async up({ context: { sequelize, schema } }) {
      // The level of the latest placement (progress.placement.completed), newest progress sequence wins.
      await sequelize.query(
        `ALTER TABLE ${q(schema)}.users ADD COLUMN IF NOT EXISTS level text,
           ADD COLUMN IF NOT EXISTS level_sequence bigint NOT NULL DEFAULT 0`,
      );
    },
  },
  {
    name: "0005-users-sessions-device-index",
    async up({ context: { sequelize, schema } }) {
      // Every login asks whether the account ever had a session from this user agent, ended
      // ones included: sessions_user_idx covers open sessions only, so that question was a
      // scan of every session of every account.
      await sequelize.query(
        `CREATE INDEX IF NOT EXISTS sessions_user_agent_idx
           ON ${q(schema)}.sessions (user_id, user_agent)`,
      );
    },
  },
];
