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
];
