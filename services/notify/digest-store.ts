import type { Sequelize, Transaction } from "sequelize";
import { execute, selectRows } from "../../lib/db/sql";
import type { QuietHours } from "./quiet-hours";
import { wallClock } from "./local-time";

/**
 * What the digests are made of, kept from the progress events notify already consumes
 * (progress.xp.awarded, progress.lesson.completed, progress.streak.changed): XP and lessons
 * per learner and local day, the latest XP total and streak; and which digests went out
 * (`digests_sent`, one row per learner and period, written in the transaction of its mail).
 * Consumers are idempotent per event, so the tallies count each event once.
 */

export interface DigestCandidate {
  userId: string;
  timezone: string;
  digest: "daily" | "weekly";
  quietHours: QuietHours | null;
}

export interface DigestFigures {
  /** XP and lessons completed per local day asked for, in their order. */
  days: Array<{ xp: number; lessons: number }>;
  totalXp: number;
  /** The streak progress last told of, or 0 once it has lapsed (its day is before `yesterday`). */
  streak: number;
}

/** Days of activity kept: the longest digest (a week) and its chart need seven, plus slack for zones. */
const KEEP_DAYS = 15;

export class DigestStore {
  private readonly s: string;

  constructor(
    private readonly sequelize: Sequelize,
    schema: string,
  ) {
    this.s = `"${schema}"`;
  }

  private notErased(param = ":userId"): string {
    return `NOT EXISTS (SELECT 1 FROM ${this.s}.erased_users e WHERE e.user_id = ${param})`;
  }

  /** The learner's local day of `at` (their time zone as notify knows it, else UTC). */
  private async localDay(userId: string, at: Date, t: Transaction): Promise<string> {
    const rows = await selectRows<{ timezone: string }>(
      this.sequelize,
      `SELECT timezone FROM ${this.s}.recipients WHERE user_id = :userId`,
      { replacements: { userId }, transaction: t },
    );
    return wallClock(at, rows[0]?.timezone ?? "UTC").date;
  }

  private async addToDay(
    userId: string,
    at: Date,
    add: { xp: number; lessons: number },
    t: Transaction,
  ): Promise<void> {
    const localDate = await this.localDay(userId, at, t);
    await execute(
      this.sequelize,
      `INSERT INTO ${this.s}.digest_days (user_id, local_date, xp, lessons)
       SELECT :userId, CAST(:localDate AS date), :xp, :lessons WHERE ${this.notErased()}
       ON CONFLICT (user_id, local_date) DO UPDATE SET
         xp = digest_days.xp + EXCLUDED.xp, lessons = digest_days.lessons + EXCLUDED.lessons`,
      { replacements: { userId, localDate, ...add }, transaction: t },
    );
  }

  async recordXp(
    award: { userId: string; xp: number; total: number; sequence?: number },
    at: Date,
    t: Transaction,
  ): Promise<void> {
    await this.addToDay(award.userId, at, { xp: award.xp, lessons: 0 }, t);
    await this.saveStanding(award.userId, award.sequence, "xp", { total_xp: award.total }, t);
  }

  recordLesson(userId: string, at: Date, t: Transaction): Promise<void> {
    return this.addToDay(userId, at, { xp: 0, lessons: 1 }, t);
  }

  recordStreak(
    change: { userId: string; current: number; localDate: string; sequence?: number },
    t: Transaction,
  ): Promise<void> {
    return this.saveStanding(
      change.userId,
      change.sequence,
      "streak",
      { streak: change.current, streak_date: change.localDate },
      t,
    );
  }

  /**
   * Events of one learner may arrive out of order (several nodes consume): for the XP total
   * and for the streak each, only a newer progress sequence overwrites (0: no sequence known).
   */
  private async saveStanding(
    userId: string,
    sequence: number | undefined,
    kind: "xp" | "streak",
    values: { total_xp: number } | { streak: number; streak_date: string },
    t: Transaction,
  ): Promise<void> {
    const columns = Object.keys(values);
    const seq = `${kind}_sequence`;
    await execute(
      this.sequelize,
      `INSERT INTO ${this.s}.digest_standing (user_id, ${seq}, ${columns.join(", ")})
       SELECT :userId, :sequence, ${columns.map(c => `:${c}`).join(", ")} WHERE ${this.notErased()}
       ON CONFLICT (user_id) DO UPDATE SET
         ${columns.map(c => `${c} = EXCLUDED.${c}`).join(", ")},
         ${seq} = GREATEST(digest_standing.${seq}, EXCLUDED.${seq})
       WHERE EXCLUDED.${seq} = 0 OR EXCLUDED.${seq} > digest_standing.${seq}`,
      { replacements: { userId, sequence: sequence ?? 0, ...values }, transaction: t },
    );
  }

  /** Learners whose digest is on (the channel setting, unless the mail's unsubscribe turned it off). */
  candidates(): Promise<DigestCandidate[]> {
    return selectRows<DigestCandidate>(
      this.sequelize,
      `SELECT r.user_id AS "userId", r.timezone, COALESCE(c.digest, 'weekly') AS digest,
              d.quiet_hours AS "quietHours"
         FROM ${this.s}.recipients r
         LEFT JOIN ${this.s}.preferences p ON p.user_id = r.user_id
         LEFT JOIN ${this.s}.channel_preferences c ON c.user_id = r.user_id
         LEFT JOIN ${this.s}.delivery_settings d ON d.user_id = r.user_id
        WHERE COALESCE(p.weekly_report, true) AND COALESCE(c.digest, 'weekly') <> 'off'
          AND ${this.notErased("r.user_id")}
        ORDER BY r.user_id`,
    );
  }

  async alreadySent(userId: string, period: string): Promise<boolean> {
    const rows = await selectRows(
      this.sequelize,
      `SELECT 1 FROM ${this.s}.digests_sent WHERE user_id = :userId AND period = :period`,
      { replacements: { userId, period } },
    );
    return rows.length > 0;
  }

  /** Claims the learner's digest of `period` for the mail `emailId`; false when it is taken. */
  async claim(userId: string, period: string, emailId: string, t: Transaction): Promise<boolean> {
    const inserted = await execute(
      this.sequelize,
      `INSERT INTO ${this.s}.digests_sent (user_id, period, email_id)
       SELECT :userId, :period, :emailId WHERE ${this.notErased()}
       ON CONFLICT (user_id, period) DO NOTHING`,
      { replacements: { userId, period, emailId }, transaction: t },
    );
    return inserted > 0;
  }

  async figures(userId: string, days: string[], yesterday: string): Promise<DigestFigures> {
    const [dayRows, standing] = await Promise.all([
      selectRows<{ day: string; xp: number; lessons: number }>(
        this.sequelize,
        `SELECT to_char(local_date, 'YYYY-MM-DD') AS day, xp, lessons FROM ${this.s}.digest_days
          WHERE user_id = :userId AND local_date BETWEEN CAST(:first AS date) AND CAST(:last AS date)`,
        { replacements: { userId, first: days[0], last: days[days.length - 1] } },
      ),
      selectRows<{ total_xp: number; streak: number; streak_day: string | null }>(
        this.sequelize,
        `SELECT total_xp, streak, to_char(streak_date, 'YYYY-MM-DD') AS streak_day
           FROM ${this.s}.digest_standing WHERE user_id = :userId`,
        { replacements: { userId } },
      ),
    ]);
    const byDay = new Map(dayRows.map(row => [row.day, row]));
    const row = standing[0];
    return {
      days: days.map(day => ({
        xp: byDay.get(day)?.xp ?? 0,
        lessons: byDay.get(day)?.lessons ?? 0,
      })),
      totalXp: row?.total_xp ?? 0,
      streak: row?.streak_day && row.streak_day >= yesterday ? row.streak : 0,
    };
  }

  /** Drops activity no digest will show again (older than KEEP_DAYS before `today`). */
  prune(today: string): Promise<number> {
    return execute(
      this.sequelize,
      `DELETE FROM ${this.s}.digest_days WHERE local_date < CAST(:today AS date) - ${KEEP_DAYS}`,
      { replacements: { today } },
    );
  }
}
