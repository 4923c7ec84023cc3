/**
 * Outgoing email as the notify service records it: one row per (event, template, recipient),
 * written `queued` inside the consuming event's transaction and moved to `sent`/`failed`
 * (then `opened`) by the sender loop.
 */

export const EMAIL_TEMPLATES = [
  "welcome",
  "verify-reminder",
  "password-reset",
  "course-completed",
  "achievement-unlocked",
  "streak-reminder",
  "new-course",
  "receipt",
  "payment-failed",
  "email-change",
  "email-change-notice",
  "security-notice",
  "digest",
] as const;
export type EmailTemplate = (typeof EMAIL_TEMPLATES)[number];

/** Categories a user can switch off (api.md: `{email: {marketing, achievements, reminders, weeklyReport}}`). */
export const EMAIL_CATEGORIES = ["marketing", "achievements", "reminders", "weeklyReport"] as const;
export type EmailCategory = (typeof EMAIL_CATEGORIES)[number];
/** Transactional mail (verification, password reset) always goes and carries no unsubscribe link. */
export type MailCategory = EmailCategory | "transactional";

export const TEMPLATE_CATEGORY: Record<EmailTemplate, MailCategory> = {
  welcome: "transactional",
  "verify-reminder": "transactional",
  "password-reset": "transactional",
  "course-completed": "achievements",
  "achievement-unlocked": "achievements",
  "streak-reminder": "reminders",
  "new-course": "marketing",
  receipt: "transactional",
  "payment-failed": "transactional",
  "email-change": "transactional",
  "email-change-notice": "transactional",
  "security-notice": "transactional",
  // The daily or weekly digest: its unsubscribe link turns the digest off.
  digest: "weeklyReport",
};

/** Public statuses (api.md). */
export const EMAIL_STATUSES = ["queued", "sent", "failed", "opened"] as const;
export type EmailStatus = (typeof EMAIL_STATUSES)[number];
/** `sending`: claimed by one node's sender; shown as `queued` to admins. */
type StoredEmailStatus = EmailStatus | "sending";

/** A row of notify.emails as SQL returns it. */
export interface EmailRow {
  id: string;
  event_id: string;
  template: EmailTemplate;
  category: MailCategory;
  user_id: string | null;
  to_address: string;
  subject: string;
  html: string;
  text: string;
  headers: Record<string, string>;
  attachments: MailAttachment[] | null;
  status: StoredEmailStatus;
  attempts: number;
  next_attempt_at: Date;
  claimed_by: string | null;
  claim_expires_at: Date | null;
  message_id: string | null;
  smtp_response: string | null;
  last_error: string | null;
  created_at: Date;
  last_attempt_at: Date | null;
  sent_at: Date | null;
  failed_at: Date | null;
  opened_at: Date | null;
  open_count: number;
  clicked_at: Date | null;
  click_count: number;
}

/** Which mail it is, why it was sent and to whom: the same in its queued form and its record. */
interface MailIdentity {
  id: string;
  eventId: string;
  template: EmailTemplate;
  category: MailCategory;
  userId: string | null;
  to: string;
}

/** What GET /emails lists: the record of a mail, never its body. */
export interface EmailView extends MailIdentity {
  subject: string;
  status: EmailStatus;
  attempts: number;
  messageId: string | null;
  smtpResponse: string | null;
  lastError: string | null;
  queuedAt: string;
  nextAttemptAt: string | null;
  sentAt: string | null;
  failedAt: string | null;
  openedAt: string | null;
  openCount: number;
  clickedAt: string | null;
  clickCount: number;
}

const iso = (value: Date | string | null): string | null =>
  value === null ? null : new Date(value).toISOString();

export function toEmailView(row: EmailRow): EmailView {
  const pending = row.status === "queued" || row.status === "sending";
  return {
    id: row.id,
    eventId: row.event_id,
    template: row.template,
    category: row.category,
    userId: row.user_id,
    to: row.to_address,
    subject: row.subject,
    status: row.status === "sending" ? "queued" : row.status,
    attempts: row.attempts,
    messageId: row.message_id,
    smtpResponse: row.smtp_response,
    lastError: row.last_error,
    queuedAt: iso(row.created_at) as string,
    nextAttemptAt: pending ? iso(row.next_attempt_at) : null,
    sentAt: iso(row.sent_at),
    failedAt: iso(row.failed_at),
    openedAt: iso(row.opened_at),
    openCount: row.open_count,
    clickedAt: iso(row.clicked_at),
    clickCount: row.click_count,
  };
}

/** What a template renders to: the parts of one message. */
export interface RenderedMail {
  subject: string;
  html: string;
  text: string;
}

/** An image the HTML shows as `cid:<cid>` (an inline MIME part), kept base64 in the mail row. */
export interface MailAttachment {
  cid: string;
  filename: string;
  contentType: string;
  base64: string;
}

/** A mail ready to be queued (rendered, addressed, with its headers). */
export interface QueuedMail extends RenderedMail, MailIdentity {
  headers: Record<string, string>;
  attachments?: MailAttachment[];
  /** Send no earlier than this (scheduled follow-ups such as the verification reminder). */
  notBefore?: Date;
}
