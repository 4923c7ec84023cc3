import type { Transaction } from "sequelize";
import { execute, selectRows } from "../../lib/db/sql";
import type { AuthUser } from "../../models/auth.model";
import {
  DEFAULT_CHANNEL_PREFERENCES,
  type Channel,
  type ChannelPreferences,
  type Digest,
  type NotificationPreferences,
  type NotifyCategory,
  type PreferencesChange,
} from "../../models/notification.model";
import type { NotifyDeps } from "./deps";

/**
 * A learner's choices per channel and category (api.md `/me/notification-preferences`).
 * The mail categories that existed before channels (marketing, achievements, reminders and
 * the digest, once `weeklyReport`) stay in notify.preferences, which the mails' one-click
 * unsubscribe links change; the rest lives in notify.channel_preferences as the learner's
 * departures from the defaults. Security mail is always on.
 */

type PreferenceDeps = Pick<NotifyDeps, "db" | "store">;

interface ChannelRow {
  channels: Partial<Record<Channel, Partial<ChannelPreferences>>>;
  digest: Exclude<Digest, "off">;
}

async function channelRow(
  deps: PreferenceDeps,
  userId: string,
  t?: Transaction,
): Promise<ChannelRow> {
  const rows = await selectRows<ChannelRow>(
    deps.db.sequelize,
    `SELECT channels, digest FROM "${deps.db.schema}".channel_preferences WHERE user_id = :userId`,
    { replacements: { userId }, transaction: t ?? null },
  );
  return rows[0] ?? { channels: {}, digest: "weekly" };
}

/** A learner's preferences, in the caller's transaction if any (consumers read them too). */
export async function preferencesOf(
  deps: PreferenceDeps,
  userId: string,
  t?: Transaction,
): Promise<NotificationPreferences> {
  const [mail, row] = await Promise.all([
    deps.store.preferences(userId, { transaction: t ?? null }),
    channelRow(deps, userId, t),
  ]);
  const channel = (name: Channel): ChannelPreferences => ({
    ...DEFAULT_CHANNEL_PREFERENCES[name],
    ...row.channels[name],
  });
  return {
    email: {
      ...channel("email"),
      marketing: mail.marketing,
      achievements: mail.achievements,
      reminders: mail.reminders,
      security: true,
    },
    push: channel("push"),
    sms: channel("sms"),
    inApp: channel("inApp"),
    // The digest mail's unsubscribe link turns `weeklyReport` off: then no digest at all.
    digest: mail.weeklyReport ? row.digest : "off",
  };
}

/** GET /me/notification-preferences */
export function readPreferences(
  deps: PreferenceDeps,
  actor: AuthUser,
): Promise<NotificationPreferences> {
  return preferencesOf(deps, actor.id);
}

/** PUT /me/notification-preferences: channels and categories left out keep their value. */
export function changePreferences(
  deps: PreferenceDeps & Pick<NotifyDeps, "withTransaction">,
  change: PreferencesChange,
  actor: AuthUser,
): Promise<NotificationPreferences> {
  return deps.withTransaction(t => applyChange(deps, actor.id, change, t));
}

/** Applies a partial change and answers the result. */
async function applyChange(
  deps: PreferenceDeps,
  userId: string,
  change: PreferencesChange,
  t: Transaction,
): Promise<NotificationPreferences> {
  const mailPatch = {
    ...pick(change.email, ["marketing", "achievements", "reminders"]),
    ...(change.digest ? { weeklyReport: change.digest !== "off" } : {}),
  };
  // Takes the user's preference lock: concurrent changes on several nodes apply one after the other.
  await deps.store.changePreferences(userId, mailPatch, t);
  const row = await channelRow(deps, userId, t);
  const channels = { ...row.channels };
  for (const name of ["email", "push", "sms", "inApp"] as const) {
    const patch = name === "email" ? pick(change.email, ["social"]) : change[name];
    if (patch) channels[name] = { ...channels[name], ...patch };
  }
  const digest = change.digest && change.digest !== "off" ? change.digest : row.digest;
  await execute(
    deps.db.sequelize,
    `INSERT INTO "${deps.db.schema}".channel_preferences (user_id, channels, digest)
     SELECT :userId, CAST(:channels AS jsonb), :digest
      WHERE NOT EXISTS (SELECT 1 FROM "${deps.db.schema}".erased_users e WHERE e.user_id = :userId)
     ON CONFLICT (user_id) DO UPDATE SET channels = EXCLUDED.channels, digest = EXCLUDED.digest, updated_at = now()`,
    { replacements: { userId, channels: JSON.stringify(channels), digest }, transaction: t },
  );
  return preferencesOf(deps, userId, t);
}

function pick(
  prefs: Partial<ChannelPreferences> | undefined,
  keys: NotifyCategory[],
): Partial<ChannelPreferences> {
  if (!prefs) return {};
  return Object.fromEntries(keys.filter(key => key in prefs).map(key => [key, prefs[key]]));
}
