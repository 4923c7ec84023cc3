import type { Transaction } from "sequelize";
import { exec, one, S, type Db } from "./sql";

/**
 * The premium entitlement as billing announced it last (billing.subscription.changed); an
 * erased learner's late event writes nothing.
 */

export async function savePremium(
  db: Db,
  change: { userId: string; premium: boolean; sequence: number },
  t: Transaction,
): Promise<void> {
  await exec(
    db,
    `INSERT INTO ${S}.premium_members (user_id, premium, sequence)
     SELECT :userId, :premium, :sequence
     WHERE NOT EXISTS (SELECT 1 FROM ${S}.erased_users WHERE user_id = :userId)
     ON CONFLICT (user_id) DO UPDATE SET premium = EXCLUDED.premium,
       sequence = EXCLUDED.sequence, updated_at = now()
     WHERE premium_members.sequence < EXCLUDED.sequence`,
    change,
    t,
  );
}

export async function holdsPremium(db: Db, userId: string): Promise<boolean> {
  const row = await one<{ premium: boolean }>(
    db,
    `SELECT premium FROM ${S}.premium_members WHERE user_id = :userId`,
    { userId },
  );
  return row?.premium === true;
}

export async function erasePremium(db: Db, userId: string, t: Transaction): Promise<void> {
  await exec(db, `DELETE FROM ${S}.premium_members WHERE user_id = :userId`, { userId }, t);
}
