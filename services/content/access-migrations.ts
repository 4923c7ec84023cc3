import type { Migration } from "../../mixins/db.mixin";

/**
 * Who may learn a course: `free` for everyone, `premium` for learners with the premium
 * entitlement (billing). A commercial setting, not content: it applies at once, without
 * a new published version. Kept apart from the content schema's own list (another change
 * extends that one).
 */
export const courseAccessMigrations: Migration[] = [
  {
    name: "0100-content-course-access",
    async up({ context: { sequelize, schema } }) {
      await sequelize.query(
        `ALTER TABLE "${schema}".courses ADD COLUMN IF NOT EXISTS access text NOT NULL DEFAULT 'free'
           CHECK (access IN ('free', 'premium'))`,
      );
    },
  },
];
