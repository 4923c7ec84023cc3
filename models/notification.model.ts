import { EMAIL_CATEGORIES, type EmailCategory } from "./email.model";

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

/** api.md shape of GET/PUT /me/notification-preferences. */
export interface NotificationPreferences {
  email: EmailPreferences;
}

/** Marketing needs an explicit opt-in; the learning-related categories are on until switched off. */
export const DEFAULT_EMAIL_PREFERENCES: EmailPreferences = {
  marketing: false,
  achievements: true,
  reminders: true,
  weeklyReport: true,
};

/** fastest-validator schema of the PUT body: strict, booleans only. */
export const preferencesParams = {
  $$strict: true,
  email: {
    type: "object",
    strict: true,
    props: Object.fromEntries(
      EMAIL_CATEGORIES.map(category => [category, { type: "boolean", optional: true }]),
    ),
  },
} as const;

/** A local copy of what notify needs of a user, so mail still goes when the users service is slow. */
export interface Recipient {
  userId: string;
  email: string;
  name: string;
  timezone: string;
  emailVerified: boolean;
}
