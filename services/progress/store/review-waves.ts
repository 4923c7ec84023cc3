import type { Transaction } from "sequelize";
import { exec, rows, S, type Db } from "./sql";

/**
 * Due-review waves: a learner's wave opens when a first card of theirs becomes due and
 * closes when none is due any more (they reviewed them all). `review_waves` holds the open
 * ones, so each wave is announced once however many rounds see it.
 */

export interface NewWave {
  user_id: string;
  /** Cards due at the round's instant. */
  due_count: string;
  first_due: Date;
}

/** Closes the waves of learners with no card due at `now`. */
export async function closeReviewedWaves(db: Db, now: Date, t: Transaction): Promise<void> {
  await exec(
    db,
    `DELETE FROM ${S}.review_waves w WHERE NOT EXISTS (
       SELECT 1 FROM ${S}.review_cards c WHERE c.user_id = w.user_id AND c.due <= :now)`,
    { now },
    t,
  );
}

/** Opens a wave for each learner with cards due at `now` and none open: those are new. */
export function openReviewWaves(db: Db, now: Date, t: Transaction): Promise<NewWave[]> {
  return rows<NewWave>(
    db,
    `WITH due AS (
       SELECT c.user_id, COUNT(*) AS due_count, MIN(c.due) AS first_due FROM ${S}.review_cards c
        WHERE c.due <= :now
          AND NOT EXISTS (SELECT 1 FROM ${S}.review_waves w WHERE w.user_id = c.user_id)
          AND EXISTS (SELECT 1 FROM ${S}.learners l WHERE l.user_id = c.user_id)
          AND NOT EXISTS (SELECT 1 FROM ${S}.erased_users e WHERE e.user_id = c.user_id)
        GROUP BY c.user_id
     ), opened AS (
       INSERT INTO ${S}.review_waves (user_id, opened_at) SELECT user_id, :now FROM due
       ON CONFLICT (user_id) DO NOTHING RETURNING user_id
     )
     SELECT due.user_id, due.due_count, due.first_due FROM due JOIN opened USING (user_id)
      ORDER BY due.user_id`,
    { now },
    t,
  );
}
