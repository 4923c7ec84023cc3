import type { Transaction } from "sequelize";
import type { BillingDeps } from "./deps";
import { customerIdOf } from "./store/customers";
import { eraseBillingData } from "./store/erasure";
import { lockUserBilling } from "./store/subscriptions";

/**
 * user.deleted: the customer is deleted at Stripe (which ends its subscriptions at once, so
 * nobody pays for an account that is gone), then our copy goes (store/erasure.ts). A failure
 * at Stripe fails the event, which is redelivered; Stripe answers a second deletion as done.
 */
export async function eraseUser(deps: BillingDeps, userId: string, t: Transaction): Promise<void> {
  await lockUserBilling(deps.db, userId, t);
  const customerId = await customerIdOf(deps.db, userId, t);
  if (customerId) await deps.provider.deleteCustomer(customerId);
  await eraseBillingData(deps.db, userId, t);
  deps.logger.info(`billing: user ${userId} erased (invoices kept, unlinked)`);
}
