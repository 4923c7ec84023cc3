/**
 * Calendar arithmetic in a learner's IANA time zone. A "local date" is a plain
 * YYYY-MM-DD string: day differences are computed on the calendar, never by dividing
 * milliseconds, so a 23- or 25-hour day across a DST change is still one day.
 */

/** Injectable time source: tests move it instead of waiting. */
export type Clock = () => Date;
export const systemClock: Clock = () => new Date();

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-CA", {
      timeZone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
    });
    formatters.set(timeZone, f);
  }
  return f;
}

function isValidTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** An unknown zone (a typo that slipped past users) falls back to UTC instead of failing a grade. */
export function safeTimeZone(timeZone: string | null | undefined): string {
  return timeZone && isValidTimeZone(timeZone) ? timeZone : "UTC";
}

export interface LocalTime {
  date: string;
  hour: number;
  minute: number;
}

export function localTime(instant: Date, timeZone: string): LocalTime {
  const parts: Record<string, string> = {};
  for (const part of formatter(safeTimeZone(timeZone)).formatToParts(instant))
    parts[part.type] = part.value;
  return {
    date: `${parts.year}-${parts.month}-${parts.day}`,
    hour: Number(parts.hour),
    minute: Number(parts.minute),
  };
}

export function localDate(instant: Date, timeZone: string): string {
  return localTime(instant, timeZone).date;
}

function dayNumber(date: string): number {
  const [y, m, d] = date.split("-").map(Number);
  return Math.round(Date.UTC(y, m - 1, d) / 86_400_000);
}

/** Whole calendar days from `from` to `to` (negative when `to` is earlier). */
export function daysBetween(from: string, to: string): number {
  return dayNumber(to) - dayNumber(from);
}

export function addDays(date: string, days: number): string {
  return new Date((dayNumber(date) + days) * 86_400_000).toISOString().slice(0, 10);
}

/**
 * The first instant of the local date after `instant`'s in `timeZone` (never later than it:
 * a day that a clock change at midnight shortens may be answered an hour early).
 */
export function nextLocalDay(instant: Date, timeZone: string): Date {
  const zone = safeTimeZone(timeZone);
  const now = localTime(instant, zone);
  const intoMinute = instant.getTime() % 60_000;
  const minutesLeft = 24 * 60 - (now.hour * 60 + now.minute);
  const guess = new Date(instant.getTime() - intoMinute + minutesLeft * 60_000);
  // A clock change before the guess moves its wall-clock time off midnight by the change.
  const then = localTime(guess, zone);
  const off = then.hour * 60 + then.minute;
  const shift = then.date === now.date ? off - 24 * 60 : off;
  const start = new Date(guess.getTime() - shift * 60_000);
  return localDate(start, zone) === now.date ? guess : start;
}

// The weekly leaderboard's week: the gateways compute it too (lib/leaderboard-read-model.ts).
export { isoWeek } from "../../lib/iso-week";
