import type { ServiceBroker, Logger } from "moleculer";
import type { Transaction } from "sequelize";
import type { EventEnvelope } from "../../models/events.model";
import type { Recipient } from "../../models/notification.model";
import type { UserSummary } from "../../models/user.model";
import type { NotifyStore } from "./store";

/** Event types whose mail may go to a user notify has no local copy of. */
const NEEDS_RECIPIENT = new Set<string>([
  "progress.course.completed",
  "progress.achievement.unlocked",
  "progress.streak.reminder_due",
  "billing.invoice.paid",
  "billing.invoice.payment_failed",
]);

/** How long users' "no such user" answer is believed. */
const ABSENT_FOR_MS = 60_000;

/** Users that users.profiles said do not exist, and when. */
export type AbsentUsers = Map<string, number>;

/**
 * Before a batch's transaction opens (beforeDurableBatch): asks users.profiles, once for
 * the batch, for the users its mails go to that notify does not know yet, and keeps them
 * locally. Outside the transaction, so a slow or absent users service holds no database
 * transaction (and no batch of unacked messages behind it). A failure is only logged: the
 * events that needed those users fail alone inside the batch and are retried.
 */
export async function fetchMissingRecipients(
  deps: {
    store: NotifyStore;
    broker: ServiceBroker;
    logger: Logger;
    timeoutMs: number;
    absent: AbsentUsers;
  },
  events: EventEnvelope[],
): Promise<void> {
  const wanted = new Set<string>();
  for (const event of events) {
    const userId = (event.data as { userId?: unknown }).userId;
    if (NEEDS_RECIPIENT.has(event.type) && typeof userId === "string") wanted.add(userId);
  }
  if (wanted.size === 0) return;
  const known = await deps.store.knownRecipients([...wanted]);
  const missing = [...wanted].filter(id => !known.has(id));
  if (missing.length === 0) return;
  let profiles: UserSummary[];
  try {
    profiles = await deps.broker.call<UserSummary[], { ids: string[] }>(
      "users.profiles",
      { ids: missing },
      { timeout: deps.timeoutMs },
    );
  } catch (err) {
    deps.logger.warn(
      `users.profiles failed for ${missing.length} recipient(s); their events will be retried: ${(err as Error).message}`,
    );
    return;
  }
  const found = new Map(profiles.map(p => [p.id, p]));
  const now = Date.now();
  for (const userId of missing) {
    const profile = found.get(userId);
    if (!profile) {
      deps.absent.set(userId, now);
      continue;
    }
    await deps.store.upsertProfile({
      userId,
      email: profile.email,
      name: profile.name,
      timezone: profile.timezone,
      emailVerified: profile.emailVerified,
    });
  }
  for (const [userId, at] of deps.absent) if (now - at > ABSENT_FOR_MS) deps.absent.delete(userId);
}

/**
 * Who a mail goes to: the local copy (filled by user.created/updated, and by
 * fetchMissingRecipients before the batch). Null for a user users said does not exist;
 * an error (the event is retried) when users could not be asked.
 */
export async function recipientOf(
  deps: { store: NotifyStore; absent: AbsentUsers },
  userId: string,
  t: Transaction,
): Promise<Recipient | null> {
  const local = await deps.store.recipient(userId, { transaction: t });
  if (local) return local;
  const absentSince = deps.absent.get(userId);
  if (absentSince !== undefined && Date.now() - absentSince <= ABSENT_FOR_MS) return null;
  throw new Error(
    `recipient ${userId} is unknown and users.profiles could not be asked; retried later`,
  );
}
