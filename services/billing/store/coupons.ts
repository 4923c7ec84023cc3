import type { CouponDuration, CouponInput, CouponView } from "../../../models/billing.model";
import { isUniqueViolation } from "../../../lib/db/sql";
import { B, change, first, select, type BillingDb } from "./db";

/** Coupons: codes learners type at checkout, each a coupon at the provider. */

interface CouponRow {
  code: string;
  stripe_coupon_id: string;
  percent_off: string | null;
  amount_off: number | null;
  currency: string | null;
  duration: CouponDuration;
  duration_in_months: number | null;
  max_redemptions: number | null;
  created_at: Date;
}

export const toCouponView = (row: CouponRow): CouponView => ({
  code: row.code,
  percentOff: row.percent_off === null ? null : Number(row.percent_off),
  amountOff: row.amount_off,
  currency: row.currency,
  duration: row.duration,
  durationInMonths: row.duration_in_months,
  maxRedemptions: row.max_redemptions,
  createdAt: new Date(row.created_at).toISOString(),
});

const COLUMNS = `code, stripe_coupon_id, percent_off, amount_off, currency, duration,
  duration_in_months, max_redemptions, created_at`;

export const couponOf = (db: BillingDb, code: string) =>
  first<CouponRow>(db, `SELECT ${COLUMNS} FROM ${B}.coupons WHERE code = :code`, { code });

export async function couponPage(db: BillingDb, page: number, pageSize: number) {
  const rows = await select<CouponRow>(
    db,
    `SELECT ${COLUMNS} FROM ${B}.coupons ORDER BY created_at DESC, code LIMIT :limit OFFSET :offset`,
    { limit: pageSize, offset: (page - 1) * pageSize },
  );
  const total = await first<{ n: string }>(db, `SELECT COUNT(*) AS n FROM ${B}.coupons`, {});
  return { rows, total: Number(total?.n ?? 0) };
}

/** False when the code is taken. */
export async function saveCoupon(
  db: BillingDb,
  coupon: CouponInput,
  stripeCouponId: string,
): Promise<boolean> {
  try {
    await change(
      db,
      `INSERT INTO ${B}.coupons (code, stripe_coupon_id, percent_off, amount_off, currency, duration,
         duration_in_months, max_redemptions)
       VALUES (:code, :stripeCouponId, :percentOff, :amountOff, :currency, :duration,
         :durationInMonths, :maxRedemptions)`,
      {
        code: coupon.code,
        stripeCouponId,
        percentOff: coupon.percentOff ?? null,
        amountOff: coupon.amountOff ?? null,
        currency: coupon.currency ?? null,
        duration: coupon.duration,
        durationInMonths: coupon.durationInMonths ?? null,
        maxRedemptions: coupon.maxRedemptions ?? null,
      },
    );
    return true;
  } catch (err) {
    if (isUniqueViolation(err)) return false;
    throw err;
  }
}
