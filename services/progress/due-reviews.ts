import type { Transaction } from "sequelize";
import type { EmitDurable } from "./awards";
import * as store from "./store";

/**
 * "Your reviews are due" (issue 17, live): each round of the reminder job (one node, under
 * its lock) finds the learners whose first flashcard became due since the last round and
 * emits one progress.review.due each; notify turns it into a `review.due` live message. A
 * learner is told once per wave: the wave stays open while any card is due and closes when
 * the round sees none, so a later card becoming due starts the next one.
 */
export async function announceDueReviews(
  db: store.Db,
  emit: EmitDurable,
  now: Date,
  t: Transaction,
): Promise<string[]> {
  await store.closeReviewedWaves(db, now, t);
  const waves = await store.openReviewWaves(db, now, t);
  for (const wave of waves) {
    await emit(
      "progress.review.due",
      {
        userId: wave.user_id,
        count: Number(wave.due_count),
        dueAt: new Date(wave.first_due).toISOString(),
      },
      t,
    );
  }
  return waves.map(wave => wave.user_id);
}
