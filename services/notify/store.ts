import type { MailOutcomes } from "../../models/analytics.model";
import type { DomainEvents, MailOutcome } from "../../models/events.model";
import type { Sequelize, Transaction } from "sequelize";
import { execute, selectRows } from "../../lib/db/sql";
import { newestPerUser } from "../../lib/events/newest";
import type {
  EmailCategory,
  EmailRow,
  EmailStatus,
  EmailTemplate,
  QueuedMail,
} from "../../models/email.model";
import {
  DEFAULT_EMAIL_PREFERENCES,
  type EmailPreferences,
  type NewNotification,
  type NotificationRow,
  type Recipient,
} from "../../models/notification.model";

/** The SQL of the notify service, one method per question; every write takes the caller's transaction. */

interface Options {
  transaction?: Transaction | null;
}

const PREF_COLUMN: Record<EmailCategory, string> = {
  marketing: "marketing",
  achievements: "achievements",
  reminders: "reminders",
  weeklyReport: "weekly_report",
};

interface RecipientRow {
  user_id: string;
  email: string;
  name: string;
  timezone: string;
  email_verified: boolean;
  /** From delivery_settings (user.updated), joined where a mail is addressed. */
  locale?: string | null;
}

interface PreferenceRow {
  marketing: boolean;
  achievements: boolean;
  reminders: boolean;
  weekly_report: boolean;
}

/** The incoming event is newer than the one the recipient row holds (or carries no sequence). */
const NEWER = `(EXCLUDED.sequence = 0 OR EXCLUDED.sequence > recipients.sequence)`;

const toRecipient = (row: RecipientRow): Recipient => ({
  userId: row.user_id,
  email: row.email,
  name: row.name,
  timezone: row.timezone,
  emailVerified: row.email_verified,
  locale: row.locale ?? null,
});

export type AnnounceOutcome = (
  outcome: DomainEvents["notify.email.outcome"],
  t: Transaction,
) => Promise<void>;

export type AnnounceInbox = (
  change: DomainEvents["notify.inbox.changed"],
  t: Transaction,
) => Promise<void>;

/** The row an outcome's UPDATE returns: the mail, and which outcomes it reached just now. */
interface OutcomeRow {
  id: string;
  created_at: Date;
  firsts: MailOutcome[];
}

/** Of an UPDATE that set `col = COALESCE(col, now())`: the column was set by it (now() is the transaction's start). */
const firstTime = (outcome: MailOutcome, column: string) =>
  `CASE WHEN ${column} = now() THEN '${outcome}' END`;

export interface EmailFilter {
  to?: string;
  template?: EmailTemplate;
  status?: EmailStatus;
}

export interface CourseInfo {
  courseId: string;
  title: string;
  level: string;
  topics: string[];
}

/** Every table with rows about one user: what erasure deletes and an export shows. */
const USER_TABLES = [
  "emails",
  "notifications",
  "preferences",
  "reminder_log",
  "recipients",
  "early_profiles",
  "verified_early",
  "live_messages",
  "push_deliveries",
  "push_subscriptions",
  "channel_preferences",
  "delivery_settings",
  "phones",
  "digest_days",
  "digest_standing",
  "digests_sent",
] as const;

/**
 * What an export shows of the tables where a row holds more than the user's data: the mail log
 * without the bodies and their links, a phone without its pending code's hash, a device without
 * its push keys.
 */
const EXPORTED_COLUMNS: Partial<Record<(typeof USER_TABLES)[number], string>> = {
  emails:
    "id, template, category, to_address, subject, status, created_at, sent_at, failed_at, opened_at, open_count",
  phones: "phone, verified, verified_at",
  push_subscriptions: "id, endpoint, created_at",
};

export class NotifyStore {
  private readonly s: string;
  /** True while :userId has no tombstone: nothing is written for an erased user again. */
  private readonly notErased: string;

  constructor(
    private readonly sequelize: Sequelize,
    schema: string,
    /** Tells a mail's first outcome durably (notify.email.outcome), in the transaction that records it. */
    private readonly announceOutcome: AnnounceOutcome = async () => undefined,
    /** Tells a learner's new unread count durably (notify.inbox.changed), in the transaction that changed it. */
    private readonly announceInbox: AnnounceInbox = async () => undefined,
  ) {
    this.s = `"${schema}"`;
    this.notErased = `NOT EXISTS (SELECT 1 FROM ${this.s}.erased_users e WHERE e.user_id = :userId)`;
  }

  private select<T extends object>(
    sql: string,
    replacements: Record<string, unknown>,
    opts: Options = {},
  ): Promise<T[]> {
    return selectRows<T>(this.sequelize, sql, {
      replacements,
      transaction: opts.transaction ?? null,
    });
  }

  private async exec(
    sql: string,
    replacements: Record<string, unknown>,
    opts: Options = {},
  ): Promise<number> {
    return execute(this.sequelize, sql, { replacements, transaction: opts.transaction ?? null });
  }

  // Recipients -------------------------------------------------------------------------------

  /**
   * Serialises the event handlers of these users across nodes until the transaction ends:
   * an erasure, a creation and a profile change of one user cannot interleave (each
   * statement after the lock sees what the other committed). Sorted, so two batches
   * locking overlapping users take them in the same order.
   */
  async lockUsers(userIds: string[], opts: Options): Promise<void> {
    if (userIds.length === 0) return;
    await this.select(
      `SELECT pg_advisory_xact_lock(k) FROM (
         SELECT DISTINCT hashtextextended('notify:user:' || id, 0) AS k FROM unnest(ARRAY[:userIds]::text[]) AS id
         ORDER BY k) keys`,
      { userIds },
      opts,
    );
  }

  /**
   * False when nothing was written: the user was erased. Name and time zone change only
   * for an event newer than the one the row holds (`sequence`; absent: a profile or an
   * event from before sequences, applied as it comes). An event's write also takes the
   * name and time zone of a user.updated handled before it, if that one is newer.
   */
  async upsertRecipient(r: Recipient, opts: Options, sequence?: number): Promise<boolean> {
    const written = await this.exec(
      `INSERT INTO ${this.s}.recipients (user_id, email, name, timezone, email_verified, sequence)
       SELECT :userId, :email, :name, :timezone, :emailVerified, COALESCE(CAST(:sequence AS bigint), 0) WHERE ${this.notErased}
       ON CONFLICT (user_id) DO UPDATE SET email = EXCLUDED.email,
         name = CASE WHEN ${NEWER} THEN EXCLUDED.name ELSE recipients.name END,
         timezone = CASE WHEN ${NEWER} THEN EXCLUDED.timezone ELSE recipients.timezone END,
         email_verified = recipients.email_verified OR EXCLUDED.email_verified,
         sequence = GREATEST(recipients.sequence, EXCLUDED.sequence), updated_at = now()`,
      { ...r, sequence: sequence ?? null },
      opts,
    );
    if (written > 0 && sequence !== undefined) await this.applyEarlyProfile(r.userId, opts);
    return written > 0;
  }

  /**
   * A recipient from users' profile (fetched outside any event), in a transaction of its
   * own under the user's lock: an erasure being handled on another node is seen.
   */
  async upsertProfile(r: Recipient): Promise<void> {
    await this.sequelize.transaction(async transaction => {
      await this.lockUsers([r.userId], { transaction });
      await this.upsertRecipient(r, { transaction });
    });
  }

  /** The user.updated kept in early_profiles, moved onto the recipient row unless the row is newer. */
  private async applyEarlyProfile(userId: string, opts: Options): Promise<void> {
    await this.exec(
      `WITH early AS (DELETE FROM ${this.s}.early_profiles WHERE user_id = :userId RETURNING *)
       UPDATE ${this.s}.recipients r SET name = early.name, timezone = early.timezone,
         sequence = GREATEST(r.sequence, early.sequence), updated_at = now()
       FROM early WHERE r.user_id = early.user_id AND (early.sequence = 0 OR early.sequence > r.sequence)`,
      { userId },
      opts,
    );
  }

  /** Name and time zone of a user.updated, unless the row already holds a newer event's. */
  async renameRecipient(
    change: { userId: string; name: string; timezone: string; sequence?: number },
    opts: Options,
  ): Promise<void> {
    await this.updateRecipientNames([change], opts);
  }

  /** The user's confirmed new address (user.email_changed), unless the row holds a newer event's. */
  async changeRecipientEmail(
    change: { userId: string; email: string; sequence?: number },
    opts: Options,
  ): Promise<void> {
    await this.exec(
      `UPDATE ${this.s}.recipients SET email = :email, email_verified = true, updated_at = now()
       WHERE user_id = :userId`,
      { userId: change.userId, email: change.email },
      opts,
    );
  }

  /** Marks the address verified; false when notify has no recipient for the user yet. */
  async markVerified(userId: string, opts: Options): Promise<boolean> {
    const changed = await this.exec(
      `UPDATE ${this.s}.recipients SET email_verified = true, updated_at = now() WHERE user_id = :userId`,
      { userId },
      opts,
    );
    if (changed > 0) return true;
    await this.exec(
      `INSERT INTO ${this.s}.verified_early (user_id) SELECT :userId WHERE ${this.notErased} ON CONFLICT DO NOTHING`,
      { userId },
      opts,
    );
    return false;
  }

  /** Whether user.email_verified came before the user's user.created. */
  async verifiedEarly(userId: string, opts: Options): Promise<boolean> {
    const rows = await this.select(
      `SELECT 1 FROM ${this.s}.verified_early WHERE user_id = :userId`,
      { userId },
      opts,
    );
    return rows.length > 0;
  }

  /**
   * Name and time zone of many user.updated events (a batch): per user the newest event
   * (by sequence; without one, the last given) wins, and none older than what the row
   * holds is applied. A user with no recipient yet (user.created still on its way) keeps
   * the newest of them in early_profiles for when the recipient arrives.
   */
  async updateRecipientNames(
    changes: Array<{ userId: string; name: string; timezone: string; sequence?: number }>,
    opts: Options,
  ): Promise<void> {
    const last = newestPerUser(changes);
    if (last.length === 0) return;
    const columns = {
      ids: last.map(c => c.userId),
      names: last.map(c => c.name),
      zones: last.map(c => c.timezone),
      sequences: last.map(c => c.sequence ?? null),
    };
    await this.exec(
      `UPDATE ${this.s}.recipients r SET name = COALESCE(u.name, r.name),
         timezone = COALESCE(u.timezone, r.timezone), sequence = COALESCE(u.sequence, r.sequence), updated_at = now()
       FROM unnest(ARRAY[:ids]::text[], ARRAY[:names]::text[], ARRAY[:zones]::text[], ARRAY[:sequences]::bigint[])
         AS u(user_id, name, timezone, sequence)
       WHERE r.user_id = u.user_id AND (u.sequence IS NULL OR u.sequence > r.sequence)`,
      columns,
      opts,
    );
    await this.exec(
      `INSERT INTO ${this.s}.early_profiles (user_id, name, timezone, sequence)
       SELECT u.user_id, u.name, u.timezone, COALESCE(u.sequence, 0)
       FROM unnest(ARRAY[:ids]::text[], ARRAY[:names]::text[], ARRAY[:zones]::text[], ARRAY[:sequences]::bigint[])
         AS u(user_id, name, timezone, sequence)
       WHERE NOT EXISTS (SELECT 1 FROM ${this.s}.recipients r WHERE r.user_id = u.user_id)
         AND NOT EXISTS (SELECT 1 FROM ${this.s}.erased_users e WHERE e.user_id = u.user_id)
       ON CONFLICT (user_id) DO UPDATE SET name = EXCLUDED.name, timezone = EXCLUDED.timezone,
         sequence = EXCLUDED.sequence, received_at = now()
       WHERE EXCLUDED.sequence = 0 OR EXCLUDED.sequence > early_profiles.sequence`,
      columns,
      opts,
    );
  }

  async recipient(userId: string, opts: Options = {}): Promise<Recipient | null> {
    const rows = await this.select<RecipientRow>(
      `SELECT r.*, d.locale FROM ${this.s}.recipients r
         LEFT JOIN ${this.s}.delivery_settings d ON d.user_id = r.user_id WHERE r.user_id = :userId`,
      { userId },
      opts,
    );
    return rows[0] ? toRecipient(rows[0]) : null;
  }

  /** Which of these users notify has a recipient row for (read outside any transaction). */
  async knownRecipients(userIds: string[]): Promise<Set<string>> {
    const rows = await this.select<{ user_id: string }>(
      `SELECT user_id FROM ${this.s}.recipients WHERE user_id IN (:userIds)`,
      { userIds },
    );
    return new Set(rows.map(row => row.user_id));
  }

  /** Every known recipient, with whether they accept mail of `category`. */
  async recipientsWithPreference(
    category: EmailCategory,
    opts: Options,
  ): Promise<Array<Recipient & { wants: boolean }>> {
    const column = PREF_COLUMN[category];
    const rows = await this.select<RecipientRow & { wants: boolean | null }>(
      `SELECT r.*, d.locale, p.${column} AS wants FROM ${this.s}.recipients r
       LEFT JOIN ${this.s}.delivery_settings d ON d.user_id = r.user_id
       LEFT JOIN ${this.s}.preferences p ON p.user_id = r.user_id ORDER BY r.user_id`,
      {},
      opts,
    );
    return rows.map(row => ({
      ...toRecipient(row),
      wants: row.wants ?? DEFAULT_EMAIL_PREFERENCES[category],
    }));
  }

  // Courses (titles for mails whose event carries only an id) ----------------------------------

  async upsertCourse(c: CourseInfo & { version: number }, opts: Options): Promise<void> {
    await this.exec(
      `INSERT INTO ${this.s}.courses (course_id, title, level, topics, version)
       VALUES (:courseId, :title, :level, CAST(:topics AS jsonb), :version)
       ON CONFLICT (course_id) DO UPDATE SET title = EXCLUDED.title, level = EXCLUDED.level, topics = EXCLUDED.topics,
         version = EXCLUDED.version, updated_at = now() WHERE courses.version <= EXCLUDED.version`,
      { ...c, topics: JSON.stringify(c.topics) },
      opts,
    );
  }

  async course(courseId: string, opts: Options = {}): Promise<CourseInfo | null> {
    const rows = await this.select<{
      course_id: string;
      title: string;
      level: string;
      topics: string[];
    }>(`SELECT * FROM ${this.s}.courses WHERE course_id = :courseId`, { courseId }, opts);
    return rows[0]
      ? {
          courseId: rows[0].course_id,
          title: rows[0].title,
          level: rows[0].level,
          topics: rows[0].topics,
        }
      : null;
  }

  // Preferences --------------------------------------------------------------------------------

  async preferences(userId: string, opts: Options = {}): Promise<EmailPreferences> {
    const rows = await this.select<PreferenceRow>(
      `SELECT * FROM ${this.s}.preferences WHERE user_id = :userId`,
      { userId },
      opts,
    );
    const row = rows[0];
    if (!row) return { ...DEFAULT_EMAIL_PREFERENCES };
    return {
      marketing: row.marketing,
      achievements: row.achievements,
      reminders: row.reminders,
      weeklyReport: row.weekly_report,
    };
  }

  async savePreferences(userId: string, prefs: EmailPreferences, opts: Options): Promise<void> {
    await this.exec(
      `INSERT INTO ${this.s}.preferences (user_id, marketing, achievements, reminders, weekly_report)
       SELECT :userId, :marketing, :achievements, :reminders, :weeklyReport WHERE ${this.notErased}
       ON CONFLICT (user_id) DO UPDATE SET marketing = EXCLUDED.marketing, achievements = EXCLUDED.achievements,
         reminders = EXCLUDED.reminders, weekly_report = EXCLUDED.weekly_report, updated_at = now()`,
      { userId, ...prefs },
      opts,
    );
  }

  /** Applies a partial change under the user's preference lock (nodes serialise on it); returns the result. */
  async changePreferences(
    userId: string,
    patch: Partial<EmailPreferences>,
    t: Transaction,
  ): Promise<EmailPreferences> {
    await this.lockKey(`notify:prefs:${userId}`, { transaction: t });
    const next = { ...(await this.preferences(userId, { transaction: t })), ...patch };
    await this.savePreferences(userId, next, { transaction: t });
    return next;
  }

  // Emails -------------------------------------------------------------------------------------

  /** Queues a mail; false when this (event, template, recipient) already has one. */
  async queueMail(mail: QueuedMail, opts: Options): Promise<boolean> {
    const inserted = await this.exec(
      `INSERT INTO ${this.s}.emails (id, event_id, template, category, user_id, to_address, subject, html, text, headers, attachments, next_attempt_at)
       SELECT :id, :eventId, :template, :category, :userId, :to, :subject, :html, :text, CAST(:headers AS jsonb), CAST(:attachments AS jsonb), COALESCE(:notBefore, now())
       WHERE ${this.notErased}
       ON CONFLICT ON CONSTRAINT emails_once DO NOTHING`,
      {
        ...mail,
        headers: JSON.stringify(mail.headers),
        attachments: mail.attachments ? JSON.stringify(mail.attachments) : null,
        notBefore: mail.notBefore ?? null,
      },
      opts,
    );
    return inserted > 0;
  }

  /** Password-reset mails queued to `address` within the last `windowMinutes`. */
  async countRecent(
    template: EmailTemplate,
    address: string,
    windowMinutes: number,
    opts: Options,
  ): Promise<number> {
    const rows = await this.select<{ n: string }>(
      `SELECT count(*) AS n FROM ${this.s}.emails WHERE lower(to_address) = lower(:address) AND template = :template
         AND created_at > now() - make_interval(mins => :windowMinutes)`,
      { address, template, windowMinutes },
      opts,
    );
    return Number(rows[0]?.n ?? 0);
  }

  /** Serialises decisions about one key (e.g. the reset cap of one address) across nodes, until commit. */
  async lockKey(key: string, opts: Options): Promise<void> {
    await this.select(`SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))`, { key }, opts);
  }

  /** Drops scheduled mails of a user that have not gone out yet (e.g. verification reminders once verified). */
  async cancelQueued(userId: string, template: EmailTemplate, opts: Options): Promise<number> {
    return this.exec(
      `DELETE FROM ${this.s}.emails WHERE user_id = :userId AND template = :template AND status = 'queued'`,
      { userId, template },
      opts,
    );
  }

  async listEmails(
    filter: EmailFilter,
    page: number,
    pageSize: number,
  ): Promise<{ rows: EmailRow[]; total: number }> {
    const where: string[] = [];
    const replacements: Record<string, unknown> = {
      limit: pageSize,
      offset: (page - 1) * pageSize,
    };
    if (filter.to) {
      where.push(`lower(to_address) LIKE :to ESCAPE '\\'`);
      replacements.to = `%${filter.to.toLowerCase().replace(/[\\%_]/g, m => `\\${m}`)}%`;
    }
    if (filter.template) {
      where.push("template = :template");
      replacements.template = filter.template;
    }
    if (filter.status) {
      // `sending` is an internal step of `queued`.
      where.push(
        filter.status === "queued" ? "status IN ('queued', 'sending')" : "status = :status",
      );
      replacements.status = filter.status;
    }
    const clause = where.length ? `WHERE ${where.join(" AND ")}` : "";
    const [rows, count] = await Promise.all([
      this.select<EmailRow>(
        `SELECT * FROM ${this.s}.emails ${clause} ORDER BY created_at DESC, id DESC LIMIT :limit OFFSET :offset`,
        replacements,
      ),
      this.select<{ n: string }>(
        `SELECT count(*) AS n FROM ${this.s}.emails ${clause}`,
        replacements,
      ),
    ]);
    return { rows, total: Number(count[0]?.n ?? 0) };
  }

  async email(id: string): Promise<EmailRow | null> {
    const rows = await this.select<EmailRow>(`SELECT * FROM ${this.s}.emails WHERE id = :id`, {
      id,
    });
    return rows[0] ?? null;
  }

  /**
   * Runs an outcome's UPDATE (it returns `id, created_at, firsts`) in a transaction that
   * also announces the outcomes the mail reached for the first time; answers the rows changed.
   */
  private async recordOutcome(sql: string, replacements: Record<string, unknown>): Promise<number> {
    return this.sequelize.transaction(async t => {
      const changed = await this.select<OutcomeRow>(sql, replacements, { transaction: t });
      for (const row of changed)
        for (const outcome of row.firsts.filter(first => first !== null))
          await this.announceOutcome(
            {
              emailId: row.id,
              outcome,
              createdAt: new Date(row.created_at).toISOString(),
              at: new Date().toISOString(),
            },
            t,
          );
      return changed.length;
    });
  }

  async markOpened(id: string): Promise<boolean> {
    const n = await this.recordOutcome(
      `UPDATE ${this.s}.emails SET open_count = open_count + 1, opened_at = COALESCE(opened_at, now()),
         status = CASE WHEN status = 'sent' THEN 'opened' ELSE status END WHERE id = :id
       RETURNING id, created_at, ARRAY[${firstTime("opened", "opened_at")}] AS firsts`,
      { id },
    );
    return n > 0;
  }

  /** A click proves the mail was opened too (images are often blocked). */
  async markClicked(id: string): Promise<void> {
    await this.recordOutcome(
      `UPDATE ${this.s}.emails SET click_count = click_count + 1, clicked_at = COALESCE(clicked_at, now()),
         opened_at = COALESCE(opened_at, now()), status = CASE WHEN status = 'sent' THEN 'opened' ELSE status END
       WHERE id = :id
       RETURNING id, created_at, ARRAY[${firstTime("opened", "opened_at")}, ${firstTime("clicked", "clicked_at")}] AS firsts`,
      { id },
    );
  }

  /** The mails created since `since`, a keyset page by id, with the outcomes each reached (the analytics rebuild). */
  async mailOutcomes(page: {
    since: Date;
    after?: string;
    limit: number;
  }): Promise<MailOutcomes[]> {
    const found = await this.select<{ id: string; created_at: Date; outcomes: MailOutcome[] }>(
      `SELECT id, created_at, array_remove(ARRAY[
         CASE WHEN sent_at IS NOT NULL THEN 'sent' END, CASE WHEN opened_at IS NOT NULL THEN 'opened' END,
         CASE WHEN clicked_at IS NOT NULL THEN 'clicked' END, CASE WHEN status = 'failed' THEN 'failed' END], NULL) AS outcomes
       FROM ${this.s}.emails WHERE created_at >= :since AND (CAST(:after AS text) IS NULL OR id > :after)
       ORDER BY id LIMIT :limit`,
      { since: page.since, after: page.after ?? null, limit: page.limit },
    );
    return found.map(row => ({
      emailId: row.id,
      createdAt: new Date(row.created_at).toISOString(),
      outcomes: row.outcomes,
    }));
  }

  // Sender loop --------------------------------------------------------------------------------

  /**
   * Claims up to `limit` due mails for `node`. SKIP LOCKED lets every notify node claim
   * at once without two of them getting the same row; a claim left by a crashed node
   * expires after `leaseMs` and the mail is claimed again.
   */
  async claimDue(node: string, limit: number, leaseMs: number): Promise<EmailRow[]> {
    return this.select<EmailRow>(
      `UPDATE ${this.s}.emails SET status = 'sending', claimed_by = :node,
         claim_expires_at = now() + make_interval(secs => :leaseSeconds), attempts = attempts + 1, last_attempt_at = now()
       WHERE id IN (
         SELECT id FROM ${this.s}.emails
         WHERE (status = 'queued' AND next_attempt_at <= now()) OR (status = 'sending' AND claim_expires_at < now())
         ORDER BY next_attempt_at, id LIMIT :limit FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      { node, limit, leaseSeconds: leaseMs / 1000 },
    );
  }

  async recordSent(
    id: string,
    node: string,
    delivery: { messageId: string; response: string },
  ): Promise<void> {
    await this.recordOutcome(
      `UPDATE ${this.s}.emails SET status = CASE WHEN opened_at IS NULL THEN 'sent' ELSE 'opened' END, sent_at = now(),
         message_id = :messageId, smtp_response = :response, last_error = NULL, claimed_by = NULL, claim_expires_at = NULL
       WHERE id = :id AND claimed_by = :node RETURNING id, created_at, ARRAY['sent'] AS firsts`,
      { id, node, ...delivery },
    );
  }

  async recordRetry(id: string, node: string, reason: string, delayMs: number): Promise<void> {
    await this.exec(
      `UPDATE ${this.s}.emails SET status = 'queued', last_error = :reason, smtp_response = :reason,
         next_attempt_at = now() + make_interval(secs => :delaySeconds), claimed_by = NULL, claim_expires_at = NULL
       WHERE id = :id AND claimed_by = :node`,
      { id, node, reason, delaySeconds: delayMs / 1000 },
    );
  }

  async recordFailed(id: string, node: string, reason: string): Promise<void> {
    await this.recordOutcome(
      `UPDATE ${this.s}.emails SET status = 'failed', failed_at = now(), last_error = :reason, smtp_response = :reason,
         claimed_by = NULL, claim_expires_at = NULL
       WHERE id = :id AND claimed_by = :node RETURNING id, created_at, ARRAY['failed'] AS firsts`,
      { id, node, reason },
    );
  }

  // In-app notifications -----------------------------------------------------------------------

  /** Adds the notification in the caller's transaction; the inbox's new count is told with it. */
  async addNotification(n: NewNotification, opts: { transaction: Transaction }): Promise<boolean> {
    const inserted = await this.exec(
      `INSERT INTO ${this.s}.notifications (id, user_id, event_id, kind, title, body, link, data)
       SELECT :id, :userId, :eventId, :kind, :title, :body, :link, CAST(:data AS jsonb) WHERE ${this.notErased}
       ON CONFLICT ON CONSTRAINT notifications_once DO NOTHING`,
      { ...n, data: JSON.stringify(n.data) },
      opts,
    );
    if (inserted > 0) await this.inboxChanged(n.userId, opts.transaction);
    return inserted > 0;
  }

  /**
   * Announces the user's unread count after a change of their inbox in `t`. Under a lock of
   * that inbox, taken before counting: two changes committing at once count one after the
   * other, and the later count carries the later version (the database's clock).
   */
  private async inboxChanged(userId: string, t: Transaction): Promise<void> {
    await this.select(
      `SELECT pg_advisory_xact_lock(hashtextextended('notify:inbox:' || :userId, 0))::text AS locked`,
      { userId },
      { transaction: t },
    );
    const [counted] = await this.select<{ unread: string; version: string }>(
      `SELECT count(*) AS unread, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint AS version
       FROM ${this.s}.notifications WHERE user_id = :userId AND read_at IS NULL`,
      { userId },
      { transaction: t },
    );
    await this.announceInbox(
      { userId, unread: Number(counted.unread), version: Number(counted.version) },
      t,
    );
  }

  async listNotifications(userId: string, page: number, pageSize: number, unreadOnly: boolean) {
    const filter = unreadOnly ? "AND read_at IS NULL" : "";
    const [rows, counts] = await Promise.all([
      this.select<NotificationRow>(
        `SELECT * FROM ${this.s}.notifications WHERE user_id = :userId ${filter}
         ORDER BY created_at DESC, id DESC LIMIT :limit OFFSET :offset`,
        { userId, limit: pageSize, offset: (page - 1) * pageSize },
      ),
      this.select<{ total: string; unread: string }>(
        `SELECT count(*) FILTER (WHERE true ${filter}) AS total, count(*) FILTER (WHERE read_at IS NULL) AS unread
         FROM ${this.s}.notifications WHERE user_id = :userId`,
        { userId },
      ),
    ]);
    return { rows, total: Number(counts[0]?.total ?? 0), unread: Number(counts[0]?.unread ?? 0) };
  }

  async unreadCount(userId: string): Promise<number> {
    const rows = await this.select<{ n: string }>(
      `SELECT count(*) AS n FROM ${this.s}.notifications WHERE user_id = :userId AND read_at IS NULL`,
      { userId },
    );
    return Number(rows[0]?.n ?? 0);
  }

  /** Marks one of the user's own notifications read; false when it is not theirs (or does not exist). */
  async markRead(userId: string, id: string): Promise<boolean> {
    return this.sequelize.transaction(async t => {
      const rows = await this.select<{ was_unread: boolean }>(
        `UPDATE ${this.s}.notifications n SET read_at = COALESCE(n.read_at, now())
         FROM (SELECT read_at IS NULL AS was_unread FROM ${this.s}.notifications WHERE id = :id AND user_id = :userId) before
         WHERE n.id = :id AND n.user_id = :userId RETURNING before.was_unread`,
        { id, userId },
        { transaction: t },
      );
      if (rows[0]?.was_unread) await this.inboxChanged(userId, t);
      return rows.length > 0;
    });
  }

  /** Marks every unread notification of the user read; answers how many were. */
  markAllRead(userId: string): Promise<number> {
    return this.sequelize.transaction(async t => {
      const marked = await this.exec(
        `UPDATE ${this.s}.notifications SET read_at = now() WHERE user_id = :userId AND read_at IS NULL`,
        { userId },
        { transaction: t },
      );
      if (marked > 0) await this.inboxChanged(userId, t);
      return marked;
    });
  }

  // Throttles and erasure ----------------------------------------------------------------------

  /** Claims the user's streak reminder of `localDate`; false when that day already had one. */
  async claimReminderDay(userId: string, localDate: string, opts: Options): Promise<boolean> {
    const inserted = await this.exec(
      `INSERT INTO ${this.s}.reminder_log (user_id, local_date) SELECT :userId, CAST(:localDate AS date) WHERE ${this.notErased}
       ON CONFLICT DO NOTHING`,
      { userId, localDate },
      opts,
    );
    return inserted > 0;
  }

  /** Everything notify holds about a user (GET /me/export), table by table: what erasure deletes. */
  async exportUser(userId: string): Promise<Record<string, unknown[]>> {
    const tables: Record<string, unknown[]> = {};
    for (const table of USER_TABLES) {
      tables[table] = await selectRows(
        this.sequelize,
        `SELECT ${EXPORTED_COLUMNS[table] ?? "*"} FROM ${this.s}.${table} WHERE user_id = :userId`,
        { replacements: { userId } },
      );
    }
    return tables;
  }

  /**
   * Deletes every row of the user and keeps a tombstone that every write checks: a late
   * user.created (events arrive out of order) or an in-flight progress event writes nothing.
   */
  async eraseUser(userId: string, opts: Options): Promise<void> {
    await this.exec(
      `INSERT INTO ${this.s}.erased_users (user_id, erased_at) VALUES (:userId, now()) ON CONFLICT (user_id) DO NOTHING`,
      { userId },
      opts,
    );
    for (const table of USER_TABLES) {
      await this.exec(`DELETE FROM ${this.s}.${table} WHERE user_id = :userId`, { userId }, opts);
    }
  }
}
