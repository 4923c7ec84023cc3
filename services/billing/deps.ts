import type { Context, Logger } from "moleculer";
import type { Transaction } from "sequelize";
import type { DomainEvents } from "../../models/events.model";

type BillingEvent =
  "billing.subscription.changed" | "billing.invoice.paid" | "billing.invoice.payment_failed";
import type { PaymentProvider } from "./provider";
import type { BillingDb } from "./store/db";

export type Caller = Pick<Context, "requestID">;

/** What the billing use cases need from the service around them (built once in `started`). */
export interface BillingDeps {
  db: BillingDb;
  withTransaction: <T>(fn: (t: Transaction) => Promise<T>) => Promise<T>;
  emit: <K extends BillingEvent>(
    type: K,
    data: DomainEvents[K],
    opts: { transaction: Transaction; ctx?: Caller },
  ) => Promise<unknown>;
  /** Clears every node's cached entitlements: call after a transaction that changed one commits. */
  entitlementsChanged: (ctx?: Caller) => Promise<void>;
  /** Stripe, or the local provider of embedded defaults (services/billing/local-provider.ts). */
  provider: PaymentProvider;
  /** Where Checkout and the portal may send the learner back to (the app's origins). */
  appOrigins: string[];
  /** The app page the customer portal returns to. */
  portalReturnUrl: string;
  /** How long a past-due subscription keeps premium. */
  graceMs: number;
  now: () => Date;
  logger: Logger;
}
