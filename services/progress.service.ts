import type { ServiceSchema } from "moleculer";
import { Transaction } from "sequelize";
import { PublishedReadCache } from "../lib/published-read-cache";
import { DbMixin } from "../mixins/db.mixin";
import {
  DurableEvents,
  type DurableEventBatchHandlers,
  type DurableEventHandlers,
} from "../mixins/durable-events.mixin";
import type { UnlockedAchievement } from "../models/achievement.model";
import { attemptParams, type AttemptResult, type CompletionResult } from "../models/attempt.model";
import type { EnrolledCourse, Enrollment } from "../models/enrollment.model";
import type { DomainEvents, EventEnvelope } from "../models/events.model";
import {
  leaderboardParams,
  type ActivityDay,
  type LeaderboardView,
  type LearnerHomeAnswer,
  type ProgressView,
} from "../models/progress.model";
import { reviewParams, type DueCard, type ReviewResult } from "../models/review.model";
import { submitAttempt } from "./progress/attempts";
import { closeLeaderboards, leaderboardView, openLeaderboards } from "./progress/boards";
import { systemClock } from "./progress/clock";
import { collectEvents } from "./progress/event-batch";
import type { Caller } from "./progress/deps";
import type {
  Ctx,
  ProgressMethods,
  ProgressSettings,
  ProgressThis,
  ProgressVars,
} from "./progress/context";
import { enroll, myCourses } from "./progress/enrollments";
import { learnerHome, refreshHome } from "./progress/home";
import { myAchievements, myActivity, myProgress, publicStats } from "./progress/learners";
import type { LearnerPublicStats } from "../models/progress.model";
import {
  HOMES_CHANGED_EVENT,
  LEARNER_CHANGED_EVENT,
  type LearnerChanged,
} from "../models/progress.model";
import { completeLesson } from "./progress/lessons";
import { completedLessons } from "./progress/prerequisites";
import { learnerChanges } from "./progress/learner-changes";
import { progressMigrations } from "./progress/migrations";
import { repeatRounds, runReminderJob, type ReminderRun } from "./progress/reminders";
import { dueReviews, reviewCard } from "./progress/reviews";
import * as skills from "./progress/skills";
import * as practice from "./progress/practice";
import { whatNext } from "./progress/next";
import {
  practiceParams,
  type NextStep,
  type PracticeQuiz,
  type SkillMastery,
} from "../models/skill.model";
import * as store from "./progress/store";
import { idParam, type IdInput } from "../lib/params";
import type { ParamsOf } from "../lib/params-of";
import { actorOf } from "../lib/auth/guard";
import { configOf } from "../lib/config";
import {
  CERTIFICATES_CHANGED_EVENT,
  revokeParams,
  type CertificateSummary,
  type CertificateVerification,
  type CredentialToSign,
} from "../models/certificate.model";
import type { RequestMeta } from "../models/auth.model";
import * as certificates from "./progress/certificates";
import * as analytics from "./progress/analytics";
import * as feed from "./progress/analytics-feed";
import {
  countLearningEvent,
  registerLearningMetrics,
  setActiveLearners,
} from "./progress/learning-metrics";
import * as xapi from "./progress/xapi";
import { lrsAt } from "./progress/lrs";
import type { XapiStatements } from "../models/xapi.model";
import {
  analyticsDaysParam,
  type AccountCreated,
  type CourseAnalytics,
  type MailOutcomes,
  type PlatformAnalytics,
  type RebuiltAnalytics,
} from "../models/analytics.model";
import type { CourseCard, ListCoursesInput, Page, PublishedCourse } from "../models/course.model";
import {
  placementAnswerParams,
  startPlacementParams,
  type PlacedLevel,
  type PlacementStart,
  type PlacementStep,
} from "../models/placement.model";
import * as placement from "./progress/placement";

const REPEATABLE_READ = Transaction.ISOLATION_LEVELS.REPEATABLE_READ;

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

/** An internal action's learner (another service asks about them). */
const userIdParams = { userId: { type: "string", min: 1, max: 64 } } as const;
const dueReviewCountParams = {
  $$strict: true,
  userId: { type: "string", min: 1, max: 64 },
  at: { type: "date", convert: true },
} as const;
const completedLessonsParams = {
  courseId: { type: "string", min: 1, max: 64 },
  userId: { type: "string", min: 1, max: 64 },
} as const;
const dueReviewsParams = {
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
} as const;
const myActivityParams = {
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
} as const;
const platformAnalyticsParams = { $$strict: true, days: analyticsDaysParam } as const;
const myXapiParams = {
  $$strict: true,
  since: { type: "date", convert: true, optional: true },
} as const;
const runStreakRemindersParams = {
  $$strict: true,
  at: { type: "date", convert: true, optional: true },
} as const;

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
      params: userIdParams,
      handler(ctx: Ctx<ParamsOf<typeof userIdParams>>): Promise<Record<string, unknown[]>> {
        return store.exportUser(this.deps.db, ctx.params.userId);
      },
    },

    /** How many review cards of a learner are due at `at`: notify's digests ask. */
    dueReviewCount: {
      internal: true,
      params: dueReviewCountParams,
      async handler(ctx: Ctx<ParamsOf<typeof dueReviewCountParams>>): Promise<{ due: number }> {
        return { due: await store.countDueCards(this.deps.db, ctx.params.userId, ctx.params.at) };
      },
    },

    /** XP, current streak and achievements of a learner, for users' public profile page. */
    publicStats: {
      internal: true,
      params: userIdParams,
      handler(ctx: Ctx<ParamsOf<typeof userIdParams>>): Promise<LearnerPublicStats> {
        return publicStats(this.deps, ctx.params.userId);
      },
    },

    /** The learner's completed lessons of a course, for content's view of it (locked, completed). */
    completedLessons: {
      internal: true,
      params: completedLessonsParams,
      handler(ctx: Ctx<ParamsOf<typeof completedLessonsParams>>): Promise<string[]> {
        const { courseId, userId } = ctx.params;
        return completedLessons(this.deps, { courseId }, { id: userId });
      },
    },

    enroll: {
      auth: true,
      params: idParam,
      handler(ctx: Ctx<IdInput>): Promise<Enrollment> {
        return enroll(this.deps, ctx.params, actorOf(ctx), ctx);
      },
    },

    myCourses: {
      auth: true,
      params: { $$strict: "remove" },
      handler(ctx: Ctx): Promise<EnrolledCourse[]> {
        return myCourses(this.deps, actorOf(ctx), ctx);
      },
    },

    submitAttempt: {
      auth: true,
      params: attemptParams,
      async handler(ctx: Ctx<ParamsOf<typeof attemptParams>>): Promise<AttemptResult> {
        // A practice quiz's id grades that quiz (POST /me/practice); any other id is a lesson's.
        const quiz = await practice.practiceQuizOf(this.deps, ctx.params.id, actorOf(ctx));
        if (quiz) return practice.gradePractice(this.deps, ctx.params, actorOf(ctx), ctx, quiz);
        return submitAttempt(this.deps, ctx.params, actorOf(ctx), ctx);
      },
    },

    completeLesson: {
      auth: true,
      params: idParam,
      handler(ctx: Ctx<IdInput>): Promise<CompletionResult> {
        return completeLesson(this.deps, ctx.params, actorOf(ctx), ctx);
      },
    },

    myProgress: {
      auth: true,
      params: { $$strict: "remove" },
      handler(ctx: Ctx): Promise<ProgressView> {
        return myProgress(this.deps, actorOf(ctx), ctx);
      },
    },

    /** The gateway's GET /me/dashboard: every part progress answers, from the learner's home summary. */
    home: {
      auth: true,
      internal: true,
      params: { $$strict: "remove" },
      handler(ctx: Ctx): Promise<LearnerHomeAnswer> {
        return learnerHome(this.deps, actorOf(ctx), ctx);
      },
    },

    myAchievements: {
      auth: true,
      params: { $$strict: "remove" },
      handler(ctx: Ctx): Promise<UnlockedAchievement[]> {
        return myAchievements(this.deps, actorOf(ctx));
      },
    },

    leaderboard: {
      auth: true,
      params: leaderboardParams,
      handler(ctx: Ctx<ParamsOf<typeof leaderboardParams>>): Promise<LeaderboardView> {
        return leaderboardView(this.deps, ctx.params, actorOf(ctx), ctx);
      },
    },

    dueReviews: {
      auth: true,
      params: dueReviewsParams,
      handler(ctx: Ctx<ParamsOf<typeof dueReviewsParams>>): Promise<DueCard[]> {
        return dueReviews(this.deps, ctx.params, actorOf(ctx), ctx);
      },
    },

    review: {
      auth: true,
      params: reviewParams,
      handler(ctx: Ctx<ParamsOf<typeof reviewParams>>): Promise<ReviewResult> {
        return reviewCard(this.deps, ctx.params, actorOf(ctx), ctx);
      },
    },

    myActivity: {
      auth: true,
      params: myActivityParams,
      handler(ctx: Ctx<ParamsOf<typeof myActivityParams>>): Promise<ActivityDay[]> {
        return myActivity(this.deps, ctx.params, actorOf(ctx), ctx);
      },
    },

    mySkills: {
      auth: true,
      params: { $$strict: "remove" },
      handler(ctx: Ctx): Promise<SkillMastery[]> {
        return skills.mySkills(this.deps, actorOf(ctx));
      },
    },

    whatNext: {
      auth: true,
      params: { $$strict: "remove" },
      handler(ctx: Ctx): Promise<NextStep[]> {
        return whatNext(this.deps, actorOf(ctx), ctx);
      },
    },

    startPractice: {
      auth: true,
      params: practiceParams,
      handler(ctx: Ctx<ParamsOf<typeof practiceParams>>): Promise<PracticeQuiz> {
        return practice.startPractice(this.deps, ctx.params, actorOf(ctx), ctx);
      },
    },

    myCertificates: {
      auth: true,
      params: { $$strict: "remove" },
      handler(ctx: Ctx): Promise<CertificateSummary[]> {
        return certificates.myCertificates(this.deps, actorOf(ctx).id);
      },
    },

    /** Public: the verification page's data; ids are random UUIDs (security.md 31). */
    certificate: {
      params: idParam,
      handler(ctx: Ctx<IdInput>): Promise<CertificateVerification> {
        return certificates.verifyCertificate(this.deps, ctx.params.id);
      },
    },

    certificatePdf: {
      params: idParam,
      async handler(ctx: Ctx<IdInput>): Promise<Buffer> {
        const pdf = await certificates.printCertificate(this.deps, ctx.params.id);
        answerAs(ctx, "application/pdf", {
          "Content-Disposition": `inline; filename="certificate-${ctx.params.id}.pdf"`,
        });
        return pdf;
      },
    },

    certificateCredential: {
      params: idParam,
      async handler(ctx: Ctx<IdInput>): Promise<string> {
        const jws = await certificates.signedCredential(this.deps, ctx.params.id, ctx);
        answerAs(ctx, CREDENTIAL_MEDIA_TYPE);
        return jws;
      },
    },

    revocationList: {
      params: { $$strict: true },
      async handler(ctx: Ctx): Promise<string> {
        const jws = await certificates.signedRevocationList(this.deps, ctx);
        answerAs(ctx, CREDENTIAL_MEDIA_TYPE);
        return jws;
      },
    },

    revokeCertificate: {
      roles: ["admin"],
      params: revokeParams,
      handler(ctx: Ctx<ParamsOf<typeof revokeParams>>): Promise<CertificateVerification> {
        return certificates.revokeCertificate(this.deps, ctx.params, ctx);
      },
    },

    courseAnalytics: {
      roles: ["author"],
      params: idParam,
      handler(ctx: Ctx<IdInput>): Promise<CourseAnalytics> {
        return analytics.courseAnalytics(this.deps, { courseId: ctx.params.id }, actorOf(ctx), ctx);
      },
    },

    platformAnalytics: {
      roles: ["admin"],
      params: platformAnalyticsParams,
      handler(ctx: Ctx<ParamsOf<typeof platformAnalyticsParams>>): Promise<PlatformAnalytics> {
        return analytics.platformAnalytics(this.deps, ctx.params);
      },
    },

    /** Operators (REPL: `call progress.rebuildAnalytics`): the read model recomputed from the tables. */
    rebuildAnalytics: {
      internal: true,
      roles: ["admin"],
      params: { $$strict: true },
      handler(ctx: Ctx): Promise<RebuiltAnalytics> {
        return analytics.rebuildAnalytics(this.deps, ctx);
      },
    },

    myXapi: {
      auth: true,
      params: myXapiParams,
      handler(ctx: Ctx<ParamsOf<typeof myXapiParams>>): Promise<XapiStatements> {
        return xapi.myStatements(this.deps, actorOf(ctx).id, ctx.params.since ?? new Date(0));
      },
    },

    startPlacement: {
      auth: true,
      params: startPlacementParams,
      handler(ctx: Ctx<ParamsOf<typeof startPlacementParams>>): Promise<PlacementStart> {
        return placement.startPlacement(this.deps, {}, actorOf(ctx), ctx);
      },
    },

    answerPlacement: {
      auth: true,
      params: placementAnswerParams,
      handler(ctx: Ctx<ParamsOf<typeof placementAnswerParams>>): Promise<PlacementStep> {
        return placement.answerPlacement(this.deps, ctx.params, actorOf(ctx), ctx);
      },
    },

    /** The learner's latest placed level (null before any), for what suggests a course at it. */
    placedLevel: {
      internal: true,
      params: userIdParams,
      handler(ctx: Ctx<ParamsOf<typeof userIdParams>>): Promise<PlacedLevel | null> {
        return placement.latestPlacement(this.deps, {}, { id: ctx.params.userId });
      },
    },

    /** Operators (REPL) and tests run a reminder round now; the timer does it every few minutes. */
    runStreakReminders: {
      internal: true,
      params: runStreakRemindersParams,
      handler(ctx: Ctx<ParamsOf<typeof runStreakRemindersParams>>): Promise<ReminderRun> {
        return this.runStreakReminders(ctx.params.at);
      },
    },
  },

  durableEvents: {
    // Sent inside the consumer's transaction: a failure rolls back and the event is retried.
    async "progress.xapi.recorded"(event: EventEnvelope<"progress.xapi.recorded">, t: Transaction) {
      await xapi.sendRecorded(this.deps, event.data, t);
    },
    async "user.created"(event: EventEnvelope<"user.created">, t: Transaction) {
      const { userId, name, timezone, sequence } = event.data;
      await store.upsertLearner(this.deps.db, userId, { name, timezone, sequence }, t);
      await feed.registered(this.deps, event, t);
      countLearningEvent(this.broker, event);
    },
    async "user.updated"(event: EventEnvelope<"user.updated">, t: Transaction) {
      const { userId, name, timezone, sequence } = event.data;
      await store.upsertLearner(this.deps.db, userId, { name, timezone, sequence }, t);
      await store.staleHomesOf(this.deps.db, [userId], t);
      this.deps.learnersChanged(t, [userId]);
      // Rewriting a name twice is harmless, so the board may be told before the commit —
      // without holding the transaction for the round trip (one Redis connection keeps the
      // renames of a learner in order).
      void this.deps
        .board()
        .rename([{ userId, name }])
        .catch((err: Error) =>
          this.logger.warn(`leaderboard name of ${userId} not updated: ${err.message}`),
        );
    },
    async "user.deleted"(event: EventEnvelope<"user.deleted">, t: Transaction) {
      await feed.erased(this.deps, event.data.userId, t);
      await store.eraseUser(this.deps.db, event.data.userId, t);
      this.deps.learnersChanged(t, [event.data.userId]);
      await store.erasePremium(this.deps.db, event.data.userId, t);
      // Their certificates went with them: no gateway may still verify one.
      t.afterCommit(() =>
        this.deps
          .certificatesChanged()
          .catch((err: Error) =>
            this.logger.warn(`certificates of ${event.data.userId} not cleared: ${err.message}`),
          ),
      );
      // Throws when Redis is down: the event is redelivered and erasure retried.
      await this.deps.board().remove(event.data.userId);
    },
    async "content.lesson.deleted"(event: EventEnvelope<"content.lesson.deleted">, t: Transaction) {
      await store.dropLesson(this.deps.db, event.data.lessonId, t);
      await store.staleHomesOfCourse(this.deps.db, event.data.courseId, t);
      this.deps.homesChanged(t);
    },
    async "content.course.published"(
      event: EventEnvelope<"content.course.published">,
      t: Transaction,
    ) {
      // No call to content inside the transaction: the lesson list is fetched on next use.
      const { courseId, version, title, level } = event.data;
      await store.markCoursePublished(this.deps.db, { courseId, version, title, level }, t);
      await store.staleHomesOfCourse(this.deps.db, courseId, t);
      this.deps.homesChanged(t);
    },
    async "billing.subscription.changed"(
      event: EventEnvelope<"billing.subscription.changed">,
      t: Transaction,
    ) {
      const { userId, premium, sequence } = event.data;
      await store.savePremium(this.deps.db, { userId, premium, sequence }, t);
    },
    // The analytics read model (docs/analytics.md).
    async "progress.course.enrolled"(event, t) {
      await feed.enrolled(this.deps, event.data, t);
      await refreshHome(this.deps, event.data.userId, t);
      countLearningEvent(this.broker, event);
    },
    async "progress.attempt.graded"(event, t) {
      await feed.attemptsGraded(this.deps, [event.data], t);
      countLearningEvent(this.broker, event);
    },
    async "progress.lesson.completed"(event, t) {
      await feed.lessonCompleted(this.deps, event.data, t);
      await refreshHome(this.deps, event.data.userId, t);
      countLearningEvent(this.broker, event);
    },
    async "progress.course.completed"(event, t) {
      await feed.courseCompleted(this.deps, event.data, t);
      await refreshHome(this.deps, event.data.userId, t);
      countLearningEvent(this.broker, event);
    },
    // Every award (an attempt, a completion, a review) ends with this event: the home summary follows.
    async "progress.activity.recorded"(event, t) {
      await feed.activityRecorded(this.deps, event.data, t);
      await refreshHome(this.deps, event.data.userId, t);
    },
    async "notify.email.outcome"(event, t) {
      await feed.mailOutcome(this.deps, event.data, t);
      countLearningEvent(this.broker, event);
    },
    async "notify.inbox.changed"(event, t) {
      await store.saveUnreadCount(this.deps.db, event.data, t);
      this.deps.learnersChanged(t, [event.data.userId]);
    },
  },

  // The same effects as durableEvents for a run of events in one consumer transaction.
  durableEventBatches: {
    async "progress.attempt.graded"(events, t) {
      await feed.attemptsGraded(
        this.deps,
        events.map(e => e.data),
        t,
      );
      for (const event of events) countLearningEvent(this.broker, event);
    },
    async "user.updated"(events: EventEnvelope<"user.updated">[], t: Transaction) {
      await store.upsertLearnerNames(
        this.deps.db,
        events.map(e => e.data),
        t,
      );
      const renamed = events.map(e => e.data.userId);
      await store.staleHomesOf(this.deps.db, renamed, t);
      this.deps.learnersChanged(t, renamed);
      void this.deps
        .board()
        .rename(events.map(({ data }) => ({ userId: data.userId, name: data.name })))
        .catch((err: Error) =>
          this.logger.warn(
            `leaderboard names of ${events.length} learners not updated: ${err.message}`,
          ),
        );
    },
  },

  events: {
    // Content committed a change (published, edited, deleted): our copy of its reads goes.
    "cache.clean.content"() {
      this.deps.contentCopy?.clear();
    },
    // Users committed a change to an account (it broadcasts this, as content does).
    "cache.clean.users"() {
      this.deps.usersCopy?.clear();
    },
  },

  methods: {
    now(): Date {
      return this.clock();
    },

    async runStreakReminders(at?: Date): Promise<ReminderRun> {
      const { db, emitter, withTransaction } = this.deps;
      const run = await runReminderJob(db, emitter(), at ?? this.now(), withTransaction);
      if (run.reminded.length > 0)
        this.logger.info(`streak reminders due for ${run.reminded.length} learner(s)`);
      return run;
    },
  },

  created() {
    this.clock = systemClock;
    // Before the durable consumers start (a mixin's started): their events move these counters.
    registerLearningMetrics(this.broker);
    // Here, not in started: the durable consumers (a mixin's started) may deliver before it.
    const cfg = configOf(this.broker);
    // Another service's action, called for `caller`'s request (its id travels along).
    const call = <T, P extends object>(
      action: string,
      params: P,
      caller?: Caller,
      timeout?: number,
    ): Promise<T> =>
      this.broker.call<T, P>(action, params, {
        ...(timeout ? { timeout } : {}),
        ...(caller?.requestID ? { requestID: caller.requestID } : {}),
      });
    // The gateways' copies of progress's answers: every node of the api group is told.
    const toGateways = (event: string, payload: object, caller?: Caller): Promise<void> =>
      this.broker.broadcast(event, payload, {
        groups: ["api"],
        ...(caller?.requestID ? { requestID: caller.requestID } : {}),
      });
    const learnersChanged = learnerChanges((userId, caller) => {
      const change: LearnerChanged = { userId };
      return toGateways(LEARNER_CHANGED_EVENT, change, caller);
    }, this.logger);
    this.deps = {
      db: this,
      withTransaction: fn => this.withTransaction(fn),
      now: () => this.now(),
      emitter: caller => async (type, data, t) => {
        // events.md: a per-aggregate version in every event — here the learner's, bumped
        // in the event's own transaction (the row lock orders a learner's events as they commit).
        const sequence = await store.nextEventSequence(this, data.userId, t);
        await this.emitDurable(type, { ...data, sequence } as DomainEvents[typeof type], {
          transaction: t,
          ctx: caller,
        });
        learnersChanged(t, [data.userId], caller);
      },
      eventBatch: caller =>
        collectEvents(this, {
          envelope: (type, data) => this.durableEnvelope(type, data, caller),
          write: (envelopes, t) =>
            this.emitDurableEnvelopes(envelopes, { transaction: t, ctx: caller }),
          changed: (userIds, t) => learnersChanged(t, userIds, caller),
        }),
      board: () => this.leaderboard,
      sqlBoard: () => this.sqlLeaderboard,
      content: {
        lessonForGrading: (lessonId, caller) =>
          call("content.lessonForGrading", { lessonId }, caller),
        courseOutline: (courseId, caller) => call("content.courseOutline", { courseId }, caller),
        coursesByIds: (ids, caller) => call("content.coursesByIds", { ids }, caller),
        catalogueAt: async (level, caller) =>
          (
            await call<Page<CourseCard>, ListCoursesInput>(
              "content.listCourses",
              { level, page: 1, pageSize: 20 },
              caller,
            )
          ).rows,
        placementBank: caller => call("content.placementBank", {}, caller),
      },
      users: {
        profiles: (ids, timeout, caller) => call("users.profiles", { ids }, caller, timeout),
        followingIds: (userId, caller) => call("users.followingIds", { userId }, caller, 3000),
      },
      notify: {
        unreadCount: async caller =>
          (
            await this.broker.call<{ unread: number }, Record<string, never>>(
              "notify.unreadCount",
              {},
              {
                // Within the dashboard's 300 ms for a part.
                timeout: 200,
                meta: { user: caller.meta.user },
                ...(caller.requestID ? { requestID: caller.requestID } : {}),
              },
            )
          ).unread,
      },
      contentCopy: new PublishedReadCache({ ttlMs: 30_000, maxEntries: 2000 }),
      usersCopy: new PublishedReadCache({ ttlMs: 30_000, maxEntries: 10_000 }),
      learnersChanged,
      homesChanged: t =>
        t.afterCommit(() =>
          toGateways(HOMES_CHANGED_EVENT, {}).catch((err: Error) =>
            this.logger.warn(`gateways not told of homes: ${err.message}`),
          ),
        ),
      certificatesChanged: caller => toGateways(CERTIFICATES_CHANGED_EVENT, {}, caller),
      publicUrl: cfg.publicUrl,
      lrs: cfg.xapiLrsUrl ? lrsAt(cfg.xapiLrsUrl) : undefined,
      printed: new PublishedReadCache({ ttlMs: 10 * 60_000, maxEntries: 200 }),
      sign: (credential, caller) =>
        call<string, CredentialToSign>("users.signCredential", { credential }, caller),
      publishedCourse: (id, caller) =>
        call<PublishedCourse | null, { id: string }>("content.publishedCourse", { id }, caller),
      withSnapshot: fn => this.sequelize.transaction({ isolationLevel: REPEATABLE_READ }, fn),
      accounts: (page, caller) =>
        call<AccountCreated[], typeof page>("users.accountsCreated", page, caller),
      mailOutcomes: (page, caller) =>
        call<MailOutcomes[], typeof page>("notify.mailOutcomes", page, caller),
      logger: this.logger,
    };
  },

  async started() {
    ({ leaderboard: this.leaderboard, sqlLeaderboard: this.sqlLeaderboard } = openLeaderboards(
      this.broker,
      this.deps.db,
      this.logger,
    ));
    this.stopActiveGauges = repeatRounds(60_000, () => {
      analytics.activeLearners(this.deps).then(
        active => setActiveLearners(this.broker, active),
        (err: Error) => this.logger.warn(`active learner gauges not set: ${err.message}`),
      );
    });
    this.stopReminders = repeatRounds(this.settings.reminderIntervalMs, () => {
      this.runStreakReminders().catch((err: Error) =>
        this.logger.warn(`streak reminder round failed: ${err.message}`),
      );
    });
  },

  async stopped() {
    this.stopReminders?.();
    this.stopActiveGauges?.();
    await closeLeaderboards(this.broker, this.leaderboard);
  },
};

export default ProgressService;
