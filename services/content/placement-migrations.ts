import type { Migration } from "../../mixins/db.mixin";

/**
 * The placement bank (docs/learning-rules.md, "Placement"): questions tagged with a CEFR level,
 * one JSONB document each, answer keys included (read only by progress, through the internal
 * `content.placementBank`). Kept apart from the content schema's own list, as access is.
 */
export const placementBankMigrations: Migration[] = [
  {
    name: "0200-content-placement-bank",
    async up({ context: { sequelize, schema } }) {
      await sequelize.query(
        `CREATE TABLE IF NOT EXISTS "${schema}".placement_items (
           id         text PRIMARY KEY,
           level      text NOT NULL,
           item       jsonb NOT NULL,
           updated_at timestamptz NOT NULL DEFAULT now()
         )`,
      );
    },
  },
];
