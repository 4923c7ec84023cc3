import type { Transaction } from "sequelize";
import type { EmitDurable } from "./awards";
import { addDays, localTime, safeTimeZone } from "./clock";
import { announceDueReviews } from "./due-reviews";
import { atRisk, MAX_FREEZES, settle } from "./streaks";
import * as store from "./store";

/**
 * The streak reminder job. Every node runs it on a timer; per run exactly one node does
 * the work (a transaction-scoped advisory lock, try-only: the others skip this round) and
 * the (user_id, local_date) key of streak_reminders makes each learner's reminder of a
 * local day a single event even if two runs ever overlap (embedded store, clock skew).
 *
 * A learner is reminded once their local time reaches EVENING_HOUR when their streak is
 * alive but today has not counted yet. The same round announces due reviews
 * (services/progress/due-reviews.ts).
 */

const EVENING_HOUR = 19;
const REMINDER_LOCK_KEY = 0x4c4d5052; // "LMPR"

export interface ReminderRun {
  /** False when another node held the lock and did this round. */
  ran: boolean;
  reminded: string[];
  /** Learners told their reviews are due (a new wave) this round. */
  reviewsDue: string[];
}

export async function runReminderJob(
  db: store.Db,
  emit: EmitDurable,
  now: Date,
  transaction: <T>(fn: (t: Transaction) => Promise<T>) => Promise<T>,
): Promise<ReminderRun> {
  return transaction(async t => {
    if (!(await store.tryAdvisoryLock(db, REMINDER_LOCK_KEY, t)))
      return { ran: false, reminded: [], reviewsDue: [] };
    // Local dates run at most a day either side of UTC; freezes stretch a live streak by MAX_FREEZES days.
    const since = addDays(now.toISOString().slice(0, 10), -(MAX_FREEZES + 2));
    const reminded: string[] = [];
    for (const learner of await store.streakCandidates(db, since, t)) {
      const local = localTime(now, safeTimeZone(learner.timezone));
      if (local.hour < EVENING_HOUR) continue;
      const streak = store.streakOf(learner);
      if (!atRisk(streak, local.date)) continue;
      if (!(await store.claimReminder(db, learner.user_id, local.date, now, t))) continue;
      await emit(
        "progress.streak.reminder_due",
        {
          userId: learner.user_id,
          currentStreak: settle(streak, local.date).current,
          localDate: local.date,
        },
        t,
      );
      reminded.push(learner.user_id);
    }
    return { ran: true, reminded, reviewsDue: await announceDueReviews(db, emit, now, t) };
  });
}

/**
 * Calls `round` every `intervalMs` until the returned stop is called. Nodes start
 * together: a random first delay spreads their rounds apart.
 */
export function repeatRounds(intervalMs: number, round: () => void): () => void {
  let timer: NodeJS.Timeout;
  const tick = (): void => {
    round();
    timer = setTimeout(tick, intervalMs).unref();
  };
  timer = setTimeout(tick, Math.floor(Math.random() * intervalMs)).unref();
  return () => clearTimeout(timer);
}
