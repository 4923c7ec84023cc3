import type { Logger } from "moleculer";
import type { Transaction } from "sequelize";
import { v7 as uuidv7 } from "uuid";
import type { EventEnvelope, SecurityChange } from "../../models/events.model";
import type { QueuedMail } from "../../models/email.model";
import type { NewNotification, Recipient } from "../../models/notification.model";
import type { MailBuilder } from "./mail-builder";
import type { NotifyStore } from "./store";

/**
 * What notify does with each durable event (events.md). Every handler runs inside the
 * transaction DurableEvents opened for that event id: mails are only *queued* here, in
 * the same commit that marks the event processed, and the sender loop delivers them.
 * The unique keys (event, template, recipient) make a second run a no-op as well.
 */

export interface NotifyRuntime {
  store: NotifyStore;
  builder: MailBuilder;
  logger: Logger;
  limits: { resetMailsPerHour: number; verifyReminderAfterMs: number };
  /** The local recipient (users.profiles was asked before the batch's transaction); null: no such user. */
  recipientOf(userId: string, t: Transaction): Promise<Recipient | null>;
  /** Wakes the sender once `t` commits. */
  deliverAfterCommit(t: Transaction): void;
}

type Handler<T extends keyof DomainHandlers> = (
  rt: NotifyRuntime,
  event: EventEnvelope<T>,
  t: Transaction,
) => Promise<void>;
type DomainHandlers = {
  "user.created": true;
  "user.updated": true;
  "user.email_verified": true;
  "user.password_reset_requested": true;
  "user.deleted": true;
  "user.verification_requested": true;
  "user.email_change_requested": true;
  "user.email_changed": true;
  "user.security_changed": true;
  "user.identity_linked": true;
  "social.followed": true;
  "content.course.published": true;
  "progress.lesson.completed": true;
  "progress.course.completed": true;
  "progress.achievement.unlocked": true;
  "progress.streak.reminder_due": true;
};

async function queue(rt: NotifyRuntime, mail: QueuedMail, t: Transaction): Promise<void> {
  const queued = await rt.store.queueMail(mail, { transaction: t });
  if (queued) rt.deliverAfterCommit(t);
  else
    rt.logger.debug("Mail already queued for this event", {
      eventId: mail.eventId,
      template: mail.template,
    });
}

async function notifyInApp(
  rt: NotifyRuntime,
  n: Omit<NewNotification, "id">,
  t: Transaction,
): Promise<void> {
  await rt.store.addNotification({ id: uuidv7(), ...n }, { transaction: t });
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
  };
  // Erased already (user.deleted was handled first): no recipient again, no welcome mail.
  if (!(await rt.store.upsertRecipient(recipient, { transaction: t }, d.sequence))) return;
  // The welcome mail is the confirmation request: an address verified at creation needs neither it nor the reminder.
  if (recipient.emailVerified) return;
  const verifyUrl = `${rt.builder.links.app}/verify-email?token=${encodeURIComponent(d.verificationToken)}`;
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
  const verifyUrl = `${rt.builder.links.app}/verify-email?token=${encodeURIComponent(d.verificationToken)}`;
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
  const verifyUrl = `${rt.builder.links.app}/verify-email?token=${encodeURIComponent(d.verificationToken)}`;
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

/** The words of each security mail: what happened, and what to do if it was not the owner. */
const SECURITY_NOTICES: Record<SecurityChange, { headline: string; detail: string }> = {
  password: {
    headline: "Your password was changed",
    detail:
      "The password of your Lingomesh account was changed and your other sessions were signed out.",
  },
  email: {
    headline: "Your email address was changed",
    detail: "Your Lingomesh account now uses this email address to sign in.",
  },
  mfa_off: {
    headline: "Two-step verification was turned off",
    detail:
      "Signing in to your Lingomesh account no longer asks for a code from your authenticator app.",
  },
  new_device: {
    headline: "A new sign-in to your account",
    detail:
      "Your Lingomesh account was signed in to from a device or browser it had not been used from before.",
  },
};

/** A security mail to the account's current address (never switched off: transactional). */
async function securityNotice(
  rt: NotifyRuntime,
  eventId: string,
  userId: string,
  words: { headline: string; detail: string },
  t: Transaction,
): Promise<void> {
  await lockUser(rt, userId, t);
  const recipient = await rt.store.recipient(userId, { transaction: t });
  if (!recipient) return;
  await queue(
    rt,
    rt.builder.build({ template: "security-notice", eventId, recipient, vars: words }),
    t,
  );
}

const onSecurityChanged: Handler<"user.security_changed"> = (rt, event, t) =>
  securityNotice(rt, event.id, event.data.userId, SECURITY_NOTICES[event.data.what], t);

const onIdentityLinked: Handler<"user.identity_linked"> = (rt, event, t) =>
  securityNotice(
    rt,
    event.id,
    event.data.userId,
    {
      headline: "A sign-in provider was linked to your account",
      detail: `Your Lingomesh account can now be signed in to with your ${event.data.provider} account.`,
    },
    t,
  );

/** In the app only (the social category has no mail): "X follows you". */
const onFollowed: Handler<"social.followed"> = async (rt, event, t) => {
  const d = event.data;
  await lockUser(rt, d.userId, t);
  if (!(await rt.store.recipient(d.userId, { transaction: t }))) return;
  const follower = await rt.store.recipient(d.followerId, { transaction: t });
  const name = follower?.name ?? "Someone";
  await notifyInApp(
    rt,
    {
      userId: d.userId,
      eventId: event.id,
      kind: "user_followed",
      title: `${name} follows you`,
      body: `${name} now follows your progress on Lingomesh.`,
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
        title: `New course: ${d.title}`,
        body: `A new ${d.level} course is available${topics ? ` (${topics})` : ""}.`,
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
  const course = await rt.store.course(d.courseId, { transaction: t });
  await notifyInApp(
    rt,
    {
      userId: d.userId,
      eventId: event.id,
      kind: "lesson_completed",
      title: "Lesson completed",
      body: `You earned ${d.xpEarned} XP${course ? ` in ${course.title}` : ""}. Keep going!`,
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
  const courseTitle = course?.title ?? "your course";
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
      title: `Course completed: ${courseTitle}`,
      body: "Congratulations! Your certificate is ready.",
      link: certificateUrl,
      data: { courseId: d.courseId, completedAt: d.completedAt, certificateId: d.certificateId },
    },
    t,
  );
  const recipient = await rt.recipientOf(d.userId, t);
  if (!recipient) return;
  if (!(await rt.store.preferences(d.userId, { transaction: t })).achievements) return;
  const mail = rt.builder.build({
    template: "course-completed",
    eventId: event.id,
    recipient,
    vars: {
      courseTitle,
      level: course?.level,
      certificateUrl,
      coursesUrl: `${rt.builder.links.app}/courses`,
    },
    linkVars: ["certificateUrl", "coursesUrl"],
  });
  await queue(rt, mail, t);
};

const onAchievementUnlocked: Handler<"progress.achievement.unlocked"> = async (rt, event, t) => {
  const d = event.data;
  const achievementsUrl = `${rt.builder.links.app}/achievements`;
  await notifyInApp(
    rt,
    {
      userId: d.userId,
      eventId: event.id,
      kind: "achievement_unlocked",
      title: `Achievement unlocked: ${d.name}`,
      body: "Great work! You earned a new badge.",
      link: achievementsUrl,
      data: { code: d.code, name: d.name, unlockedAt: d.unlockedAt },
    },
    t,
  );
  const recipient = await rt.recipientOf(d.userId, t);
  if (!recipient) return;
  if (!(await rt.store.preferences(d.userId, { transaction: t })).achievements) return;
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

export const consumers: { [K in keyof DomainHandlers]: Handler<K> } = {
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
};
