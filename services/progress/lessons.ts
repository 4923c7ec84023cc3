import { actorOf } from "../../lib/auth/guard";
import crypto from "node:crypto";
import type { Context } from "moleculer";
import type { Transaction } from "sequelize";
import type { CompletionResult } from "../../models/attempt.model";
import type { LessonForGrading } from "../../models/lesson.model";
import { applyAward, recordLessonCompletion, type EmitDurable } from "./awards";
import type { Ctx, ProgressThis } from "./context";
import { refreshCourse } from "./course-sync";
import { guarded, settledAnswer } from "./idempotency";
import { ensureLearner } from "./learners";
import { requireAccess } from "./premium";
import { assertUnlocked } from "./prerequisites";
import * as remote from "./remote";
import { completionXp } from "./xp";
import { lessonRequiresAttempt } from "./errors";

/** Completing a lesson: shared by a reading lesson's "done" and a passed attempt. */

/** The learner's row and progress's copy of the lesson's course, ready before their transaction. */
export async function prepareCompletion(
  svc: ProgressThis,
  ctx: Context,
  userId: string,
  lesson: LessonForGrading,
): Promise<void> {
  await ensureLearner(svc, ctx, userId);
  await refreshCourse(svc, ctx, lesson.courseId, lesson.courseVersion);
}

/**
 * A lesson the learner may learn now: its grading data, once its course is theirs to learn
 * (402 PAYMENT_REQUIRED) and its required lessons are completed (409 LESSON_LOCKED).
 */
export async function lessonToLearn(
  svc: ProgressThis,
  ctx: Context,
  userId: string,
  lessonId: string,
): Promise<LessonForGrading> {
  const lesson = await remote.lessonForGrading(ctx, lessonId);
  await requireAccess(svc, userId, { id: lesson.courseId, access: lesson.courseAccess });
  await assertUnlocked({ db: svc }, { lesson }, { id: userId });
  return lesson;
}

/** Recorded as the learner's first completion of the lesson: told to the other services. */
export async function announceCompletion(
  emit: EmitDurable,
  c: {
    userId: string;
    lessonId: string;
    courseId: string;
    score: number;
    xpEarned: number;
    now: Date;
  },
  t: Transaction,
): Promise<void> {
  await emit(
    "progress.lesson.completed",
    {
      userId: c.userId,
      lessonId: c.lessonId,
      courseId: c.courseId,
      score: c.score,
      xpEarned: c.xpEarned,
      completedAt: c.now.toISOString(),
    },
    t,
  );
}

/** A lesson without a quiz is completed by saying so; a quiz only by a passed attempt. */
export async function completeLesson(
  svc: ProgressThis,
  ctx: Ctx<{ id: string }>,
): Promise<CompletionResult> {
  const userId = actorOf(ctx).id;
  const lessonId = ctx.params.id;
  const settled = await settledAnswer<CompletionResult>(svc, ctx, "complete", { lessonId });
  if (settled) return settled;
  const lesson = await lessonToLearn(svc, ctx, userId, lessonId);
  if (lesson.kind === "quiz") {
    throw lessonRequiresAttempt(lessonId, lesson.kind);
  }
  await prepareCompletion(svc, ctx, userId, lesson);
  const now = svc.now();
  const emit = svc.emitter(ctx);
  return guarded<CompletionResult>(svc, ctx, "complete", { lessonId }, 201, async (t, learner) => {
    const { first } = await recordLessonCompletion(
      { db: svc, emit },
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
      { db: svc, emit, recordsXapi: svc.xapi.lrs !== undefined },
      {
        learner,
        now,
        xp: xpEarned,
        reason: "lesson",
        ref: lessonId,
        courseId: lesson.courseId,
        lessonId,
        lessons: first ? 1 : 0,
      },
      t,
    );
    if (first) {
      const done = { userId, lessonId, courseId: lesson.courseId, score: 0, xpEarned, now };
      await announceCompletion(emit, done, t);
    }
    return { response: { lessonId, xpEarned, firstCompletion: first }, award };
  });
}
