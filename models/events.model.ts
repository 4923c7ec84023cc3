import type { SubscriptionStatus } from "./billing.model";
import type { CefrLevel } from "./course.model";

/**
 * The durable event catalog of shared/design/events.md: one definition of each
 * event's data, used by producers (emitDurable) and consumers (durableEvents) alike.
 */

export interface EventEnvelope<T extends DomainEventType = DomainEventType> {
  /** UUID v7: unique, and sortable by time. Consumers are idempotent by it. */
  id: string;
  type: T;
  version: number;
  occurredAt: string;
  producer: string;
  requestId?: string;
  data: DomainEvents[T];
}

export interface DomainEvents {
  "user.created": {
    /** The user's event counter at this event (events.md: order per aggregate). Absent in events older than the field. */
    sequence?: number;
    userId: string;
    email: string;
    name: string;
    timezone: string;
    verificationToken: string;
    /** True for an account created already verified (the bootstrap admin): notify asks no confirmation. Absent means false. */
    emailVerified?: boolean;
    /** The language the account starts with (the sign-up's Accept-Language, a provider's `locale` claim). Absent: unknown, English. */
    locale?: string;
  };
  "user.updated": {
    userId: string;
    name: string;
    timezone: string;
    sequence?: number;
    /** The agreed optional fields (absent: unchanged). */
    locale?: string;
    quietHours?: { start: string; end: string } | null;
    profileVisibility?: "public" | "followers" | "private";
    newCardsPerDay?: number;
  };
  "user.email_verified": { userId: string; sequence?: number };
  "user.password_reset_requested": {
    /** The user's event counter at this event (events.md: order per aggregate). Absent in events older than the field. */
    sequence?: number;
    userId: string;
    email: string;
    name: string;
    resetToken: string;
  };
  "user.deleted": { userId: string; sequence?: number };
  /** POST /auth/verify-email/resend: a new confirmation link for the account's address. */
  "user.verification_requested": {
    sequence?: number;
    userId: string;
    email: string;
    name: string;
    verificationToken: string;
  };
  /** POST /me/email: a link to the new address (which takes effect once confirmed), a notice to the old. */
  "user.email_change_requested": {
    sequence?: number;
    userId: string;
    email: string;
    previousEmail: string;
    name: string;
    verificationToken: string;
  };
  /** Something that keeps the account safe changed: notify tells the owner (a security mail). */
  "user.security_changed": {
    sequence?: number;
    userId: string;
    what: SecurityChange;
  };
  /** A provider account was linked to this one (a signed-in link, or a first sign-in by a verified email). */
  "user.identity_linked": { sequence?: number; userId: string; provider: string };
  /** The new address was confirmed: it is the account's from now on. */
  "user.email_changed": { sequence?: number; userId: string; email: string };
  /** `followerId` started following `userId` (notify: "X follows you"). */
  "social.followed": { userId: string; followerId: string };
  "content.course.published": {
    courseId: string;
    version: number;
    title: string;
    level: string;
    /** Slugs, as courses store them (filters, GET /topics). */
    topics: string[];
    /** The same topics' display names, in that order, for texts people read. Absent in events older than the field. */
    topicNames?: string[];
  };
  "content.lesson.deleted": {
    lessonId: string;
    courseId: string;
    /** The course's published version when the lesson was taken down (0: never published). Absent in events older than the field. */
    courseVersion?: number;
  };
  "progress.lesson.completed": {
    /** The learner's progress-event counter at this event (events.md: order per aggregate). Absent in events older than the field. */
    sequence?: number;
    userId: string;
    lessonId: string;
    courseId: string;
    score: number;
    xpEarned: number;
    completedAt: string;
  };
  "progress.course.completed": {
    /** The learner's progress-event counter at this event (events.md: order per aggregate). Absent in events older than the field. */
    sequence?: number;
    userId: string;
    courseId: string;
    completedAt: string;
    /** The certificate issued with the completion (its verification page). Absent in events older than the field. */
    certificateId?: string;
  };
  "progress.achievement.unlocked": {
    /** The learner's progress-event counter at this event (events.md: order per aggregate). Absent in events older than the field. */
    sequence?: number;
    userId: string;
    code: string;
    name: string;
    unlockedAt: string;
  };
  /**
   * The learner's record gained statements at `at` (an attempt, a completion, a review): the
   * LRS sender (progress itself, with XAPI_LRS_URL set) sends that instant's statements.
   */
  "progress.xapi.recorded": {
    /** The learner's progress-event counter at this event (events.md: order per aggregate). */
    sequence?: number;
    userId: string;
    at: string;
  };
  "progress.streak.reminder_due": {
    /** The learner's progress-event counter at this event (events.md: order per aggregate). Absent in events older than the field. */
    sequence?: number;
    userId: string;
    currentStreak: number;
    localDate: string;
  };
  /**
   * A learner's flashcards became due: the first card of a new wave (none was due at the last
   * round). Once per wave; the next wave starts after every due card was reviewed.
   */
  "progress.review.due": {
    sequence?: number;
    userId: string;
    /** Cards due at the round that saw the wave. */
    count: number;
    /** When the wave's first card became due. */
    dueAt: string;
  };
  /** A subscription's state changed (checkout, renewal, failed payment, cancellation, end). */
  "billing.subscription.changed": {
    /** The user's billing-event counter at this event (events.md: order per aggregate). */
    sequence: number;
    userId: string;
    subscriptionId: string;
    planId: string | null;
    status: SubscriptionStatus;
    currentPeriodEnd: string | null;
    cancelAtPeriodEnd: boolean;
    /** Whether the user holds the premium entitlement after this change. */
    premium: boolean;
  };
  /** An invoice was paid (the receipt). Amounts in the currency's minor unit. */
  "billing.invoice.paid": {
    sequence: number;
    userId: string;
    invoiceId: string;
    number: string | null;
    amount: number;
    currency: string;
    paidAt: string | null;
    pdfUrl: string | null;
  };
  /** A payment of an invoice failed (Stripe retries it; the subscription may be past due). */
  "billing.invoice.payment_failed": {
    sequence: number;
    userId: string;
    invoiceId: string;
    number: string | null;
    amount: number;
    currency: string;
  };
  /** A learner enrolled in a course (POST /courses/:id/enroll, or a first completion that enrols them). */
  "progress.course.enrolled": {
    sequence?: number;
    userId: string;
    courseId: string;
    enrolledAt: string;
  };
  /** An attempt was graded: its score and, per question, whether the answer was fully correct. */
  "progress.attempt.graded": {
    sequence?: number;
    userId: string;
    attemptId: string;
    lessonId: string;
    courseId: string;
    score: number;
    maxScore: number;
    passed: boolean;
    answers: { questionId: string; correct: boolean }[];
    gradedAt: string;
  };
  /** The learner learned something (an attempt, a completed lesson, a review) on their local day. */
  "progress.activity.recorded": {
    sequence?: number;
    userId: string;
    /** The course it belongs to (absent for what belongs to none). */
    courseId?: string;
    localDate: string;
    at: string;
  };
  /** A mail's outcome, the first time it reaches it: sent, opened (or clicked), clicked, failed for good. */
  "notify.email.outcome": {
    emailId: string;
    outcome: MailOutcome;
    /** When the mail was created: the figures count the mails of a day. */
    createdAt: string;
    at: string;
  };
  /**
   * A learner's in-app inbox changed (a notification created, one or all read), told in the
   * transaction that changed it: the unread count after the change, for progress's home summary.
   */
  "notify.inbox.changed": {
    userId: string;
    unread: number;
    /**
     * Orders one learner's changes: the database clock (microseconds) read under that learner's
     * inbox lock, so a later change always carries a larger version.
     */
    version: number;
  };
  "progress.xp.awarded": {
    /** The learner's progress-event counter at this event (events.md: order per aggregate). */
    sequence?: number;
    userId: string;
    xp: number;
    /** The learner's XP after this award. */
    total: number;
    reason: "attempt" | "lesson" | "review";
  };
  "progress.streak.changed": {
    /** The learner's progress-event counter at this event (events.md: order per aggregate). */
    sequence?: number;
    userId: string;
    current: number;
    longest: number;
    /** The learner's local date the streak counted. */
    localDate: string;
  };
  /** A placement test ended (docs/learning-rules.md, "Placement"): users stores `level` on the profile. */
  "progress.placement.completed": {
    /** The learner's progress-event counter at this event (events.md: order per aggregate). */
    sequence?: number;
    userId: string;
    testId: string;
    level: CefrLevel;
    /** 0..1: the posterior probability that the learner's ability lies in `level`'s band. */
    confidence: number;
    placedAt: string;
  };
}

export type DomainEventType = keyof DomainEvents;

export type MailOutcome = "sent" | "opened" | "clicked" | "failed";

/** What a security mail is about (events.md, user.security_changed). */
export type SecurityChange = "password" | "email" | "mfa_off" | "new_device";

export const DOMAIN_EVENT_TYPES = [
  "user.created",
  "user.updated",
  "user.email_verified",
  "user.password_reset_requested",
  "user.deleted",
  "user.verification_requested",
  "user.email_change_requested",
  "user.email_changed",
  "user.security_changed",
  "user.identity_linked",
  "social.followed",
  "content.course.published",
  "content.lesson.deleted",
  "progress.lesson.completed",
  "progress.course.completed",
  "progress.achievement.unlocked",
  "progress.streak.reminder_due",
  "progress.review.due",
  "progress.xapi.recorded",
  "billing.subscription.changed",
  "billing.invoice.paid",
  "billing.invoice.payment_failed",
  "progress.xp.awarded",
  "progress.streak.changed",
  "progress.course.enrolled",
  "progress.attempt.graded",
  "progress.activity.recorded",
  "notify.email.outcome",
  "notify.inbox.changed",
  "progress.placement.completed",
] as const satisfies readonly DomainEventType[];

/** The services that consume durable events (each one consumer group: `<namespace>.<service>`). */
export type ConsumingService = "notify" | "progress" | "billing" | "users";

/**
 * Who consumes each event type: the "consumers" column of events.md's catalog, plus
 * notify's copy of a user's name and time zone (user.updated), which its mails use.
 * Producers declare these groups' queues when they start, so an event published before
 * its consumer has ever run waits in that consumer's queue instead of being dropped.
 * test/unit/events-catalog.spec.ts holds the services' `durableEvents` to this map.
 */
export const EVENT_CONSUMERS: Readonly<Record<DomainEventType, readonly ConsumingService[]>> = {
  "user.created": ["notify", "progress"],
  "user.updated": ["notify", "progress"],
  "user.email_verified": ["notify"],
  "user.password_reset_requested": ["notify"],
  "user.deleted": ["notify", "progress", "billing"],
  "user.verification_requested": ["notify"],
  "user.email_change_requested": ["notify"],
  "user.email_changed": ["notify"],
  "user.security_changed": ["notify"],
  "user.identity_linked": ["notify"],
  "social.followed": ["notify"],
  "content.course.published": ["notify", "progress"],
  "content.lesson.deleted": ["progress"],
  "progress.lesson.completed": ["notify", "progress"],
  "progress.course.completed": ["notify", "progress"],
  "progress.achievement.unlocked": ["notify"],
  "progress.streak.reminder_due": ["notify"],
  "progress.review.due": ["notify"],
  "progress.xapi.recorded": ["progress"],
  "billing.subscription.changed": ["progress"],
  "billing.invoice.paid": ["notify"],
  "billing.invoice.payment_failed": ["notify"],
  "progress.xp.awarded": ["notify"],
  "progress.streak.changed": ["notify"],
  // progress's analytics read model (docs/analytics.md).
  "progress.course.enrolled": ["progress"],
  "progress.attempt.graded": ["progress"],
  "progress.activity.recorded": ["progress"],
  "notify.email.outcome": ["progress"],
  // progress's home summary (GET /me/dashboard): the unread count.
  "notify.inbox.changed": ["progress"],
  "progress.placement.completed": ["users"],
};
