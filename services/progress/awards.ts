import crypto from "node:crypto";
import type { Transaction } from "sequelize";
import type { DomainEvents, DomainEventType } from "../../models/events.model";
import { achievementName, earnedAchievements } from "./achievements";
import { isoWeek, localDate, safeTimeZone } from "./clock";
import { recordActivity, type StreakState } from "./streaks";
import * as store from "./store";

/**
 * What happens inside one learner's transaction when they learn something: the streak
 * moves on their local day, XP lands in the ledger, the weekly total and the day's
 * activity (one statement, store.writeAward), and the achievement rules run on the new
 * totals (a second statement only when they unlock something). The caller holds the
 * learner row lock (store.lockLearner), so a learner's awards never interleave.
 */

export type ProgressEventType = Extract<DomainEventType, `progress.${string}`>;

/** Emits a progress.* event in `t`; the emitter adds the learner's next `sequence`. */
export type EmitDurable = <T extends ProgressEventType>(
  type: T,
  data: Omit<DomainEvents[T], "sequence">,
  t: Transaction,
) => Promise<void>;

export interface AwardDeps {
  db: store.Db;
  emit: EmitDurable;
  /** An LRS is configured: the award's statements are announced for the sender (progress.xapi.recorded). */
  recordsXapi?: boolean;
}

export interface AwardInput {
  learner: store.LearnerRow;
  now: Date;
  xp: number;
  reason: "attempt" | "lesson" | "review";
  ref: string;
  /** The course learned in (the analytics' active learners of a course). */
  courseId?: string;
  /** The lesson that pays, and whether it pays for a repeat (the daily cap per lesson). */
  lessonId?: string;
  repeat?: boolean;
  /** What the award counts in the day's activity (0 when left out). */
  lessons?: number;
  attempts?: number;
  reviews?: number;
  perfectQuiz?: boolean;
}

export interface AwardOutcome {
  userId: string;
  name: string;
  /** XP of this award: 0 leaves every total, and the leaderboards, as they were. */
  earned: number;
  xpTotal: number;
  week: string;
  weeklyXp: number;
  streak: StreakState;
  unlocked: string[];
}

export async function applyAward(
  deps: AwardDeps,
  input: AwardInput,
  t: Transaction,
): Promise<AwardOutcome> {
  const { db } = deps;
  const { learner, now } = input;
  const userId = learner.user_id;
  const today = localDate(now, safeTimeZone(learner.timezone));
  const week = isoWeek(now);
  const before = store.streakOf(learner);
  const streak = recordActivity(before, today).state;
  const totals = await store.writeAward(
    db,
    {
      userId,
      amount: input.xp,
      reason: input.reason,
      ref: input.ref,
      lessonId: input.lessonId ?? null,
      repeat: input.repeat ?? false,
      week,
      localDate: today,
      at: now,
      streak,
      activity: {
        xp: input.xp,
        lessons: input.lessons ?? 0,
        attempts: input.attempts ?? 0,
        reviews: input.reviews ?? 0,
      },
    },
    t,
  );
  const { xpTotal, weeklyXp } = totals;
  const held = new Set(totals.unlocked);
  const earned = earnedAchievements({
    completedLessons: totals.completedLessons,
    completedCourses: totals.completedCourses,
    xp: xpTotal,
    streak: streak.current,
    perfectQuiz: input.perfectQuiz ?? false,
  }).filter(rule => !held.has(rule.code));
  // Only codes not held yet: most awards unlock nothing and send no second statement.
  const unlocked = await store.unlockAchievements(
    db,
    userId,
    earned.map(rule => rule.code),
    now,
    t,
  );
  // The learner's open sockets hear of both (notify turns them into live messages).
  if (input.xp > 0) {
    await deps.emit(
      "progress.xp.awarded",
      { userId, xp: input.xp, total: xpTotal, reason: input.reason },
      t,
    );
  }
  if (streak.current !== before.current) {
    await deps.emit(
      "progress.streak.changed",
      { userId, current: streak.current, longest: streak.longest, localDate: today },
      t,
    );
  }
  for (const code of unlocked) {
    await deps.emit(
      "progress.achievement.unlocked",
      { userId, code, name: achievementName(code), unlockedAt: now.toISOString() },
      t,
    );
  }
  await deps.emit(
    "progress.activity.recorded",
    { userId, courseId: input.courseId, localDate: today, at: now.toISOString() },
    t,
  );
  if (deps.recordsXapi)
    await deps.emit("progress.xapi.recorded", { userId, at: now.toISOString() }, t);
  return {
    userId,
    name: learner.name,
    earned: input.xp,
    xpTotal,
    week,
    weeklyXp,
    streak,
    unlocked,
  };
}

/** A new enrollment, told to the analytics read model. */
export async function announceEnrolment(
  emit: EmitDurable,
  row: store.EnrollmentRow,
  t: Transaction,
): Promise<void> {
  await emit(
    "progress.course.enrolled",
    {
      userId: row.user_id,
      courseId: row.course_id,
      enrolledAt: new Date(row.enrolled_at).toISOString(),
    },
    t,
  );
}

export interface CompletionInput {
  userId: string;
  lessonId: string;
  courseId: string;
  score: number | null;
  now: Date;
  enrollmentId: string;
}

/**
 * Records a completed lesson (enrolling the learner in its course if needed); on the
 * first completion of the course's last lesson the course completes, once.
 */
export async function recordLessonCompletion(
  deps: AwardDeps,
  c: CompletionInput,
  t: Transaction,
): Promise<{ first: boolean }> {
  const { db } = deps;
  const { first, enrolled } = await store.recordCompletion(
    db,
    {
      userId: c.userId,
      lessonId: c.lessonId,
      courseId: c.courseId,
      score: c.score,
      at: c.now,
      enrollmentId: c.enrollmentId,
    },
    t,
  );
  if (enrolled) await announceEnrolment(deps.emit, enrolled, t);
  if (first) {
    const counts = (await store.completionCounts(db, c.userId, [c.courseId], t)).get(c.courseId);
    if (counts && counts.total > 0 && counts.completed >= counts.total) {
      if (await store.completeEnrollment(db, c.userId, c.courseId, c.now, t)) {
        // Issued in the completing transaction: the course completes once, and its certificate with it.
        const certificate = await store.issueCertificate(
          db,
          { id: crypto.randomUUID(), userId: c.userId, courseId: c.courseId, at: c.now },
          t,
        );
        await deps.emit(
          "progress.course.completed",
          {
            userId: c.userId,
            courseId: c.courseId,
            completedAt: c.now.toISOString(),
            certificateId: certificate.id,
          },
          t,
        );
      }
    }
  }
  return { first };
}
