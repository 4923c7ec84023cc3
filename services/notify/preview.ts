import type { EmailTemplate } from "../../models/email.model";
import { weekChartPng } from "./digest-chart";
import type { Links } from "./mail-builder";

/** Believable values for previewing a template (notify.preview); callers may override any. */
export function sampleVars(template: EmailTemplate, links: Links): Record<string, unknown> {
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
      return {
        ...common,
        headline: "Your password was changed",
        detail: "The password of your Lingomesh account was changed.",
      };
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
        categoryLabel: "achievement",
        courseTitle: "Everyday English B1",
        level: "B1",
        certificateUrl: `${links.app}/certificates/preview`,
        coursesUrl: `${links.app}/courses`,
      };
    case "achievement-unlocked":
      return {
        ...common,
        ...optOut,
        categoryLabel: "achievement",
        achievementName: "Seven-day streak",
        achievementsUrl: `${links.app}/achievements`,
      };
    case "streak-reminder":
      return {
        ...common,
        ...optOut,
        categoryLabel: "reminder",
        currentStreak: 12,
        continueUrl: `${links.app}/learn`,
      };
    case "new-course":
      return {
        ...common,
        ...optOut,
        categoryLabel: "new course and news",
        courseTitle: "Business English B2",
        level: "B2",
        topics: "Work, Business",
        courseUrl: `${links.app}/courses/preview`,
      };
    case "receipt":
      return {
        ...common,
        amount: "€9.99",
        invoiceNumber: "LM-0001",
        paidOn: "1 December 2026",
        pdfUrl: "https://pay.stripe.com/invoice/preview/pdf",
        billingUrl: `${links.app}/account/billing`,
      };
    case "payment-failed":
      return {
        ...common,
        amount: "€9.99",
        invoiceNumber: "LM-0002",
        billingUrl: `${links.app}/account/billing`,
      };
    case "digest":
      return {
        ...common,
        ...optOut,
        categoryLabel: "digest",
        periodWord: "day",
        periodPhrase: "yesterday",
        headline: "Your day in English",
        xp: "120",
        streak: 12,
        lessons: 3,
        dueReviews: 8,
        weekXp: "540",
        totalXp: "4,210",
        // The preview shows the chart inline; a sent digest carries it as a cid: part.
        chartSrc: `data:image/png;base64,${weekChartPng(SAMPLE_WEEK).toString("base64")}`,
        chartAlt: SAMPLE_WEEK.map(day => `${day.label} ${day.xp}`).join(", "),
        continueUrl: `${links.app}/reviews`,
      };
  }
}

const SAMPLE_WEEK = [
  { label: "Thu", xp: 40 },
  { label: "Fri", xp: 95 },
  { label: "Sat", xp: 0 },
  { label: "Sun", xp: 60 },
  { label: "Mon", xp: 110 },
  { label: "Tue", xp: 115 },
  { label: "Wed", xp: 120 },
];
