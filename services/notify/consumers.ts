import type { Logger } from "moleculer";
import type { Transaction } from "sequelize";
import { v7 as uuidv7 } from "uuid";
import type { DurableConsumers } from "../../mixins/durable-events.mixin";
import type { DomainEventType, EventEnvelope, SecurityChange } from "../../models/events.model";
import type { QueuedMail } from "../../models/email.model";
import type { LiveMessageType } from "../../models/live.model";
import type {
  NewNotification,
  NotificationPreferences,
  NotifyCategory,
  Recipient,
} from "../../models/notification.model";
import type { MailBuilder } from "./mail-builder";
import type { PushPayload } from "./push-store";
import type { Say } from "./texts";
import type { DigestStore } from "./digest-store";
import type { NotifyStore } from "./store";

/**
 * What notify does with each durable event (events.md). Every handler runs inside the
 * transaction DurableEvents opened for that event id: mails are only *queued* here, in
 * the same commit that marks the event processed, and the sender loop delivers them.
 * The unique keys (event, template, recipient) make a second run a no-op as well.
 */

export interface NotifyRuntime {
  store: NotifyStore;
  /** The digests' tallies of progress events. */
  digests: DigestStore;
  builder: MailBuilder;
  logger: Logger;
  limits: { resetMailsPerHour: number; verifyReminderAfterMs: number };
  /** The local recipient (users.profiles was asked before the batch's transaction); null: no such user. */
  recipientOf(userId: string, t: Transaction): Promise<Recipient | null>;
  /** Wakes the sender once `t` commits. */
  deliverAfterCommit(t: Transaction): void;
  /** When a push or mail due now may go: null (now) or the end of the user's quiet hours. */
  deliverableAt(userId: string, t: Transaction): Promise<Date | null>;
  /** Keeps the quiet hours and locale user.created or user.updated carry (when they do). */
  saveDeliverySettings(
    change: Pick<
      EventEnvelope<"user.updated">["data"],
      "userId" | "sequence" | "locale" | "quietHours"
    >,
    t: Transaction,
  ): Promise<void>;
  /** The in-app and push texts in the user's locale (English when unknown). */
  sayTo(userId: string, t: Transaction): Promise<Say>;
  /** The user's choices per channel and category. */
  preferencesOf(userId: string, t: Transaction): Promise<NotificationPreferences>;
  /** Queues a push to each of the user's devices in `t` (nothing while Web Push is off). */
  push(
    userId: string,
    eventId: string,
    push: { payload: PushPayload; urgency: "low" | "normal" },
    t: Transaction,
  ): Promise<void>;
  /** Keeps a live message for the user's replays in `t` and tells their sockets once `t` commits. */
  live(
    userId: string,
    type: LiveMessageType,
    data: Record<string, unknown>,
    t: Transaction,
  ): Promise<void>;
}

type Handler<T extends DomainEventType> = (
  rt: NotifyRuntime,
  event: EventEnvelope<T>,
  t: Transaction,
) => Promise<void>;

async function queue(rt: NotifyRuntime, due: QueuedMail, t: Transaction): Promise<void> {
  // Transactional mail (verification, reset) is never held by quiet hours.
  const held =
    due.category !== "transactional" && due.userId ? await rt.deliverableAt(due.userId, t) : null;
  const mail = held && (!due.notBefore || due.notBefore < held) ? { ...due, notBefore: held } : due;
  const queued = await rt.store.queueMail(mail, { transaction: t });
  if (queued) rt.deliverAfterCommit(t);
  else
    rt.logger.debug("Mail already queued for this event", {
      eventId: mail.eventId,
      template: mail.template,
    });
}

/** What each kind of in-app notification counts as in the learner's preferences. */
const KIND_CATEGORY: Record<NewNotification["kind"], NotifyCategory> = {
  lesson_completed: "achievements",
  course_completed: "achievements",
  achievement_unlocked: "achievements",
  new_course: "marketing",
  user_followed: "social",
};

/** The in-app notification (and its live message) and the push, each if the learner wants it. */
async function notifyInApp(
  rt: NotifyRuntime,
  draft: Omit<NewNotification, "id" | "title" | "body"> & {
    text: (say: Say) => { title: string; body: string };
  },
  t: Transaction,
): Promise<void> {
  const { text, ...rest } = draft;
  const n = { ...rest, ...text(await rt.sayTo(draft.userId, t)) };
  const category = KIND_CATEGORY[n.kind];
  const prefs = await rt.preferencesOf(n.userId, t);
  const id = uuidv7();
  if (prefs.inApp[category] && (await rt.store.addNotification({ id, ...n }, { transaction: t }))) {
    await rt.live(
      n.userId,
      "notification.created",
      { id, kind: n.kind, title: n.title, body: n.body, link: n.link, data: n.data },
      t,
    );
  }
  if (!prefs.push[category]) return;
  await rt.push(
    n.userId,
    n.eventId,
    {
      payload: { id, kind: n.kind, title: n.title, body: n.body, link: n.link },
      // News can wait for a charger; what the learner just did is told now.
      urgency: category === "marketing" ? "low" : "normal",
    },
    t,
  );
}

/**
 * Every user.* handler starts here: on two nodes, a user.created and a user.updated,
 * user.email_verified or user.deleted of the same user would otherwise each miss what the
 * other is about to commit (an update kept for a recipient the creation did not see, a
 * creation after the erasure checked its tombstone).
 */
function lockUser(rt: NotifyRuntime, userId: string, t: Transaction): Promise<void> {
  return rt.store.lockUsers([userId], { transaction: t });
}

/** The client app's page that confirms an address with `token` (api.md: mails link to it). */
function verifyLink(rt: NotifyRuntime, token: string): string {
  return `${rt.builder.links.app}/verify-email?token=${encodeURIComponent(token)}`;
}

const onUserCreated: Handler<"user.created"> = async (rt, event, t) => {
  const d = event.data;
  await lockUser(rt, d.userId, t);
  const recipient: Recipient = {
    userId: d.userId,
    email: d.email,
    name: d.name,
    timezone: d.timezone,
    // user.email_verified may have been handled first (events arrive out of order).
    emailVerified:
      d.emailVerified === true || (await rt.store.verifiedEarly(d.userId, { transaction: t })),
    locale: d.locale ?? null,
  };
  // Erased already (user.deleted was handled first): no recipient again, no welcome mail.
  if (!(await rt.store.upsertRecipient(recipient, { transaction: t }, d.sequence))) return;
  // Every later mail is in it too, until a user.updated changes it.
  if (d.locale) {
    await rt.saveDeliverySettings({ userId: d.userId, locale: d.locale, sequence: d.sequence }, t);
  }
  // The welcome mail is the confirmation request: an address verified at creation needs neither it nor the reminder.
  if (recipient.emailVerified) return;
  const verifyUrl = verifyLink(rt, d.verificationToken);
  await queue(
    rt,
    rt.builder.build({ template: "welcome", eventId: event.id, recipient, vars: { verifyUrl } }),
    t,
  );
  // A reminder waits in the queue; user.email_verified removes it before it is due.
  await queue(
    rt,
    rt.builder.build({
      template: "verify-reminder",
      eventId: event.id,
      recipient,
      vars: { verifyUrl },
      notBefore: new Date(Date.now() + rt.limits.verifyReminderAfterMs),
    }),
    t,
  );
};

const onUserUpdated: Handler<"user.updated"> = async (rt, event, t) => {
  await lockUser(rt, event.data.userId, t);
  await rt.store.renameRecipient(event.data, { transaction: t });
  await rt.saveDeliverySettings(event.data, t);
};

const onEmailVerified: Handler<"user.email_verified"> = async (rt, event, t) => {
  await lockUser(rt, event.data.userId, t);
  await rt.store.markVerified(event.data.userId, { transaction: t });
  await rt.store.cancelQueued(event.data.userId, "verify-reminder", { transaction: t });
};

const onPasswordResetRequested: Handler<"user.password_reset_requested"> = async (rt, event, t) => {
  const d = event.data;
  await lockUser(rt, d.userId, t);
  const known = await rt.store.recipient(d.userId, { transaction: t });
  const recipient: Recipient = known
    ? { ...known, email: d.email, name: d.name }
    : { userId: d.userId, email: d.email, name: d.name, timezone: "UTC", emailVerified: false };
  await rt.store.upsertRecipient(recipient, { transaction: t }, d.sequence);
  // Count and insert under one lock per address, so parallel requests on many nodes cannot pass the cap together.
  await rt.store.lockKey(`notify:reset:${d.email.toLowerCase()}`, { transaction: t });
  const recent = await rt.store.countRecent("password-reset", d.email, 60, { transaction: t });
  if (recent >= rt.limits.resetMailsPerHour) {
    rt.logger.warn("Password-reset mail not sent: hourly cap reached for this address", {
      userId: d.userId,
      eventId: event.id,
    });
    return;
  }
  const resetUrl = `${rt.builder.links.app}/reset-password?token=${encodeURIComponent(d.resetToken)}`;
  await queue(
    rt,
    rt.builder.build({
      template: "password-reset",
      eventId: event.id,
      recipient,
      vars: { resetUrl, expiresInMinutes: 60 },
    }),
    t,
  );
};

const onUserDeleted: Handler<"user.deleted"> = async (rt, event, t) => {
  await lockUser(rt, event.data.userId, t);
  await rt.store.eraseUser(event.data.userId, { transaction: t });
};

/** A recipient for a mail about the account itself, to `email` (the current or a new address). */
async function accountRecipient(
  rt: NotifyRuntime,
  d: { userId: string; name: string },
  email: string,
  t: Transaction,
): Promise<Recipient> {
  const known = await rt.store.recipient(d.userId, { transaction: t });
  return known
    ? { ...known, email, name: d.name }
    : { userId: d.userId, email, name: d.name, timezone: "UTC", emailVerified: false };
}

const onVerificationRequested: Handler<"user.verification_requested"> = async (rt, event, t) => {
  const d = event.data;
  await lockUser(rt, d.userId, t);
  const verifyUrl = verifyLink(rt, d.verificationToken);
  const recipient = await accountRecipient(rt, d, d.email, t);
  await queue(
    rt,
    rt.builder.build({
      template: "verify-reminder",
      eventId: event.id,
      recipient,
      vars: { verifyUrl },
    }),
    t,
  );
};

const onEmailChangeRequested: Handler<"user.email_change_requested"> = async (rt, event, t) => {
  const d = event.data;
  await lockUser(rt, d.userId, t);
  const verifyUrl = verifyLink(rt, d.verificationToken);
  const toNew = await accountRecipient(rt, d, d.email, t);
  await queue(
    rt,
    rt.builder.build({
      template: "email-change",
      eventId: event.id,
      recipient: toNew,
      vars: { verifyUrl },
    }),
    t,
  );
  const toOld = await accountRecipient(rt, d, d.previousEmail, t);
  await queue(
    rt,
    rt.builder.build({
      template: "email-change-notice",
      eventId: event.id,
      recipient: toOld,
      vars: { newEmail: d.email },
    }),
    t,
  );
};

const onEmailChanged: Handler<"user.email_changed"> = async (rt, event, t) => {
  await lockUser(rt, event.data.userId, t);
  await rt.store.changeRecipientEmail(event.data, { transaction: t });
};

/** A security mail to the account's current address (never switched off: transactional). */
async function securityNotice(
  rt: NotifyRuntime,
  eventId: string,
  userId: string,
  /** Which notice (mail.security.<notice>.* in the locale files), and its values. */
  vars: { notice: SecurityChange | "provider_linked"; provider?: string },
  t: Transaction,
): Promise<void> {
  await lockUser(rt, userId, t);
  const recipient = await rt.store.recipient(userId, { transaction: t });
  if (!recipient) return;
  await queue(rt, rt.builder.build({ template: "security-notice", eventId, recipient, vars }), t);
}

const onSecurityChanged: Handler<"user.security_changed"> = (rt, event, t) =>
  securityNotice(rt, event.id, event.data.userId, { notice: event.data.what }, t);

const onIdentityLinked: Handler<"user.identity_linked"> = (rt, event, t) =>
  securityNotice(
    rt,
    event.id,
    event.data.userId,
    { notice: "provider_linked", provider: event.data.provider },
    t,
  );

/** In the app only (the social category has no mail): "X follows you". */
const onFollowed: Handler<"social.followed"> = async (rt, event, t) => {
  const d = event.data;
  await lockUser(rt, d.userId, t);
  if (!(await rt.store.recipient(d.userId, { transaction: t }))) return;
  const follower = await rt.store.recipient(d.followerId, { transaction: t });
  await notifyInApp(
    rt,
    {
      userId: d.userId,
      eventId: event.id,
      kind: "user_followed",
      text: say => {
        const name = follower?.name ?? say("user_followed.someone");
        return {
          title: say("user_followed.title", { name }),
          body: say("user_followed.body", { name }),
        };
      },
      link: `${rt.builder.links.app}/users/${encodeURIComponent(d.followerId)}`,
      data: { followerId: d.followerId },
    },
    t,
  );
};

const onCoursePublished: Handler<"content.course.published"> = async (rt, event, t) => {
  const d = event.data;
  await rt.store.upsertCourse(
    { courseId: d.courseId, title: d.title, level: d.level, topics: d.topics, version: d.version },
    { transaction: t },
  );
  // Republishing an edited course is not news; only its first publication is announced.
  if (d.version !== 1) return;
  const courseUrl = `${rt.builder.links.app}/courses/${encodeURIComponent(d.courseId)}`;
  // People read names; an event from before topicNames existed only has the slugs.
  const topics = (d.topicNames ?? d.topics).join(", ");
  const recipients = await rt.store.recipientsWithPreference("marketing", { transaction: t });
  for (const recipient of recipients) {
    await notifyInApp(
      rt,
      {
        userId: recipient.userId,
        eventId: event.id,
        kind: "new_course",
        text: say => ({
          title: say("new_course.title", { title: d.title }),
          body: topics
            ? say("new_course.body.topics", { level: d.level, topics })
            : say("new_course.body", { level: d.level }),
        }),
        link: courseUrl,
        data: { courseId: d.courseId, level: d.level, topics: d.topics },
      },
      t,
    );
    if (!recipient.wants) continue;
    const mail = rt.builder.build({
      template: "new-course",
      eventId: event.id,
      recipient,
      vars: { courseTitle: d.title, level: d.level, topics, courseUrl },
      linkVars: ["courseUrl"],
    });
    await queue(rt, mail, t);
  }
};

const onLessonCompleted: Handler<"progress.lesson.completed"> = async (rt, event, t) => {
  const d = event.data;
  await rt.digests.recordLesson(d.userId, new Date(d.completedAt), t);
  const course = await rt.store.course(d.courseId, { transaction: t });
  await notifyInApp(
    rt,
    {
      userId: d.userId,
      eventId: event.id,
      kind: "lesson_completed",
      text: say => ({
        title: say("lesson_completed.title"),
        body: course
          ? say("lesson_completed.body.course", { xp: d.xpEarned, course: course.title })
          : say("lesson_completed.body", { xp: d.xpEarned }),
      }),
      link: `${rt.builder.links.app}/courses/${encodeURIComponent(d.courseId)}`,
      data: {
        lessonId: d.lessonId,
        courseId: d.courseId,
        score: d.score,
        xpEarned: d.xpEarned,
        completedAt: d.completedAt,
      },
    },
    t,
  );
};

const onCourseCompleted: Handler<"progress.course.completed"> = async (rt, event, t) => {
  const d = event.data;
  const course = await rt.store.course(d.courseId, { transaction: t });
  // The certificate's own verification page; events older than certificateId name only the course.
  const certificateUrl = d.certificateId
    ? `${rt.builder.links.app}/certificates/${encodeURIComponent(d.certificateId)}`
    : `${rt.builder.links.app}/courses/${encodeURIComponent(d.courseId)}/certificate`;
  await notifyInApp(
    rt,
    {
      userId: d.userId,
      eventId: event.id,
      kind: "course_completed",
      text: say => ({
        title: say("course_completed.title", {
          course: course?.title ?? say("course_completed.someCourse"),
        }),
        body: say("course_completed.body"),
      }),
      link: certificateUrl,
      data: { courseId: d.courseId, completedAt: d.completedAt, certificateId: d.certificateId },
    },
    t,
  );
  const recipient = await achievementMailTo(rt, d.userId, t);
  if (!recipient) return;
  const mail = rt.builder.build({
    template: "course-completed",
    eventId: event.id,
    recipient,
    vars: {
      courseTitle:
        course?.title ?? rt.builder.localeOf(recipient).say("mail.course-completed.someCourse"),
      level: course?.level,
      completedAt: d.completedAt,
      certificateUrl,
      coursesUrl: `${rt.builder.links.app}/courses`,
    },
    linkVars: ["certificateUrl", "coursesUrl"],
  });
  await queue(rt, mail, t);
};

/** The learner, if they take mail about their achievements (null: no such user, or they do not). */
async function achievementMailTo(
  rt: NotifyRuntime,
  userId: string,
  t: Transaction,
): Promise<Recipient | null> {
  const recipient = await rt.recipientOf(userId, t);
  if (!recipient) return null;
  return (await rt.store.preferences(userId, { transaction: t })).achievements ? recipient : null;
}

const onAchievementUnlocked: Handler<"progress.achievement.unlocked"> = async (rt, event, t) => {
  const d = event.data;
  const achievementsUrl = `${rt.builder.links.app}/achievements`;
  await notifyInApp(
    rt,
    {
      userId: d.userId,
      eventId: event.id,
      kind: "achievement_unlocked",
      text: say => ({
        title: say("achievement_unlocked.title", { name: d.name }),
        body: say("achievement_unlocked.body"),
      }),
      link: achievementsUrl,
      data: { code: d.code, name: d.name, unlockedAt: d.unlockedAt },
    },
    t,
  );
  await rt.live(
    d.userId,
    "achievement.unlocked",
    { code: d.code, name: d.name, unlockedAt: d.unlockedAt },
    t,
  );
  const recipient = await achievementMailTo(rt, d.userId, t);
  if (!recipient) return;
  const mail = rt.builder.build({
    template: "achievement-unlocked",
    eventId: event.id,
    recipient,
    vars: { achievementName: d.name, achievementCode: d.code, achievementsUrl },
    linkVars: ["achievementsUrl"],
  });
  await queue(rt, mail, t);
};

const onStreakReminderDue: Handler<"progress.streak.reminder_due"> = async (rt, event, t) => {
  const d = event.data;
  if (!(await rt.store.preferences(d.userId, { transaction: t })).reminders) return;
  const recipient = await rt.recipientOf(d.userId, t);
  if (!recipient) return;
  if (!(await rt.store.claimReminderDay(d.userId, d.localDate, { transaction: t }))) {
    rt.logger.debug("Streak reminder already sent today", {
      userId: d.userId,
      localDate: d.localDate,
    });
    return;
  }
  const mail = rt.builder.build({
    template: "streak-reminder",
    eventId: event.id,
    recipient,
    vars: { currentStreak: d.currentStreak, continueUrl: `${rt.builder.links.app}/learn` },
    linkVars: ["continueUrl"],
  });
  await queue(rt, mail, t);
};

/** Receipts and failed payments are transactional: they go whatever the preferences say. */
async function queueBillingMail(
  rt: NotifyRuntime,
  event: EventEnvelope<"billing.invoice.paid" | "billing.invoice.payment_failed">,
  template: "receipt" | "payment-failed",
  vars: Record<string, unknown>,
  t: Transaction,
): Promise<void> {
  const d = event.data;
  const recipient = await rt.recipientOf(d.userId, t);
  if (!recipient) return;
  const mail = rt.builder.build({
    template,
    eventId: event.id,
    recipient,
    vars: {
      // Amounts (minor units) and dates are formatted for the recipient's locale by the template.
      amount: d.amount,
      currency: d.currency,
      invoiceNumber: d.number ?? undefined,
      billingUrl: `${rt.builder.links.app}/account/billing`,
      ...vars,
    },
  });
  await queue(rt, mail, t);
}

const onInvoicePaid: Handler<"billing.invoice.paid"> = (rt, event, t) =>
  queueBillingMail(
    rt,
    event,
    "receipt",
    { paidAt: event.data.paidAt ?? undefined, pdfUrl: event.data.pdfUrl ?? undefined },
    t,
  );

const onPaymentFailed: Handler<"billing.invoice.payment_failed"> = (rt, event, t) =>
  queueBillingMail(rt, event, "payment-failed", {}, t);

const onXpAwarded: Handler<"progress.xp.awarded"> = async (rt, event, t) => {
  const { userId, xp, total, reason } = event.data;
  await rt.digests.recordXp(event.data, new Date(event.occurredAt), t);
  await rt.live(userId, "xp.awarded", { xp, total, reason }, t);
};

const onStreakChanged: Handler<"progress.streak.changed"> = async (rt, event, t) => {
  const { userId, current, longest, localDate } = event.data;
  await rt.digests.recordStreak(event.data, t);
  await rt.live(userId, "streak.changed", { current, longest, localDate }, t);
};

/** A new wave of due flashcards: the learner's open apps show it (no mail, no push). */
const onReviewDue: Handler<"progress.review.due"> = async (rt, event, t) => {
  const { userId, count } = event.data;
  await rt.live(userId, "review.due", { count }, t);
};

/** user.updated for a run of events in one consumer transaction: the same effects as one by one. */
export async function usersUpdated(
  rt: NotifyRuntime,
  events: EventEnvelope<"user.updated">[],
  t: Transaction,
): Promise<void> {
  await rt.store.lockUsers(
    events.map(e => e.data.userId),
    { transaction: t },
  );
  await rt.store.updateRecipientNames(
    events.map(e => e.data),
    { transaction: t },
  );
  for (const event of events) await rt.saveDeliverySettings(event.data, t);
}

/** Every event notify consumes, with its consumer: notify's `durableEvents` are derived from it. */
export const consumers = {
  "user.created": onUserCreated,
  "user.updated": onUserUpdated,
  "user.email_verified": onEmailVerified,
  "user.password_reset_requested": onPasswordResetRequested,
  "user.deleted": onUserDeleted,
  "user.verification_requested": onVerificationRequested,
  "user.email_change_requested": onEmailChangeRequested,
  "user.email_changed": onEmailChanged,
  "user.security_changed": onSecurityChanged,
  "user.identity_linked": onIdentityLinked,
  "social.followed": onFollowed,
  "content.course.published": onCoursePublished,
  "progress.lesson.completed": onLessonCompleted,
  "progress.course.completed": onCourseCompleted,
  "progress.achievement.unlocked": onAchievementUnlocked,
  "progress.streak.reminder_due": onStreakReminderDue,
  "billing.invoice.paid": onInvoicePaid,
  "billing.invoice.payment_failed": onPaymentFailed,
  "progress.xp.awarded": onXpAwarded,
  "progress.streak.changed": onStreakChanged,
  "progress.review.due": onReviewDue,
} satisfies DurableConsumers<NotifyRuntime>;
