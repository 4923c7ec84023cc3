import { actorOf } from "../../lib/auth/guard";
import crypto from "node:crypto";
import { validationError } from "../../lib/errors";
import type { AttemptAnswer, AttemptResult } from "../../models/attempt.model";
import type { GradableQuestion } from "../../models/progress.model";
import { applyAward, recordLessonCompletion } from "./awards";
import { localDate, safeTimeZone } from "./clock";
import type { Ctx, ProgressThis } from "./context";
import { AnswerSheetError, gradeAttempt, type GradedAttempt } from "./grading";
import { guarded, settledAnswer } from "./idempotency";
import { announceCompletion, lessonToLearn, prepareCompletion } from "./lessons";
import * as store from "./store";
import { attemptXp } from "./xp";
import { lessonNotGradable } from "./errors";

/** A graded attempt at a lesson's questions: graded here, never trusted from the client. */

/** An answer sheet that does not fit the questions is the caller's 422, not a wrong answer. */
function grade(questions: GradableQuestion[], answers: AttemptAnswer[]): GradedAttempt {
  try {
    return gradeAttempt(questions, answers);
  } catch (err) {
    if (err instanceof AnswerSheetError) {
      throw validationError(err.problems, err.message);
    }
    throw err;
  }
}

export async function submitAttempt(
  svc: ProgressThis,
  ctx: Ctx<{ id: string; answers: AttemptAnswer[] }>,
): Promise<AttemptResult> {
  const userId = actorOf(ctx).id;
  const { id: lessonId, answers } = ctx.params;
  // A retry of a settled request answers from the record: no grading, no content call.
  const settled = await settledAnswer<AttemptResult>(svc, ctx, "attempt", { lessonId, answers });
  if (settled) return settled;
  const lesson = await lessonToLearn(svc, ctx, userId, lessonId);
  if (lesson.questions.length === 0) {
    throw lessonNotGradable(lessonId, lesson.kind);
  }
  const graded = grade(lesson.questions, answers);
  await prepareCompletion(svc, ctx, userId, lesson);
  const now = svc.now();
  const emit = svc.emitter(ctx);
  return guarded<AttemptResult>(
    svc,
    ctx,
    "attempt",
    { lessonId, answers },
    201,
    async (t, learner) => {
      const attemptId = crypto.randomUUID();
      let first = false;
      if (graded.passed) {
        first = (
          await recordLessonCompletion(
            { db: svc, emit },
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
      const repeatXpToday =
        graded.passed && !first
          ? await store.repeatXpOn(
              svc,
              {
                userId,
                lessonId,
                timeZone: safeTimeZone(learner.timezone),
                date: localDate(now, safeTimeZone(learner.timezone)),
              },
              t,
            )
          : 0;
      const xp = attemptXp(graded, first, repeatXpToday);
      const award = await applyAward(
        { db: svc, emit, recordsXapi: svc.xapi.lrs !== undefined },
        {
          learner,
          now,
          xp: xp.total,
          reason: "attempt",
          ref: attemptId,
          courseId: lesson.courseId,
          lessonId,
          repeat: graded.passed && !first,
          lessons: first ? 1 : 0,
          attempts: 1,
          perfectQuiz: graded.perfect && lesson.kind === "quiz",
        },
        t,
      );
      await store.insertAttempt(
        svc,
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
      await emit(
        "progress.attempt.graded",
        {
          userId,
          attemptId,
          lessonId,
          courseId: lesson.courseId,
          score: graded.score,
          maxScore: graded.maxScore,
          passed: graded.passed,
          answers: graded.results.map(r => ({ questionId: r.questionId, correct: r.correct })),
          gradedAt: now.toISOString(),
        },
        t,
      );
      if (first) {
        const done = {
          userId,
          lessonId,
          courseId: lesson.courseId,
          score: graded.score,
          xpEarned: xp.total,
          now,
        };
        await announceCompletion(emit, done, t);
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
}
