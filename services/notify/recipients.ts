import type { ServiceBroker } from "moleculer";
import type { Transaction } from "sequelize";
import type { Recipient, UserProfile } from "../../models/notification.model";
import type { NotifyStore } from "./store";

/**
 * Who a mail goes to. The local copy first (filled by user.created/updated, so mail goes
 * while users is slow); otherwise ask users.profiles and keep the answer. A users outage
 * throws, and DurableEvents retries the event later.
 */
export async function recipientOf(
  deps: { store: NotifyStore; broker: ServiceBroker; timeoutMs: number },
  userId: string,
  t: Transaction,
): Promise<Recipient | null> {
  const local = await deps.store.recipient(userId, { transaction: t });
  if (local) return local;
  const profiles = await deps.broker.call<UserProfile[], { ids: string[] }>(
    "users.profiles",
    { ids: [userId] },
    { timeout: deps.timeoutMs },
  );
  const profile = profiles.find(p => p.id === userId);
  if (!profile) return null;
  const recipient: Recipient = {
    userId,
    email: profile.email,
    name: profile.name,
    timezone: profile.timezone,
    emailVerified: profile.emailVerified,
  };
  await deps.store.upsertRecipient(recipient, { transaction: t });
  return recipient;
}
