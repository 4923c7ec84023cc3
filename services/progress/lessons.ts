import crypto from "node:crypto";
import type { Transaction } from "sequelize";
import type { AuthUser } from "../../models/auth.model";
import type { CompletionResult } from "../../models/attempt.model";
import type { LessonForGrading } from "../../models/lesson.model";
import { applyAward, recordLessonCompletion, type EmitDurable } from "./awards";
import type { Caller, ProgressDeps, RequestCtx } from "./deps";
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
  deps: ProgressDeps,
  userId: string,
  lesson: LessonForGrading,
  caller?: Caller,
): Promise<void> {
  await ensureLearner(deps, userId, caller);
  await refreshCourse(deps, lesson.courseId, lesson.courseVersion, caller);
}

/**
 * A lesson the learner may learn now: its grading data, once its course is theirs to learn
 * (402 PAYMENT_REQUIRED) and its required lessons are completed (409 LESSON_LOCKED).
 */
export async function lessonToLearn(
  deps: ProgressDeps,
  userId: string,
  lessonId: string,
  caller?: Caller,
): Promise<LessonForGrading> {
  const lesson = await remote.lessonForGrading(deps, lessonId, caller);
  await requireAccess(deps, userId, { id: lesson.courseId, access: lesson.courseAccess });
  await assertUnlocked(deps, { lesson }, { id: userId });
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
  deps: ProgressDeps,
  input: { id: string },
  actor: Pick<AuthUser, "id">,
  ctx: RequestCtx,
): Promise<CompletionResult> {
  const userId = actor.id;
  const lessonId = input.id;
  const settled = await settledAnswer<CompletionResult>(deps, ctx, actor, "complete", {
    lessonId,
  });
  if (settled) return settled;
  const lesson = await lessonToLearn(deps, userId, lessonId, ctx);
  if (lesson.kind === "quiz") {
    throw lessonRequiresAttempt(lessonId, lesson.kind);
  }
  await prepareCompletion(deps, userId, lesson, ctx);
  const now = deps.now();
  const body = { lessonId };
  return guarded<CompletionResult>(
    deps,
    ctx,
    actor,
    "complete",
    body,
    201,
    async (t, learner, emit) => {
      const { first } = await recordLessonCompletion(
        { db: deps.db, emit },
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
        { db: deps.db, emit, recordsXapi: deps.lrs !== undefined },
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
    },
  );
}
