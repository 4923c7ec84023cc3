import type { Transaction } from "sequelize";
import type { InvoiceView } from "../../../models/billing.model";
import type { ProviderInvoice } from "../provider";
import { B, change, first, select, type BillingDb } from "./db";

/** Invoices: the provider's, as its events report them, with what was refunded of each. */

export interface InvoiceRow {
  id: string;
  user_id: string | null;
  number: string | null;
  amount: number;
  currency: string;
  status: string;
  paid_at: Date | null;
  pdf_url: string | null;
  payment_intent: string | null;
  amount_refunded: number;
}

export const toInvoiceView = (row: InvoiceRow): InvoiceView => ({
  id: row.id,
  number: row.number,
  amount: row.amount,
  currency: row.currency,
  status: row.amount_refunded > 0 && row.amount_refunded >= row.amount ? "refunded" : row.status,
  paidAt: row.paid_at ? new Date(row.paid_at).toISOString() : null,
  pdfUrl: row.pdf_url,
});

const COLUMNS =
  "id, user_id, number, amount, currency, status, paid_at, pdf_url, payment_intent, amount_refunded";

/** How far along an invoice is: a late event of an earlier stage never moves it back. */
const STAGE = (status: string) =>
  `CASE ${status} WHEN 'draft' THEN 0 WHEN 'open' THEN 1 ELSE 2 END`;

export async function saveInvoice(
  db: BillingDb,
  invoice: ProviderInvoice,
  userId: string | null,
  paymentIntent: string | undefined,
  t: Transaction,
): Promise<void> {
  await change(
    db,
    `INSERT INTO ${B}.invoices
       (id, user_id, subscription_id, number, amount, currency, status, paid_at, pdf_url,
        payment_intent, created_at)
     VALUES (:id, :userId, :subscriptionId, :number, :amount, :currency, :status, :paidAt, :pdfUrl,
        :paymentIntent, :createdAt)
     ON CONFLICT (id) DO UPDATE SET
       number = COALESCE(EXCLUDED.number, invoices.number),
       amount = EXCLUDED.amount,
       status = EXCLUDED.status,
       paid_at = COALESCE(EXCLUDED.paid_at, invoices.paid_at),
       pdf_url = COALESCE(EXCLUDED.pdf_url, invoices.pdf_url),
       payment_intent = COALESCE(EXCLUDED.payment_intent, invoices.payment_intent)
     WHERE ${STAGE("invoices.status")} <= ${STAGE("EXCLUDED.status")}`,
    {
      id: invoice.id,
      userId,
      subscriptionId: invoice.subscriptionId,
      number: invoice.number,
      amount: invoice.amount,
      currency: invoice.currency,
      status: invoice.status,
      paidAt: invoice.paidAt,
      pdfUrl: invoice.pdfUrl,
      paymentIntent: paymentIntent ?? null,
      createdAt: invoice.createdAt,
    },
    t,
  );
}

export const invoicesOf = (db: BillingDb, userId: string) =>
  select<InvoiceRow>(
    db,
    `SELECT ${COLUMNS} FROM ${B}.invoices WHERE user_id = :userId ORDER BY created_at DESC LIMIT 100`,
    { userId },
  );

export const findInvoice = (db: BillingDb, id: string) =>
  first<InvoiceRow>(db, `SELECT ${COLUMNS} FROM ${B}.invoices WHERE id = :id`, { id });

/** charge.refunded carries the charge's refunded total so far: the larger total wins. */
export async function recordRefunded(
  db: BillingDb,
  paymentIntent: string,
  amountRefunded: number,
  t: Transaction,
): Promise<void> {
  await change(
    db,
    `UPDATE ${B}.invoices SET amount_refunded = GREATEST(amount_refunded, :amountRefunded)
     WHERE payment_intent = :paymentIntent`,
    { paymentIntent, amountRefunded },
    t,
  );
}

export async function saveRefund(
  db: BillingDb,
  refund: { id: string; invoiceId: string; amount: number; status: string },
): Promise<void> {
  await change(
    db,
    `INSERT INTO ${B}.refunds (id, invoice_id, amount, status)
     VALUES (:id, :invoiceId, :amount, :status) ON CONFLICT (id) DO NOTHING`,
    refund,
  );
}
