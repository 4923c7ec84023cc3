import type { Context, ServiceSchema } from "moleculer";
import type { Transaction } from "sequelize";
import { PublishedReadCache } from "../lib/published-read-cache";
import { DbMixin } from "../mixins/db.mixin";
import {
  DurableEvents,
  type DurableEventBatchHandlers,
  type DurableEventHandlers,
} from "../mixins/durable-events.mixin";
import type { UnlockedAchievement } from "../models/achievement.model";
import {
  attemptParams,
  type AttemptAnswer,
  type AttemptResult,
  type CompletionResult,
} from "../models/attempt.model";
import type { EnrolledCourse, Enrollment } from "../models/enrollment.model";
import type { DomainEvents, EventEnvelope } from "../models/events.model";
import type { ActivityDay, LeaderboardView, ProgressView } from "../models/progress.model";
import {
  reviewParams,
  type DueCard,
  type ReviewRating,
  type ReviewResult,
} from "../models/review.model";
import { submitAttempt } from "./progress/attempts";
import type { EmitDurable } from "./progress/awards";
import {
  closeLeaderboards,
  leaderboardView,
  openLeaderboards,
  type LeaderboardParams,
} from "./progress/boards";
import { systemClock } from "./progress/clock";
import type {
  Ctx,
  ProgressMethods,
  ProgressSettings,
  ProgressThis,
  ProgressVars,
} from "./progress/context";
import { enroll, myCourses } from "./progress/enrollments";
import type { Leaderboard } from "./progress/leaderboard";
import { myAchievements, myActivity, myProgress, publicStats } from "./progress/learners";
import type { LearnerPublicStats } from "../models/progress.model";
import { completeLesson } from "./progress/lessons";
import { completedLessons } from "./progress/prerequisites";
import { progressMigrations } from "./progress/migrations";
import { repeatRounds, runReminderJob, type ReminderRun } from "./progress/reminders";
import { dueReviews, reviewCard } from "./progress/reviews";
import * as store from "./progress/store";
import { idParam } from "../lib/params";
import { actorOf } from "../lib/auth/guard";
import { configOf } from "../lib/config";
import {
  revokeParams,
  type CertificateSummary,
  type CertificateVerification,
  type CredentialToSign,
} from "../models/certificate.model";
import type { RequestMeta } from "../models/auth.model";
import * as certificates from "./progress/certificates";
import * as analytics from "./progress/analytics";
import * as xapi from "./progress/xapi";
import { lrsAt } from "./progress/lrs";
import type { XapiStatements } from "../models/xapi.model";
import {
  analyticsDaysParam,
  type CourseAnalytics,
  type DailyCount,
  type MailCounts,
  type PlatformAnalytics,
} from "../models/analytics.model";
import type { PublishedCourse } from "../models/course.model";
import {
  placementAnswerParams,
  startPlacementParams,
  type PlacedLevel,
  type PlacementStart,
  type PlacementStep,
} from "../models/placement.model";
import type { AnswerValue } from "../models/progress.model";
import * as placement from "./progress/placement";

/** VC-JOSE-COSE's media type of a credential secured as a JWT. */
const CREDENTIAL_MEDIA_TYPE = "application/vc+jwt";

/** A non-JSON answer: its media type, and a revocation seen at once by anyone who asks again. */
function answerAs(
  ctx: { meta: RequestMeta },
  type: string,
  headers: Record<string, string> = {},
): void {
  ctx.meta.$responseType = type;
  ctx.meta.$responseHeaders = { "Cache-Control": "no-cache", ...headers };
}

/**
 * progress: every learner's learning state — enrollments, graded attempts, XP, streaks,
 * leaderboards, achievements, FSRS reviews and daily activity (the "Learning" table of
 * shared/design/api.md). PostgreSQL (schema "progress") is the truth; Redis holds the
 * leaderboards. Rules: docs/learning-rules.md.
 */

type This = ProgressThis;

/** `durableEvents` is read by the DurableEvents mixin; moleculer's own schema type does not know it. */
type ProgressSchema = ServiceSchema<ProgressSettings, ProgressMethods, ProgressVars, This> & {
  durableEvents: DurableEventHandlers<This>;
  durableEventBatches: DurableEventBatchHandlers<This>;
};

const ProgressService: ProgressSchema = {
  name: "progress",
  mixins: [
    DbMixin({
      schema: store.SCHEMA,
      migrations: progressMigrations,
      sync: false,
    }),
    DurableEvents(),
  ],

  settings: {
    reminderIntervalMs: 5 * 60_000,
  },

  actions: {
    /** The user's data held here, for users' GET /me/export (each service answers for its own). */
    exportData: {
      internal: true,
      params: { userId: { type: "string", min: 1, max: 64 } },
      handler(ctx: Ctx<{ userId: string }>): Promise<Record<string, unknown[]>> {
        return store.exportUser(this, ctx.params.userId);
      },
    },

    /** How many review cards of a learner are due at `at`: notify's digests ask. */
    dueReviewCount: {
      internal: true,
      params: {
        $$strict: true,
        userId: { type: "string", min: 1, max: 64 },
        at: { type: "date", convert: true },
      },
      async handler(ctx: Ctx<{ userId: string; at: Date }>): Promise<{ due: number }> {
        return { due: await store.countDueCards(this, ctx.params.userId, ctx.params.at) };
      },
    },

    /** XP, current streak and achievements of a learner, for users' public profile page. */
    publicStats: {
      internal: true,
      params: { userId: { type: "string", min: 1, max: 64 } },
      handler(ctx: Ctx<{ userId: string }>): Promise<LearnerPublicStats> {
        return publicStats(this, ctx.params.userId);
      },
    },

    /** The learner's completed lessons of a course, for content's view of it (locked, completed). */
    completedLessons: {
      internal: true,
      params: {
        courseId: { type: "string", min: 1, max: 64 },
        userId: { type: "string", min: 1, max: 64 },
      },
      handler(ctx: Ctx<{ courseId: string; userId: string }>): Promise<string[]> {
        const { courseId, userId } = ctx.params;
        return completedLessons({ db: this }, { courseId }, { id: userId });
      },
    },

    enroll: {
      auth: true,
      params: idParam,
      handler(ctx: Ctx<{ id: string }>): Promise<Enrollment> {
        return enroll(this, ctx);
      },
    },

    myCourses: {
      auth: true,
      params: { $$strict: "remove" },
      handler(ctx: Ctx): Promise<EnrolledCourse[]> {
        return myCourses(this, ctx);
      },
    },

    submitAttempt: {
      auth: true,
      params: attemptParams,
      handler(ctx: Ctx<{ id: string; answers: AttemptAnswer[] }>): Promise<AttemptResult> {
        return submitAttempt(this, ctx);
      },
    },

    completeLesson: {
      auth: true,
      params: idParam,
      handler(ctx: Ctx<{ id: string }>): Promise<CompletionResult> {
        return completeLesson(this, ctx);
      },
    },

    myProgress: {
      auth: true,
      params: { $$strict: "remove" },
      handler(ctx: Ctx): Promise<ProgressView> {
        return myProgress(this, ctx);
      },
    },

    myAchievements: {
      auth: true,
      params: { $$strict: "remove" },
      handler(ctx: Ctx): Promise<UnlockedAchievement[]> {
        return myAchievements(this, ctx);
      },
    },

    leaderboard: {
      auth: true,
      params: {
        $$strict: true,
        period: { type: "enum", values: ["weekly", "all"], optional: true, default: "weekly" },
        scope: {
          type: "enum",
          values: ["everyone", "following"],
          optional: true,
          default: "everyone",
        },
        limit: {
          type: "number",
          integer: true,
          min: 1,
          max: 100,
          convert: true,
          optional: true,
          default: 10,
        },
      },
      handler(ctx: Ctx<LeaderboardParams>): Promise<LeaderboardView> {
        return leaderboardView(this, ctx);
      },
    },

    dueReviews: {
      auth: true,
      params: {
        $$strict: true,
        limit: {
          type: "number",
          integer: true,
          min: 1,
          max: 500,
          convert: true,
          optional: true,
          default: 100,
        },
      },
      handler(ctx: Ctx<{ limit: number }>): Promise<DueCard[]> {
        return dueReviews(this, ctx);
      },
    },

    review: {
      auth: true,
      params: reviewParams,
      handler(
        ctx: Ctx<{ lessonId: string; cardId: string; rating: ReviewRating }>,
      ): Promise<ReviewResult> {
        return reviewCard(this, ctx);
      },
    },

    myActivity: {
      auth: true,
      params: {
        $$strict: true,
        days: {
          type: "number",
          integer: true,
          min: 1,
          max: 366,
          convert: true,
          optional: true,
          default: 90,
        },
      },
      handler(ctx: Ctx<{ days: number }>): Promise<ActivityDay[]> {
        return myActivity(this, ctx);
      },
    },

    myCertificates: {
      auth: true,
      params: { $$strict: "remove" },
      handler(ctx: Ctx): Promise<CertificateSummary[]> {
        return certificates.myCertificates(this.certificates, actorOf(ctx).id);
      },
    },

    /** Public: the verification page's data; ids are random UUIDs (security.md 31). */
    certificate: {
      params: idParam,
      handler(ctx: Ctx<{ id: string }>): Promise<CertificateVerification> {
        return certificates.verifyCertificate(this.certificates, ctx.params.id);
      },
    },

    certificatePdf: {
      params: idParam,
      async handler(ctx: Ctx<{ id: string }>): Promise<Buffer> {
        const pdf = await certificates.printCertificate(this.certificates, ctx.params.id);
        answerAs(ctx, "application/pdf", {
          "Content-Disposition": `inline; filename="certificate-${ctx.params.id}.pdf"`,
        });
        return pdf;
      },
    },

    certificateCredential: {
      params: idParam,
      async handler(ctx: Ctx<{ id: string }>): Promise<string> {
        const jws = await certificates.signedCredential(this.certificates, ctx.params.id, ctx);
        answerAs(ctx, CREDENTIAL_MEDIA_TYPE);
        return jws;
      },
    },

    revocationList: {
      params: { $$strict: true },
      async handler(ctx: Ctx): Promise<string> {
        const jws = await certificates.signedRevocationList(this.certificates, ctx);
        answerAs(ctx, CREDENTIAL_MEDIA_TYPE);
        return jws;
      },
    },

    revokeCertificate: {
      roles: ["admin"],
      params: revokeParams,
      handler(ctx: Ctx<{ id: string; reason: string }>): Promise<CertificateVerification> {
        return certificates.revokeCertificate(this.certificates, ctx.params);
      },
    },

    courseAnalytics: {
      roles: ["author"],
      params: idParam,
      handler(ctx: Ctx<{ id: string }>): Promise<CourseAnalytics> {
        return analytics.courseAnalytics(this.analytics, ctx.params.id, actorOf(ctx), ctx);
      },
    },

    platformAnalytics: {
      roles: ["admin"],
      params: { $$strict: true, days: analyticsDaysParam },
      handler(ctx: Ctx<{ days: number }>): Promise<PlatformAnalytics> {
        return analytics.platformAnalytics(this.analytics, ctx.params.days, ctx);
      },
    },

    myXapi: {
      auth: true,
      params: {
        $$strict: true,
        since: { type: "date", convert: true, optional: true },
      },
      handler(ctx: Ctx<{ since?: Date }>): Promise<XapiStatements> {
        return xapi.myStatements(this.xapi, actorOf(ctx).id, ctx.params.since ?? new Date(0));
      },
    },

    startPlacement: {
      auth: true,
      params: startPlacementParams,
      handler(ctx: Ctx): Promise<PlacementStart> {
        return placement.startPlacement(placement.placementDeps(this, ctx), {}, actorOf(ctx));
      },
    },

    answerPlacement: {
      auth: true,
      params: placementAnswerParams,
      handler(
        ctx: Ctx<{ id: string; questionId: string; value: AnswerValue }>,
      ): Promise<PlacementStep> {
        return placement.answerPlacement(
          placement.placementDeps(this, ctx),
          ctx.params,
          actorOf(ctx),
        );
      },
    },

    /** The learner's latest placed level (null before any), for what suggests a course at it. */
    placedLevel: {
      internal: true,
      params: { userId: { type: "string", min: 1, max: 64 } },
      handler(ctx: Ctx<{ userId: string }>): Promise<PlacedLevel | null> {
        return placement.latestPlacement({ db: this }, {}, { id: ctx.params.userId });
      },
    },

    /** Operators (REPL) and tests run a reminder round now; the timer does it every few minutes. */
    runStreakReminders: {
      internal: true,
      params: { $$strict: true, at: { type: "date", convert: true, optional: true } },
      handler(ctx: Context<{ at?: Date }>): Promise<ReminderRun> {
        return this.runStreakReminders(ctx.params.at);
      },
    },
  },

  durableEvents: {
    // Sent inside the consumer's transaction: a failure rolls back and the event is retried.
    async "progress.xapi.recorded"(
      this: This,
      event: EventEnvelope<"progress.xapi.recorded">,
      t: Transaction,
    ) {
      await xapi.sendRecorded(this.xapi, event.data, t);
    },
    async "user.created"(this: This, event: EventEnvelope<"user.created">, t: Transaction) {
      const { userId, name, timezone, sequence } = event.data;
      await store.upsertLearner(this, userId, { name, timezone, sequence }, t);
    },
    async "user.updated"(this: This, event: EventEnvelope<"user.updated">, t: Transaction) {
      const { userId, name, timezone, sequence } = event.data;
      await store.upsertLearner(this, userId, { name, timezone, sequence }, t);
      // Rewriting a name twice is harmless, so the board may be told before the commit —
      // without holding the transaction for the round trip (one Redis connection keeps the
      // renames of a learner in order).
      void this.board()
        .rename(userId, name)
        .catch((err: Error) =>
          this.logger.warn(`leaderboard name of ${userId} not updated: ${err.message}`),
        );
    },
    async "user.deleted"(this: This, event: EventEnvelope<"user.deleted">, t: Transaction) {
      await store.eraseUser(this, event.data.userId, t);
      await store.erasePremium(this, event.data.userId, t);
      // Throws when Redis is down: the event is redelivered and erasure retried.
      await this.board().remove(event.data.userId);
    },
    async "content.lesson.deleted"(
      this: This,
      event: EventEnvelope<"content.lesson.deleted">,
      t: Transaction,
    ) {
      await store.dropLesson(this, event.data.lessonId, t);
    },
    async "content.course.published"(
      this: This,
      event: EventEnvelope<"content.course.published">,
      t: Transaction,
    ) {
      // No call to content inside the transaction: the lesson list is fetched on next use.
      const { courseId, version, title, level } = event.data;
      await store.markCoursePublished(this, { courseId, version, title, level }, t);
    },
    async "billing.subscription.changed"(
      this: This,
      event: EventEnvelope<"billing.subscription.changed">,
      t: Transaction,
    ) {
      const { userId, premium, sequence } = event.data;
      await store.savePremium(this, { userId, premium, sequence }, t);
    },
  },

  // The same effects as durableEvents for a run of events in one consumer transaction.
  durableEventBatches: {
    async "user.updated"(this: This, events: EventEnvelope<"user.updated">[], t: Transaction) {
      await store.upsertLearnerNames(
        this,
        events.map(e => e.data),
        t,
      );
      for (const { data } of events)
        void this.board()
          .rename(data.userId, data.name)
          .catch((err: Error) =>
            this.logger.warn(`leaderboard name of ${data.userId} not updated: ${err.message}`),
          );
    },
  },

  events: {
    // Content committed a change (published, edited, deleted): our copy of its reads goes.
    "cache.clean.content"() {
      this.contentCopy?.clear();
    },
    // Users committed a change to an account (it broadcasts this, as content does).
    "cache.clean.users"() {
      this.usersCopy?.clear();
    },
  },

  methods: {
    now(): Date {
      return this.clock();
    },

    emitter(ctx?: Context): EmitDurable {
      return async (type, data, t) => {
        // events.md: a per-aggregate version in every event — here the learner's, bumped
        // in the event's own transaction (the row lock orders a learner's events as they commit).
        const sequence = await store.nextEventSequence(this, data.userId, t);
        await this.emitDurable(type, { ...data, sequence } as DomainEvents[typeof type], {
          transaction: t,
          ctx,
        });
      };
    },

    board(): Leaderboard {
      return this.leaderboard;
    },

    async runStreakReminders(at?: Date): Promise<ReminderRun> {
      const run = await runReminderJob(this, this.emitter(), at ?? this.now(), fn =>
        this.withTransaction(fn),
      );
      if (run.reminded.length > 0)
        this.logger.info(`streak reminders due for ${run.reminded.length} learner(s)`);
      return run;
    },
  },

  created() {
    this.clock = systemClock;
    // Here, not in started: the durable consumers (a mixin's started) may deliver before it.
    const cfg = configOf(this.broker);
    this.xapi = {
      db: this,
      publicUrl: cfg.publicUrl,
      lrs: cfg.xapiLrsUrl ? lrsAt(cfg.xapiLrsUrl) : undefined,
    };
    this.contentCopy = new PublishedReadCache({ ttlMs: 30_000, maxEntries: 2000 });
    this.usersCopy = new PublishedReadCache({ ttlMs: 30_000, maxEntries: 10_000 });
  },

  async started() {
    this.certificates = {
      db: this,
      withTransaction: fn => this.withTransaction(fn),
      now: () => this.now(),
      publicUrl: configOf(this.broker).publicUrl,
      printed: new PublishedReadCache({ ttlMs: 10 * 60_000, maxEntries: 200 }),
      sign: (credential, caller) =>
        caller.call<string, CredentialToSign>("users.signCredential", { credential }),
    };
    this.analytics = {
      db: this,
      now: () => this.now(),
      publishedCourse: (id, caller) =>
        caller.call<PublishedCourse | null, { id: string }>("content.publishedCourse", { id }),
      registrations: (days, caller) =>
        caller.call<DailyCount[], { days: number }>("users.registrationsByDay", { days }),
      mailCounts: (days, caller) =>
        caller.call<MailCounts, { days: number }>("notify.mailCounts", { days }),
    };
    openLeaderboards(this);
    this.stopReminders = repeatRounds(this.settings.reminderIntervalMs, () => {
      this.runStreakReminders().catch((err: Error) =>
        this.logger.warn(`streak reminder round failed: ${err.message}`),
      );
    });
  },

  async stopped() {
    this.stopReminders?.();
    await closeLeaderboards(this);
  },
};

export default ProgressService;
