import type { FieldProblem } from "../../lib/errors";
import { validationError } from "../../lib/errors";
import { pageOf } from "../../lib/params";
import type { CouponInput, CouponView, RefundView } from "../../models/billing.model";
import type { BillingDeps } from "./deps";
import { couponTaken, invoiceNotFound, nothingToRefund } from "./errors";
import { couponOf, couponPage, saveCoupon, toCouponView } from "./store/coupons";
import { findInvoice, saveRefund } from "./store/invoices";

/** The admins' side: coupons, and refunds (through the provider, never only in our table). */

function couponProblems(input: CouponInput): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const both = input.percentOff !== undefined && input.amountOff !== undefined;
  const neither = input.percentOff === undefined && input.amountOff === undefined;
  if (both || neither)
    problems.push({
      field: "percentOff",
      type: "oneOf",
      message: "Give exactly one of 'percentOff' and 'amountOff'",
    });
  if (input.amountOff !== undefined && input.currency === undefined)
    problems.push({
      field: "currency",
      type: "required",
      message: "An 'amountOff' needs a 'currency'",
    });
  if ((input.duration === "repeating") !== (input.durationInMonths !== undefined))
    problems.push({
      field: "durationInMonths",
      type: "required",
      message: "'durationInMonths' goes with a 'repeating' duration, and only with it",
    });
  return problems;
}

export async function createCoupon(deps: BillingDeps, input: CouponInput): Promise<CouponView> {
  const problems = couponProblems(input);
  if (problems.length > 0) throw validationError(problems);
  const { provider } = deps;
  if (await couponOf(deps.db, input.code)) throw couponTaken(input.code);
  const stripeCouponId = await provider.createCoupon(input);
  if (!(await saveCoupon(deps.db, input, stripeCouponId))) throw couponTaken(input.code);
  const saved = await couponOf(deps.db, input.code);
  if (!saved) throw new Error(`coupon ${input.code} vanished after it was saved`);
  return toCouponView(saved);
}

export async function listCoupons(
  deps: BillingDeps,
  { page, pageSize }: { page: number; pageSize: number },
) {
  const { rows, total } = await couponPage(deps.db, page, pageSize);
  return { rows: rows.map(toCouponView), ...pageOf(total, page, pageSize) };
}

/** The refund is made at the provider; charge.refunded then records it on the invoice. */
export async function refundInvoice(
  deps: BillingDeps,
  input: { invoiceId: string; amount?: number },
): Promise<RefundView> {
  const { provider } = deps;
  const invoice = await findInvoice(deps.db, input.invoiceId);
  if (!invoice) throw invoiceNotFound(input.invoiceId);
  const left = invoice.amount - invoice.amount_refunded;
  if (invoice.status !== "paid" || left <= 0) throw nothingToRefund(invoice.id);
  if (input.amount !== undefined && input.amount > left)
    throw validationError([
      {
        field: "amount",
        type: "numberMax",
        message: `At most ${left} is left to refund`,
        actual: input.amount,
        expected: left,
      },
    ]);
  const payment = invoice.payment_intent ?? (await provider.paymentOfInvoice(invoice.id));
  if (!payment) throw nothingToRefund(invoice.id);
  const refund = await provider.refund(payment, input.amount);
  const view = {
    id: refund.id,
    invoiceId: invoice.id,
    amount: refund.amount,
    status: refund.status,
  };
  await saveRefund(deps.db, view);
  return view;
}
