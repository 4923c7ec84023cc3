import crypto from "node:crypto";
import { Errors, type Context, type ServiceSchema } from "moleculer";
import type { Transaction } from "sequelize";
import { DataTypes } from "sequelize";
import { configOf } from "../lib/config";
import { registerHealthCheck, unregisterHealthCheck } from "../lib/health";
import { createRedis } from "../lib/redis";
import { DbMixin, type DbServiceThis } from "../mixins/db.mixin";
import {
  DurableEvents,
  type DurableEventHandlers,
  type DurableEventsMethods,
} from "../mixins/durable-events.mixin";
import type { UnlockedAchievement } from "../models/achievement.model";
import {
  attemptParams,
  type AttemptAnswer,
  type AttemptResult,
  type CompletionResult,
} from "../models/attempt.model";
import type { RequestMeta } from "../models/auth.model";
import type { EnrolledCourse, Enrollment } from "../models/enrollment.model";
import type { EventEnvelope } from "../models/events.model";
import type {
  ActivityDay,
  CourseOutline,
  LeaderboardPeriod,
  LeaderboardView,
  ProgressView,
} from "../models/progress.model";
import {
  reviewParams,
  type DueCard,
  type ReviewRating,
  type ReviewResult,
} from "../models/review.model";
import { achievementName } from "./progress/achievements";
import { applyAward, completeLesson, type AwardOutcome, type EmitDurable } from "./progress/awards";
import {
  addDays,
  isoWeek,
  localDate,
  safeTimeZone,
  systemClock,
  type Clock,
} from "./progress/clock";
import { AnswerSheetError, gradeAttempt } from "./progress/grading";
import {
  RedisLeaderboard,
  SqlLeaderboard,
  type Leaderboard,
  type LeaderboardSource,
} from "./progress/leaderboard";
import { progressMigrations } from "./progress/migrations";
import * as remote from "./progress/remote";
import { runReminderJob, type ReminderRun } from "./progress/reminders";
import { newCardState, review } from "./progress/srs";
import * as store from "./progress/store";
import { settle } from "./progress/streaks";
import { attemptXp, completionXp, reviewXp } from "./progress/xp";

/**
 * progress: every learner's learning state — enrollments, graded attempts, XP, streaks,
 * leaderboards, achievements, FSRS reviews and daily activity (the "Learning" table of
 * shared/design/api.md). PostgreSQL (schema "progress") is the truth; Redis holds the
 * leaderboards. Rules: docs/learning-rules.md.
 */

const { MoleculerClientError } = Errors;

type Ctx<P = Record<string, never>> = Context<P, RequestMeta>;

interface ProgressSettings {
  /** How often each node tries the streak reminder job (one node does it per round). */
  reminderIntervalMs: number;
}

interface ProgressVars {
  /** Injectable time source: tests set it instead of waiting. */
  clock: Clock;
  leaderboard: Leaderboard;
  sqlLeaderboard: Leaderboard;
  reminderTimer?: NodeJS.Timeout;
}

/** A settled answer of an earlier request with the same Idempotency-Key. */
class Replay extends Error {
  constructor(readonly stored: store.StoredAnswer) {
    super("replay");
  }
}

interface Guarded<T> {
  response: T;
  award?: AwardOutcome;
}

interface ProgressMethods {
  userId(ctx: Ctx<unknown>): string;
  now(): Date;
  emitter(ctx?: Context): EmitDurable;
  ensureLearner(ctx: Context, userId: string): Promise<store.LearnerRow>;
  refreshCourse(ctx: Context, courseId: string, minVersion: number): Promise<void>;
  syncCards(
    ctx: Context,
    userId: string,
    outline: CourseOutline,
    enrollment: store.EnrollmentRow,
    t?: Transaction,
  ): Promise<void>;
  guarded<T>(
    ctx: Ctx<unknown>,
    scope: string,
    body: unknown,
    status: number,
    work: (t: Transaction, learner: store.LearnerRow) => Promise<Guarded<T>>,
  ): Promise<T>;
  replay<T>(ctx: Ctx<unknown>, stored: store.StoredAnswer, hash: string): T;
  publishScores(award: AwardOutcome | undefined): Promise<void>;
  board(): Leaderboard;
  runStreakReminders(now?: Date): Promise<ReminderRun>;
}

type This = DbServiceThis &
  DurableEventsMethods &
  ProgressVars &
  ProgressMethods & { settings: ProgressSettings };

function hashOf(scope: string, body: unknown): string {
  return crypto.createHash("sha256").update(JSON.stringify({ scope, body })).digest("hex");
}

function enrollmentOf(row: store.EnrollmentRow): Enrollment {
  return {
    id: row.id,
    courseId: row.course_id,
    enrolledAt: new Date(row.enrolled_at).toISOString(),
    completedAt: row.completed_at ? new Date(row.completed_at).toISOString() : null,
  };
}

/** `durableEvents` is read by the DurableEvents mixin; moleculer's own schema type does not know it. */
type ProgressSchema = ServiceSchema<ProgressSettings, ProgressMethods, ProgressVars, This> & {
  durableEvents: DurableEventHandlers<This>;
};

const ProgressService: ProgressSchema = {
  name: "progress",
  mixins: [
    DbMixin({
      schema: store.SCHEMA,
      migrations: progressMigrations,
      // The tables belong to the migrations; the entity only satisfies moleculer-db.
      entity: {
        name: "enrollment",
        define: {
          id: { type: DataTypes.TEXT, primaryKey: true },
          user_id: DataTypes.TEXT,
          course_id: DataTypes.TEXT,
          enrolled_at: DataTypes.DATE,
          completed_at: DataTypes.DATE,
        },
        options: { tableName: "enrollments", timestamps: false },
      },
      sync: false,
      crudActions: false,
    }),
    DurableEvents(),
  ],

  settings: {
    reminderIntervalMs: 5 * 60_000,
  },

  actions: {
    enroll: {
      auth: true,
      params: { $$strict: true, id: { type: "string", min: 1, max: 100 } },
      async handler(this: This, ctx: Ctx<{ id: string }>): Promise<Enrollment> {
        const userId = this.userId(ctx);
        const outline = await remote.courseOutline(ctx, ctx.params.id);
        await this.ensureLearner(ctx, userId);
        const decks = await remote.flashcardsOf(ctx, outline);
        const now = this.now();
        const { row, created } = await this.withTransaction(async t => {
          await store.saveCourseOutline(this, outline, t);
          const inserted = await store.insertEnrollment(
            this,
            { id: crypto.randomUUID(), userId, courseId: outline.id, at: now },
            t,
          );
          const enrollment = inserted ?? (await store.findEnrollment(this, userId, outline.id, t));
          if (!enrollment) throw new Error("enrollment vanished inside its transaction");
          for (const deck of decks) {
            for (const card of deck.cards) {
              await store.upsertCard(
                this,
                {
                  userId,
                  cardId: card.id,
                  lessonId: deck.lessonId,
                  courseId: outline.id,
                  front: card.front,
                  back: card.back,
                  initial: newCardState(now),
                },
                t,
              );
            }
          }
          await store.setCardsVersion(this, enrollment.id, outline.version, t);
          return { row: enrollment, created: inserted !== undefined };
        });
        ctx.meta.$statusCode = created ? 201 : 200;
        return enrollmentOf(row);
      },
    },

    myCourses: {
      auth: true,
      params: { $$strict: "remove" },
      async handler(this: This, ctx: Ctx): Promise<EnrolledCourse[]> {
        const userId = this.userId(ctx);
        const enrollments = await store.enrollmentsOf(this, userId);
        const ids = enrollments.map(e => e.course_id);
        const summaries = await remote.courseSummaries(ctx, ids);
        // A version published since we last looked (event or content's answer) refreshes the lesson list.
        const known = new Map((await store.coursesByIds(this, ids)).map(c => [c.course_id, c]));
        for (const id of ids) {
          const latest = Math.max(summaries.get(id)?.version ?? 0, known.get(id)?.version ?? 0);
          if ((known.get(id)?.lessons_version ?? 0) < latest) {
            await this.refreshCourse(ctx, id, latest).catch((err: Error) =>
              this.logger.warn(`course ${id} not refreshed: ${err.message}`),
            );
          }
        }
        const courses = new Map((await store.coursesByIds(this, ids)).map(c => [c.course_id, c]));
        const counts = await store.completionCounts(this, userId, ids);
        return enrollments.map(e => {
          const own = courses.get(e.course_id);
          const summary = summaries.get(e.course_id);
          const { completed = 0, total = 0 } = counts.get(e.course_id) ?? {};
          return {
            course: summary ?? {
              id: e.course_id,
              title: own?.title ?? "",
              level: own?.level ?? "",
              version: own?.version,
            },
            enrolledAt: new Date(e.enrolled_at).toISOString(),
            completedAt: e.completed_at ? new Date(e.completed_at).toISOString() : null,
            completedLessons: completed,
            totalLessons: total,
            completion: total > 0 ? Math.min(1, completed / total) : 0,
          };
        });
      },
    },

    submitAttempt: {
      auth: true,
      params: attemptParams,
      async handler(
        this: This,
        ctx: Ctx<{ id: string; answers: AttemptAnswer[] }>,
      ): Promise<AttemptResult> {
        const userId = this.userId(ctx);
        const { id: lessonId, answers } = ctx.params;
        const key = ctx.meta.idempotencyKey;
        if (key) {
          // A retry of a settled request answers from the record: no grading, no content call.
          const stored = await store.findIdempotent(this, userId, key);
          if (stored)
            return this.replay<AttemptResult>(
              ctx,
              stored,
              hashOf("attempt", { lessonId, answers }),
            );
        }
        const lesson = await remote.lessonForGrading(ctx, lessonId);
        if (lesson.questions.length === 0) {
          throw new MoleculerClientError(
            "This lesson has no questions to grade",
            409,
            "LESSON_NOT_GRADABLE",
            { id: lessonId, kind: lesson.kind },
          );
        }
        let graded;
        try {
          graded = gradeAttempt(lesson.questions, answers);
        } catch (err) {
          if (err instanceof AnswerSheetError) {
            throw new Errors.ValidationError(
              "The answers do not match the lesson's questions",
              "VALIDATION_ERROR",
              err.problems,
            );
          }
          throw err;
        }
        await this.ensureLearner(ctx, userId);
        await this.refreshCourse(ctx, lesson.courseId, lesson.courseVersion);
        const now = this.now();
        const emit = this.emitter(ctx);
        return this.guarded<AttemptResult>(
          ctx,
          "attempt",
          { lessonId, answers },
          201,
          async (t, learner) => {
            const attemptId = crypto.randomUUID();
            let first = false;
            if (graded.passed) {
              first = (
                await completeLesson(
                  { db: this, emit },
                  {
                    userId,
                    lessonId,
                    courseId: lesson.courseId,
                    score: graded.score,
                    now,
                    enrollmentId: crypto.randomUUID(),
                  },
                  t,
                )
              ).first;
            }
            const xp = attemptXp(graded, first);
            const award = await applyAward(
              { db: this, emit },
              {
                learner,
                now,
                xp: xp.total,
                reason: "attempt",
                ref: attemptId,
                lessons: first ? 1 : 0,
                attempts: 1,
                reviews: 0,
                perfectQuiz: graded.perfect && lesson.kind === "quiz",
              },
              t,
            );
            await store.insertAttempt(
              this,
              {
                id: attemptId,
                userId,
                lessonId,
                courseId: lesson.courseId,
                score: graded.score,
                maxScore: graded.maxScore,
                passed: graded.passed,
                xpEarned: xp.total,
                answers,
                results: graded.results,
                at: now,
              },
              t,
            );
            if (first) {
              await emit(
                "progress.lesson.completed",
                {
                  userId,
                  lessonId,
                  courseId: lesson.courseId,
                  score: graded.score,
                  xpEarned: xp.total,
                  completedAt: now.toISOString(),
                },
                t,
              );
            }
            const response: AttemptResult = {
              attemptId,
              lessonId,
              score: graded.score,
              maxScore: graded.maxScore,
              passed: graded.passed,
              xpEarned: xp.total,
              results: graded.results,
            };
            return { response, award };
          },
        );
      },
    },

    completeLesson: {
      auth: true,
      params: { $$strict: true, id: { type: "string", min: 1, max: 100 } },
      async handler(this: This, ctx: Ctx<{ id: string }>): Promise<CompletionResult> {
        const userId = this.userId(ctx);
        const lessonId = ctx.params.id;
        const key = ctx.meta.idempotencyKey;
        if (key) {
          const stored = await store.findIdempotent(this, userId, key);
          if (stored)
            return this.replay<CompletionResult>(ctx, stored, hashOf("complete", { lessonId }));
        }
        const lesson = await remote.lessonForGrading(ctx, lessonId);
        if (lesson.kind === "quiz") {
          throw new MoleculerClientError(
            "A quiz is completed by passing an attempt",
            409,
            "LESSON_REQUIRES_ATTEMPT",
            { id: lessonId, kind: lesson.kind },
          );
        }
        await this.ensureLearner(ctx, userId);
        await this.refreshCourse(ctx, lesson.courseId, lesson.courseVersion);
        const now = this.now();
        const emit = this.emitter(ctx);
        return this.guarded<CompletionResult>(
          ctx,
          "complete",
          { lessonId },
          201,
          async (t, learner) => {
            const { first } = await completeLesson(
              { db: this, emit },
              {
                userId,
                lessonId,
                courseId: lesson.courseId,
                score: null,
                now,
                enrollmentId: crypto.randomUUID(),
              },
              t,
            );
            const xpEarned = completionXp(first);
            const award = await applyAward(
              { db: this, emit },
              {
                learner,
                now,
                xp: xpEarned,
                reason: "lesson",
                ref: lessonId,
                lessons: first ? 1 : 0,
                attempts: 0,
                reviews: 0,
                perfectQuiz: false,
              },
              t,
            );
            if (first) {
              await emit(
                "progress.lesson.completed",
                {
                  userId,
                  lessonId,
                  courseId: lesson.courseId,
                  score: 0,
                  xpEarned,
                  completedAt: now.toISOString(),
                },
                t,
              );
            }
            return { response: { lessonId, xpEarned, firstCompletion: first }, award };
          },
        );
      },
    },

    myProgress: {
      auth: true,
      params: { $$strict: "remove" },
      async handler(this: This, ctx: Ctx): Promise<ProgressView> {
        const userId = this.userId(ctx);
        let learner = await this.ensureLearner(ctx, userId);
        // The daily goal lives in users; our copy answers when users cannot.
        const profile = await remote.profileOf(ctx, userId, 250);
        if (
          profile &&
          (profile.dailyGoalXp !== learner.daily_goal_xp || profile.timezone !== learner.timezone)
        ) {
          await store.upsertLearner(this, userId, {
            timezone: profile.timezone,
            dailyGoalXp: profile.dailyGoalXp,
          });
          learner = { ...learner, timezone: profile.timezone, daily_goal_xp: profile.dailyGoalXp };
        }
        const today = localDate(this.now(), safeTimeZone(learner.timezone));
        const streak = settle(store.streakOf(learner), today);
        return {
          xp: learner.xp,
          streak: {
            current: streak.current,
            longest: streak.longest,
            lastActiveDate: streak.lastActiveDate,
            freezes: streak.freezes,
          },
          completedLessons: await store.completedLessonCount(this, userId),
          todayXp: await store.xpOnDate(this, userId, today),
          dailyGoalXp: learner.daily_goal_xp,
        };
      },
    },

    myAchievements: {
      auth: true,
      params: { $$strict: "remove" },
      async handler(this: This, ctx: Ctx): Promise<UnlockedAchievement[]> {
        const unlocked = await store.achievementsOf(this, this.userId(ctx));
        return unlocked.map(a => ({
          code: a.code,
          name: achievementName(a.code),
          unlockedAt: new Date(a.unlocked_at).toISOString(),
        }));
      },
    },

    leaderboard: {
      auth: true,
      params: {
        $$strict: true,
        period: { type: "enum", values: ["weekly", "all"], optional: true, default: "weekly" },
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
      async handler(
        this: This,
        ctx: Ctx<{ period: LeaderboardPeriod; limit: number }>,
      ): Promise<LeaderboardView> {
        const userId = this.userId(ctx);
        const { period, limit } = ctx.params;
        const week = isoWeek(this.now());
        const answer = async (board: Leaderboard): Promise<LeaderboardView> => {
          const [top, me] = await Promise.all([
            board.top(period, week, limit),
            board.rank(period, week, userId),
          ]);
          return { period, top, me };
        };
        try {
          return await answer(this.board());
        } catch (err) {
          // Redis down: the same answer from PostgreSQL, slower but correct.
          this.logger.warn(`leaderboard from PostgreSQL, Redis failed: ${(err as Error).message}`);
          return answer(this.sqlLeaderboard);
        }
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
      async handler(this: This, ctx: Ctx<{ limit: number }>): Promise<DueCard[]> {
        const userId = this.userId(ctx);
        // Decks of a course version published after enrolling join the learner's cards here.
        const enrollments = await store.enrollmentsOf(this, userId);
        const courses = new Map(
          (
            await store.coursesByIds(
              this,
              enrollments.map(e => e.course_id),
            )
          ).map(c => [c.course_id, c]),
        );
        for (const enrollment of enrollments) {
          const known = courses.get(enrollment.course_id);
          if (known && enrollment.cards_version < known.version) {
            try {
              const outline = await remote.courseOutline(ctx, enrollment.course_id);
              await this.syncCards(ctx, userId, outline, enrollment);
            } catch (err) {
              this.logger.warn(
                `cards of course ${enrollment.course_id} not synced: ${(err as Error).message}`,
              );
            }
          }
        }
        const due = await store.dueCards(this, userId, this.now(), ctx.params.limit);
        return due.map(c => ({
          cardId: c.card_id,
          lessonId: c.lesson_id,
          front: c.front,
          back: c.back,
          due: new Date(c.due).toISOString(),
        }));
      },
    },

    review: {
      auth: true,
      params: reviewParams,
      async handler(
        this: This,
        ctx: Ctx<{ cardId: string; rating: ReviewRating }>,
      ): Promise<ReviewResult> {
        const userId = this.userId(ctx);
        const { cardId, rating } = ctx.params;
        await this.ensureLearner(ctx, userId);
        const now = this.now();
        const emit = this.emitter(ctx);
        return this.guarded<ReviewResult>(
          ctx,
          "review",
          { cardId, rating },
          200,
          async (t, learner) => {
            const card = await store.lockCard(this, userId, cardId, t);
            if (!card)
              throw new MoleculerClientError("Card not found", 404, "CARD_NOT_FOUND", { cardId });
            const wasDue = new Date(card.due).getTime() <= now.getTime();
            const outcome = review(store.cardStateOf(card), rating, now);
            await store.saveCardReview(this, userId, cardId, outcome.card, outcome.log, t);
            const xpEarned = reviewXp(wasDue);
            const award = await applyAward(
              { db: this, emit },
              {
                learner,
                now,
                xp: xpEarned,
                reason: "review",
                ref: cardId,
                lessons: 0,
                attempts: 0,
                reviews: 1,
                perfectQuiz: false,
              },
              t,
            );
            const response: ReviewResult = {
              cardId,
              due: outcome.card.due.toISOString(),
              stability: outcome.card.stability,
              difficulty: outcome.card.difficulty,
              xpEarned,
            };
            return { response, award };
          },
        );
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
      async handler(this: This, ctx: Ctx<{ days: number }>): Promise<ActivityDay[]> {
        const userId = this.userId(ctx);
        const learner = await this.ensureLearner(ctx, userId);
        const today = localDate(this.now(), safeTimeZone(learner.timezone));
        const from = addDays(today, -(ctx.params.days - 1));
        const recorded = new Map(
          (await store.activityBetween(this, userId, from, today)).map(d => [d.date, d]),
        );
        const days: ActivityDay[] = [];
        for (let i = 0; i < ctx.params.days; i += 1) {
          const date = addDays(from, i);
          const day = recorded.get(date);
          days.push({ date, xp: day?.xp ?? 0, lessons: day?.lessons ?? 0 });
        }
        return days;
      },
    },

    /** Operators (REPL) and tests run a reminder round now; the timer does it every few minutes. */
    runStreakReminders: {
      internal: true,
      params: { $$strict: true, at: { type: "date", convert: true, optional: true } },
      async handler(this: This, ctx: Context<{ at?: Date }>): Promise<ReminderRun> {
        return this.runStreakReminders(ctx.params.at);
      },
    },
  },

  durableEvents: {
    async "user.created"(this: This, event: EventEnvelope<"user.created">, t: Transaction) {
      const { userId, name, timezone } = event.data;
      await store.upsertLearner(this, userId, { name, timezone }, t);
    },
    async "user.updated"(this: This, event: EventEnvelope<"user.updated">, t: Transaction) {
      const { userId, name, timezone } = event.data;
      await store.upsertLearner(this, userId, { name, timezone }, t);
      // Rewriting a name twice is harmless, so the board may be told before the commit.
      await this.board()
        .rename(userId, name)
        .catch((err: Error) =>
          this.logger.warn(`leaderboard name of ${userId} not updated: ${err.message}`),
        );
    },
    async "user.deleted"(this: This, event: EventEnvelope<"user.deleted">, t: Transaction) {
      await store.eraseUser(this, event.data.userId, t);
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
  },

  methods: {
    userId(ctx: Ctx<unknown>): string {
      const id = ctx.meta.user?.id;
      if (!id) throw new MoleculerClientError("Authentication required", 401, "UNAUTHORIZED");
      return id;
    },

    now(this: This): Date {
      return this.clock();
    },

    emitter(this: This, ctx?: Context): EmitDurable {
      return async (type, data, t) => {
        await this.emitDurable(type, data, { transaction: t, ctx });
      };
    },

    /** The learner's row; a learner we have not heard of (event still on its way) is created from users' profile. */
    async ensureLearner(this: This, ctx: Context, userId: string): Promise<store.LearnerRow> {
      const found = await store.findLearner(this, userId);
      if (found) return found;
      const profile = await remote.profileOf(ctx, userId);
      await store.upsertLearner(
        this,
        userId,
        profile
          ? { name: profile.name, timezone: profile.timezone, dailyGoalXp: profile.dailyGoalXp }
          : {},
      );
      return (await store.findLearner(this, userId)) as store.LearnerRow;
    },

    async refreshCourse(
      this: This,
      ctx: Context,
      courseId: string,
      minVersion: number,
    ): Promise<void> {
      const known = await store.findCourse(this, courseId);
      if (known && known.lessons_version >= Math.max(minVersion, known.version)) return;
      const outline = await remote.courseOutline(ctx, courseId);
      await this.withTransaction(t => store.saveCourseOutline(this, outline, t));
    },

    async syncCards(
      this: This,
      ctx: Context,
      userId: string,
      outline: CourseOutline,
      enrollment: store.EnrollmentRow,
    ): Promise<void> {
      const decks = await remote.flashcardsOf(ctx, outline);
      const now = this.now();
      await this.withTransaction(async t => {
        await store.saveCourseOutline(this, outline, t);
        for (const deck of decks) {
          for (const card of deck.cards) {
            await store.upsertCard(
              this,
              {
                userId,
                cardId: card.id,
                lessonId: deck.lessonId,
                courseId: outline.id,
                front: card.front,
                back: card.back,
                initial: newCardState(now),
              },
              t,
            );
          }
        }
        await store.setCardsVersion(this, enrollment.id, outline.version, t);
      });
    },

    /**
     * Runs a learner's change in one transaction under their row lock, remembering the
     * answer under the request's Idempotency-Key. A retry — even one racing the first
     * request — gets the first answer; the unique (user, key) row is the last guard.
     */
    async guarded<T>(
      this: This,
      ctx: Ctx<unknown>,
      scope: string,
      body: unknown,
      status: number,
      work: (t: Transaction, learner: store.LearnerRow) => Promise<Guarded<T>>,
    ): Promise<T> {
      const userId = this.userId(ctx);
      const key = ctx.meta.idempotencyKey;
      const hash = hashOf(scope, body);
      let outcome: Guarded<T>;
      try {
        outcome = await this.withTransaction(async t => {
          const learner = await store.lockLearner(this, userId, t);
          if (key) {
            const stored = await store.findIdempotent(this, userId, key, t);
            if (stored) throw new Replay(stored);
          }
          const done = await work(t, learner);
          if (key)
            await store.saveIdempotent(
              this,
              userId,
              key,
              { scope, request_hash: hash, status, response: done.response },
              t,
            );
          return done;
        });
      } catch (err) {
        if (err instanceof Replay) return this.replay<T>(ctx, err.stored, hash);
        if (key && store.isUniqueViolation(err)) {
          const stored = await store.findIdempotent(this, userId, key);
          if (stored) return this.replay<T>(ctx, stored, hash);
        }
        throw err;
      }
      await this.publishScores(outcome.award);
      ctx.meta.$statusCode = status;
      return outcome.response;
    },

    replay<T>(ctx: Ctx<unknown>, stored: store.StoredAnswer, hash: string): T {
      if (stored.request_hash !== hash) {
        throw new MoleculerClientError(
          "This Idempotency-Key was used for a different request",
          409,
          "IDEMPOTENCY_KEY_REUSED",
        );
      }
      ctx.meta.$statusCode = stored.status;
      ctx.meta.$responseHeaders = { ...ctx.meta.$responseHeaders, "Idempotent-Replayed": "true" };
      return stored.response as T;
    },

    /** After the commit: the board learns the new totals (a failure heals on the next rebuild). */
    async publishScores(this: This, award: AwardOutcome | undefined): Promise<void> {
      if (!award || (award.xpTotal <= 0 && award.weeklyXp <= 0)) return;
      try {
        await this.leaderboard.record(
          award.userId,
          award.name,
          award.xpTotal,
          award.week,
          award.weeklyXp,
        );
      } catch (err) {
        this.logger.warn(`leaderboard not updated for ${award.userId}: ${(err as Error).message}`);
      }
    },

    board(this: This): Leaderboard {
      return this.leaderboard;
    },

    async runStreakReminders(this: This, at?: Date): Promise<ReminderRun> {
      const run = await runReminderJob(this, this.emitter(), at ?? this.now(), fn =>
        this.withTransaction(fn),
      );
      if (run.reminded.length > 0)
        this.logger.info(`streak reminders due for ${run.reminded.length} learner(s)`);
      return run;
    },
  },

  created(this: This) {
    this.clock = systemClock;
  },

  async started(this: This) {
    const cfg = configOf(this.broker);
    const source: LeaderboardSource = {
      scores: week => (week === null ? store.allTimeScores(this) : store.weeklyScores(this, week)),
      names: ids => store.learnerNames(this, ids),
      top: (week, limit) => store.sqlTop(this, week, limit),
      rank: (week, userId) => store.sqlRank(this, week, userId),
    };
    this.sqlLeaderboard = new SqlLeaderboard(source);
    if (cfg.redisUrl) {
      const redis = createRedis(cfg.redisUrl);
      redis.on("error", (err: Error) => this.logger.warn(`progress redis: ${err.message}`));
      registerHealthCheck(this.broker, "redis:progress", () => redis.ping());
      this.leaderboard = new RedisLeaderboard(redis, cfg.redisPrefix, source);
    } else {
      this.leaderboard = this.sqlLeaderboard;
    }
    const interval = this.settings.reminderIntervalMs;
    // Nodes start together: a random first delay spreads their rounds apart.
    this.reminderTimer = setTimeout(
      function tick(this: This) {
        this.runStreakReminders().catch((err: Error) =>
          this.logger.warn(`streak reminder round failed: ${err.message}`),
        );
        this.reminderTimer = setTimeout(tick.bind(this), interval).unref();
      }.bind(this),
      Math.floor(Math.random() * interval),
    ).unref();
  },

  async stopped(this: This) {
    if (this.reminderTimer) clearTimeout(this.reminderTimer);
    unregisterHealthCheck(this.broker, "redis:progress");
    await this.leaderboard?.close();
  },
};

export default ProgressService;
