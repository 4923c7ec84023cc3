import type { Sequelize, Transaction } from "sequelize";
import { execute, selectRows } from "../../lib/db/sql";

/**
 * Quiet hours (api.md: "never during their quiet hours, in their time zone; it waits"): a
 * window of local wall-clock time, `start` to `end` as "HH:MM", which may run past midnight
 * ("22:00"–"07:00"). A push or mail due inside it is held until it ends; security mail and
 * transactional mail (verification, reset) are never held. The learner's setting arrives in
 * user.updated's optional `quietHours` (absent: unchanged; null: none).
 */

export interface QuietHours {
  start: string;
  end: string;
}

const HH_MM = /^([01]\d|2[0-3]):([0-5]\d)$/;

const minutesOf = (hhmm: string): number | null => {
  const match = HH_MM.exec(hhmm);
  return match ? Number(match[1]) * 60 + Number(match[2]) : null;
};

/** Minutes since local midnight in `timeZone` (an unknown zone counts as UTC). */
function localMinutes(now: Date, timeZone: string): number {
  let parts: Intl.DateTimeFormatPart[];
  try {
    parts = new Intl.DateTimeFormat("en-GB", {
      timeZone,
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
    }).formatToParts(now);
  } catch {
    return now.getUTCHours() * 60 + now.getUTCMinutes();
  }
  const value = (type: string) => Number(parts.find(part => part.type === type)?.value ?? 0);
  return value("hour") * 60 + value("minute");
}

/** When the quiet window `now` falls in ends, or null outside it (or without a valid window). */
export function quietUntil(now: Date, timeZone: string, quiet: QuietHours | null): Date | null {
  if (!quiet) return null;
  const start = minutesOf(quiet.start);
  const end = minutesOf(quiet.end);
  if (start === null || end === null || start === end) return null;
  const local = localMinutes(now, timeZone);
  const inside = start < end ? local >= start && local < end : local >= start || local < end;
  if (!inside) return null;
  const left = (end - local + 24 * 60) % (24 * 60);
  const untilMinute = now.getTime() - (now.getTime() % 60_000);
  return new Date(untilMinute + left * 60_000);
}

function isQuietHours(value: unknown): value is QuietHours {
  if (value === null || typeof value !== "object") return false;
  const { start, end } = value as Record<string, unknown>;
  return (
    typeof start === "string" && typeof end === "string" && HH_MM.test(start) && HH_MM.test(end)
  );
}

/** The learner's delivery settings from user.updated, newest event (by `sequence`) first. */
export async function saveDeliverySettings(
  sequelize: Sequelize,
  schema: string,
  change: { userId: string; quietHours?: QuietHours | null; locale?: string; sequence?: number },
  t: Transaction,
): Promise<void> {
  if (change.quietHours === undefined && change.locale === undefined) return;
  const keepQuiet = change.quietHours === undefined;
  await execute(
    sequelize,
    `INSERT INTO "${schema}".delivery_settings (user_id, quiet_hours, locale, sequence)
     SELECT :userId, CAST(:quietHours AS jsonb), :locale, :sequence
      WHERE NOT EXISTS (SELECT 1 FROM "${schema}".erased_users e WHERE e.user_id = :userId)
     ON CONFLICT (user_id) DO UPDATE SET
       quiet_hours = CASE WHEN :keepQuiet THEN delivery_settings.quiet_hours ELSE EXCLUDED.quiet_hours END,
       locale = COALESCE(EXCLUDED.locale, delivery_settings.locale),
       sequence = GREATEST(delivery_settings.sequence, EXCLUDED.sequence)
     WHERE EXCLUDED.sequence = 0 OR EXCLUDED.sequence > delivery_settings.sequence`,
    {
      replacements: {
        userId: change.userId,
        quietHours: isQuietHours(change.quietHours) ? JSON.stringify(change.quietHours) : null,
        locale: change.locale ?? null,
        sequence: change.sequence ?? 0,
        keepQuiet,
      },
      transaction: t,
    },
  );
}

/** When what is due now for the user may go: now, or the end of their quiet hours. */
export async function deliverableAt(
  sequelize: Sequelize,
  schema: string,
  userId: string,
  t: Transaction,
  now = new Date(),
): Promise<Date | null> {
  const rows = await selectRows<{ quiet_hours: QuietHours | null; timezone: string | null }>(
    sequelize,
    `SELECT d.quiet_hours, r.timezone FROM "${schema}".delivery_settings d
       LEFT JOIN "${schema}".recipients r ON r.user_id = d.user_id
      WHERE d.user_id = :userId`,
    { replacements: { userId }, transaction: t },
  );
  const row = rows[0];
  if (!row) return null;
  return quietUntil(now, row.timezone ?? "UTC", row.quiet_hours);
}

/** The locale user.updated last gave for the user, or null. */
export async function localeOf(
  sequelize: Sequelize,
  schema: string,
  userId: string,
  t: Transaction,
): Promise<string | null> {
  const rows = await selectRows<{ locale: string | null }>(
    sequelize,
    `SELECT locale FROM "${schema}".delivery_settings WHERE user_id = :userId`,
    { replacements: { userId }, transaction: t },
  );
  return rows[0]?.locale ?? null;
}
