import type { Transaction } from "sequelize";
import type { DomainEvents } from "../../models/events.model";
import { UUID } from "./ids";
import type { UsersDb } from "./store/db";
import { savePlacedLevel } from "./store/levels";

/** The placement test's level on the profile (`GET /me` shows `level`; docs/learning-rules.md). */

export interface PlacedLevelDeps {
  db: UsersDb;
}

/** progress.placement.completed: the profile takes the level, unless a newer placement is there. */
export async function recordPlacedLevel(
  deps: PlacedLevelDeps,
  input: Pick<DomainEvents["progress.placement.completed"], "userId" | "level" | "sequence">,
  t: Transaction,
): Promise<void> {
  // Only a user of ours (a UUID) has a profile; anything else names nobody.
  if (!UUID.test(input.userId)) return;
  await savePlacedLevel(deps.db, input, t);
}
