import type { ParamsOf } from "../../lib/params-of";
import { EMAIL_TEMPLATES, type EmailTemplate, type RenderedMail } from "../../models/email.model";
import { weekChartPng } from "./digest-chart";
import type { Links, MailBuilder } from "./mail-builder";
import type { LocaleTexts } from "./texts";

/** The digest is one template; its two periods preview under their own names too. */
const DIGEST_PERIODS = { "daily-digest": "daily", "weekly-digest": "weekly" } as const;
type PreviewName = EmailTemplate | keyof typeof DIGEST_PERIODS;
const PREVIEW_NAMES = [
  ...EMAIL_TEMPLATES,
  "daily-digest",
  "weekly-digest",
] as const satisfies readonly PreviewName[];

export const previewParams = {
  $$strict: true,
  template: { type: "enum", values: PREVIEW_NAMES },
  /** A BCP 47 tag ("es", "vi", "es-MX"); absent: English. */
  locale: { type: "string", pattern: "^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$", optional: true },
  timezone: { type: "string", min: 1, max: 64, optional: true },
  data: { type: "object", optional: true },
} as const;

export type PreviewRequest = ParamsOf<typeof previewParams>;

const isDigestPeriod = (name: PreviewName): name is keyof typeof DIGEST_PERIODS =>
  name in DIGEST_PERIODS;

/** `notify.preview`: a template rendered in a locale with sample values (and the caller's). */
export function previewMail(builder: MailBuilder, req: PreviewRequest): RenderedMail {
  const texts = builder.localeOf({ locale: req.locale, timezone: req.timezone });
  const name = req.template;
  const period = isDigestPeriod(name) ? DIGEST_PERIODS[name] : null;
  const template: EmailTemplate = isDigestPeriod(name) ? "digest" : name;
  return builder.render(
    template,
    {
      ...sampleVars(template, builder.links, texts),
      ...(period ? { period } : {}),
      ...req.data,
    },
    texts,
  );
}

/**
 * Believable values for previewing a template (notify.preview) in a locale; callers may
 * override any. Words come from the locale files; these are only the values a mail carries.
 */
export function sampleVars(
  template: EmailTemplate,
  links: Links,
  locale: LocaleTexts,
): Record<string, unknown> {
  const common = {
    name: "Alex Example",
    to: "alex@example.com",
    pixelUrl: `${links.api}/notifications/open/preview.gif`,
  };
  const optOut = {
    unsubscribeUrl: `${links.api}/notifications/unsubscribe/preview`,
    preferencesUrl: `${links.app}/settings/notifications`,
  };
  switch (template) {
    case "welcome":
    case "verify-reminder":
    case "email-change":
      return { ...common, verifyUrl: `${links.app}/verify-email?token=preview-token` };
    case "email-change-notice":
      return { ...common, newEmail: "alex.new@example.com" };
    case "security-notice":
      return { ...common, notice: "password" };
    case "password-reset":
      return {
        ...common,
        resetUrl: `${links.app}/reset-password?token=preview-token`,
        expiresInMinutes: 60,
      };
    case "course-completed":
      return {
        ...common,
        ...optOut,
        mailCategory: "achievements",
        courseTitle: "Everyday English B1",
        level: "B1",
        completedAt: "2026-12-01T10:00:00Z",
        certificateUrl: `${links.app}/certificates/preview`,
        coursesUrl: `${links.app}/courses`,
      };
    case "achievement-unlocked":
      return {
        ...common,
        ...optOut,
        mailCategory: "achievements",
        achievementName: "Seven-day streak",
        achievementsUrl: `${links.app}/achievements`,
      };
    case "streak-reminder":
      return {
        ...common,
        ...optOut,
        mailCategory: "reminders",
        currentStreak: 12,
        continueUrl: `${links.app}/learn`,
      };
    case "new-course":
      return {
        ...common,
        ...optOut,
        mailCategory: "marketing",
        courseTitle: "Business English B2",
        level: "B2",
        topics: "Work, Business",
        courseUrl: `${links.app}/courses/preview`,
      };
    case "receipt":
      return {
        ...common,
        amount: 999,
        currency: "eur",
        invoiceNumber: "LM-0001",
        paidAt: "2026-12-01T10:00:00Z",
        pdfUrl: "https://pay.stripe.com/invoice/preview/pdf",
        billingUrl: `${links.app}/account/billing`,
      };
    case "payment-failed":
      return {
        ...common,
        amount: 999,
        currency: "eur",
        invoiceNumber: "LM-0002",
        billingUrl: `${links.app}/account/billing`,
      };
    case "digest": {
      const week = SAMPLE_WEEK.map(day => ({ label: locale.weekday(day.date), xp: day.xp }));
      return {
        ...common,
        ...optOut,
        mailCategory: "weeklyReport",
        period: "daily",
        xp: 120,
        streak: 12,
        lessons: 3,
        dueReviews: 8,
        weekXp: 540,
        totalXp: 4210,
        // The preview shows the chart inline; a sent digest carries it as a cid: part.
        chartSrc: `data:image/png;base64,${weekChartPng(week).toString("base64")}`,
        chartAlt: week.map(day => `${day.label} ${locale.number(day.xp)}`).join(", "),
        continueUrl: `${links.app}/reviews`,
      };
    }
  }
}

const SAMPLE_WEEK = [
  { date: "2026-11-26", xp: 40 },
  { date: "2026-11-27", xp: 95 },
  { date: "2026-11-28", xp: 0 },
  { date: "2026-11-29", xp: 60 },
  { date: "2026-11-30", xp: 110 },
  { date: "2026-12-01", xp: 115 },
  { date: "2026-12-02", xp: 120 },
];
