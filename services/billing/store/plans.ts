import type { Plan, PlanInterval } from "../../../models/billing.model";
import { B, first, select, type BillingDb } from "./db";

/** Plans: what can be bought. */

export interface PlanRow {
  id: string;
  name: string;
  interval: PlanInterval;
  amount: number;
  currency: string;
  trial_days: number;
  features: string[];
}

export const toPlan = (row: PlanRow): Plan => ({
  id: row.id,
  name: row.name,
  interval: row.interval,
  price: { amount: row.amount, currency: row.currency },
  trialDays: row.trial_days,
  features: row.features,
});

const COLUMNS = "id, name, interval, amount, currency, trial_days, features";

export const activePlans = (db: BillingDb) =>
  select<PlanRow>(db, `SELECT ${COLUMNS} FROM ${B}.plans WHERE active ORDER BY position, id`, {});

export const activePlan = (db: BillingDb, id: string) =>
  first<PlanRow>(db, `SELECT ${COLUMNS} FROM ${B}.plans WHERE active AND id = :id`, { id });

/** Features of a plan, sold now or not (a subscriber keeps what they bought). */
export async function featuresOf(db: BillingDb, id: string | null): Promise<string[]> {
  if (id === null) return [];
  const row = await first<{ features: string[] }>(
    db,
    `SELECT features FROM ${B}.plans WHERE id = :id`,
    { id },
  );
  return row?.features ?? [];
}
