import type { Transaction } from "sequelize";
import { execute } from "../../../lib/db/sql";
import type { CefrLevel } from "../../../models/course.model";
import { tableOf, type UsersDb } from "./db";

/**
 * The placed level on the profile: written from progress's `progress.placement.completed`,
 * the newest progress sequence winning (an older event arriving late changes nothing).
 */
export async function savePlacedLevel(
  db: UsersDb,
  placed: { userId: string; level: CefrLevel; sequence?: number },
  t: Transaction,
): Promise<void> {
  await execute(
    db.sequelize,
    `UPDATE ${tableOf(db, "users")} SET level = $2,
       level_sequence = COALESCE($3::bigint, level_sequence), updated_at = now()
     WHERE id = $1 AND ($3::bigint IS NULL OR level_sequence < $3::bigint)`,
    { bind: [placed.userId, placed.level, placed.sequence ?? null], transaction: t },
  );
}
