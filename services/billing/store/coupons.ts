import { B, first, type BillingDb } from "./db";

/** Coupons: codes learners type at checkout, each a coupon at the provider. */

export interface CouponRow {
  code: string;
  stripe_coupon_id: string;
}

export const couponOf = (db: BillingDb, code: string) =>
  first<CouponRow>(db, `SELECT code, stripe_coupon_id FROM ${B}.coupons WHERE code = :code`, {
    code,
  });
