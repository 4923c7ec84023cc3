import type { Logger } from "moleculer";
import type { Transaction } from "sequelize";
import type { MailAttachment, QueuedMail } from "../../models/email.model";
import type { Recipient } from "../../models/notification.model";
import { weekChartPng } from "./digest-chart";
import type { DigestCandidate, DigestStore } from "./digest-store";
import { isoWeekOf, shiftDate, wallClock } from "./local-time";
import type { MailBuilder } from "./mail-builder";
import { quietUntil } from "./quiet-hours";

/**
 * The daily and weekly digests. Every notify node runs a round on a timer (and
 * `notify.runDigests` runs one at a given instant, for operators and tests): a learner whose
 * digest is on gets it once their local time is in the morning window (weekly: on Monday),
 * outside their quiet hours — inside them it waits for a later round. Exactly once per
 * learner and period, however many nodes run rounds: the (user, period) row of
 * digests_sent is inserted in the transaction that queues the mail, and a node that loses
 * that race queues nothing. The mail sender then delivers it like any other mail.
 */

export interface DigestDeps {
  digests: DigestStore;
  builder: MailBuilder;
  logger: Logger;
  recipient(userId: string): Promise<Recipient | null>;
  /** Review cards due at `at` (progress.dueReviewCount, over the broker). */
  dueReviews(userId: string, at: Date): Promise<number>;
  withTransaction<T>(fn: (t: Transaction) => Promise<T>): Promise<T>;
  /** Queues the mail in `t` (false: already queued) and wakes the sender once `t` commits. */
  queueMail(mail: QueuedMail, t: Transaction): Promise<boolean>;
  /** The local hour the morning window opens (08:00); it closes at noon. */
  morningHour: number;
}

export interface DigestRun {
  sent: string[];
}

const MORNING_ENDS_HOUR = 12;
const CHART_CID = "week-xp@lingomesh";
const MONDAY = 1;

/** The period a digest due now covers, or null when this is not the learner's digest morning. */
function duePeriod(candidate: DigestCandidate, now: Date, morningHour: number): string | null {
  const local = wallClock(now, candidate.timezone);
  if (local.hour < morningHour || local.hour >= MORNING_ENDS_HOUR) return null;
  if (candidate.digest === "daily") return local.date;
  return local.weekday === MONDAY ? isoWeekOf(local.date) : null;
}

export async function runDigestRound(deps: DigestDeps, now: Date): Promise<DigestRun> {
  const sent: string[] = [];
  for (const candidate of await deps.digests.candidates()) {
    const period = duePeriod(candidate, now, deps.morningHour);
    if (!period) continue;
    if (quietUntil(now, candidate.timezone, candidate.quietHours)) continue;
    if (await deps.digests.alreadySent(candidate.userId, period)) continue;
    try {
      if (await sendDigest(deps, candidate, period, now)) sent.push(candidate.userId);
    } catch (err) {
      // Nothing was claimed: a later round tries this learner again.
      deps.logger.warn(`digest of ${candidate.userId} not sent this round`, {
        error: (err as Error).message,
      });
    }
  }
  await deps.digests.prune(wallClock(now, "UTC").date);
  return { sent };
}

async function sendDigest(
  deps: DigestDeps,
  candidate: DigestCandidate,
  period: string,
  now: Date,
): Promise<boolean> {
  const recipient = await deps.recipient(candidate.userId);
  if (!recipient) return false;
  const today = wallClock(now, candidate.timezone).date;
  const week = Array.from({ length: 7 }, (_, i) => shiftDate(today, i - 7));
  const yesterday = week[6];
  const daily = candidate.digest === "daily";
  const [figures, dueReviews] = await Promise.all([
    deps.digests.figures(candidate.userId, week, yesterday),
    deps.dueReviews(candidate.userId, now),
  ]);
  // Weekdays and figures as the learner reads them ("jue", "Th 5"; "1.234").
  const locale = deps.builder.localeOf(recipient);
  const chartDays = week.map((date, i) => ({
    label: locale.weekday(date),
    xp: figures.days[i].xp,
  }));
  const weekXp = chartDays.reduce((sum, day) => sum + day.xp, 0);
  const chart: MailAttachment = {
    cid: CHART_CID,
    filename: "xp-this-week.png",
    contentType: "image/png",
    base64: weekChartPng(chartDays).toString("base64"),
  };
  const mail = deps.builder.build({
    template: "digest",
    eventId: `digest:${period}`,
    recipient,
    vars: {
      // The words of the period are mail.digest.<period>.* in the locale files.
      period: candidate.digest,
      xp: daily ? figures.days[6].xp : weekXp,
      lessons: daily
        ? figures.days[6].lessons
        : figures.days.reduce((sum, day) => sum + day.lessons, 0),
      streak: figures.streak,
      dueReviews,
      weekXp,
      totalXp: figures.totalXp,
      chartSrc: `cid:${CHART_CID}`,
      chartAlt: chartDays.map(day => `${day.label} ${locale.number(day.xp)}`).join(", "),
      continueUrl: `${deps.builder.links.app}/${dueReviews > 0 ? "reviews" : "learn"}`,
    },
    linkVars: ["continueUrl"],
  });
  return deps.withTransaction(async t => {
    if (!(await deps.digests.claim(candidate.userId, period, mail.id, t))) return false;
    return deps.queueMail({ ...mail, attachments: [chart] }, t);
  });
}

/**
 * Runs `round` every `intervalMs` until the returned function is called; the first round
 * waits a random part of the interval, so nodes started together do not run in step.
 */
export function everyInterval(intervalMs: number, round: () => Promise<unknown>): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const next = (delayMs: number): void => {
    timer = setTimeout(() => {
      void round().finally(() => {
        if (!stopped) next(intervalMs);
      });
    }, delayMs).unref();
  };
  next(Math.floor(Math.random() * intervalMs));
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}
