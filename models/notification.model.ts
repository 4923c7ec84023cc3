import type { ParamsOf } from "../lib/params-of";
import type { EmailCategory } from "./email.model";

/** In-app notifications (GET /me/notifications) and email preferences of the notify service. */

type NotificationKind =
  "lesson_completed" | "course_completed" | "achievement_unlocked" | "new_course" | "user_followed";

export interface NotificationRow {
  id: string;
  user_id: string;
  event_id: string;
  kind: NotificationKind;
  title: string;
  body: string;
  link: string | null;
  data: Record<string, unknown>;
  read_at: Date | null;
  created_at: Date;
}

export interface NotificationView {
  id: string;
  kind: NotificationKind;
  title: string;
  body: string;
  link: string | null;
  data: Record<string, unknown>;
  read: boolean;
  readAt: string | null;
  createdAt: string;
}

export function toNotificationView(row: NotificationRow): NotificationView {
  return {
    id: row.id,
    kind: row.kind,
    title: row.title,
    body: row.body,
    link: row.link,
    data: row.data,
    read: row.read_at !== null,
    readAt: row.read_at === null ? null : new Date(row.read_at).toISOString(),
    createdAt: new Date(row.created_at).toISOString(),
  };
}

/** A new in-app notification for one user, keyed by the event that caused it. */
export interface NewNotification {
  id: string;
  userId: string;
  eventId: string;
  kind: NotificationKind;
  title: string;
  body: string;
  link: string | null;
  data: Record<string, unknown>;
}

export interface NotificationPage {
  rows: NotificationView[];
  total: number;
  page: number;
  pageSize: number;
  totalPages: number;
  unread: number;
}

export type EmailPreferences = Record<EmailCategory, boolean>;

/** api.md: the categories every channel has; `security` mail cannot be turned off. */
export type NotifyCategory = "marketing" | "achievements" | "reminders" | "social" | "security";
export type ChannelPreferences = Record<NotifyCategory, boolean>;
export type Channel = "email" | "push" | "sms" | "inApp";
const DIGESTS = ["off", "daily", "weekly"] as const;
export type Digest = (typeof DIGESTS)[number];

/** api.md shape of GET/PUT /me/notification-preferences. */
export type NotificationPreferences = Record<Channel, ChannelPreferences> & { digest: Digest };

/** What a learner has not chosen: news only by opt-in; SMS (a cost to them) only for security. */
export const DEFAULT_CHANNEL_PREFERENCES: Record<Channel, ChannelPreferences> = {
  email: { marketing: false, achievements: true, reminders: true, social: true, security: true },
  push: { marketing: false, achievements: true, reminders: true, social: true, security: true },
  sms: { marketing: false, achievements: false, reminders: false, social: false, security: true },
  inApp: { marketing: true, achievements: true, reminders: true, social: true, security: true },
};

/** Marketing needs an explicit opt-in; the learning-related categories are on until switched off. */
export const DEFAULT_EMAIL_PREFERENCES: EmailPreferences = {
  marketing: false,
  achievements: true,
  reminders: true,
  weeklyReport: true,
};

/** Each category of a channel, left out: unchanged. */
const categoryRules = {
  marketing: { type: "boolean", optional: true },
  achievements: { type: "boolean", optional: true },
  reminders: { type: "boolean", optional: true },
  social: { type: "boolean", optional: true },
  security: { type: "boolean", optional: true },
} as const satisfies Record<NotifyCategory, unknown>;

const channelRule = { type: "object", strict: true, optional: true, props: categoryRules } as const;

/** fastest-validator schema of the PUT body: strict, each channel and the digest optional. */
export const preferencesParams = {
  $$strict: true,
  email: {
    ...channelRule,
    // Security mail cannot be turned off: `false` there is a 422, not ignored.
    props: {
      ...categoryRules,
      security: { type: "equal", value: true, strict: true, optional: true },
    },
  },
  push: channelRule,
  sms: channelRule,
  inApp: channelRule,
  digest: { type: "enum", values: [...DIGESTS], optional: true },
} as const satisfies Record<Channel, unknown> & { $$strict: true; digest: unknown };

export type PreferencesChange = ParamsOf<typeof preferencesParams>;

/** A local copy of what notify needs of a user, so mail still goes when the users service is slow. */
export interface Recipient {
  userId: string;
  email: string;
  name: string;
  timezone: string;
  emailVerified: boolean;
  /** The locale user.updated last gave (mail in their language); absent or null: English. */
  locale?: string | null;
}
