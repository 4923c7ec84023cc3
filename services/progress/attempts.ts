import crypto from "node:crypto";
import type { AuthUser } from "../../models/auth.model";
import { validationError } from "../../lib/errors";
import type { AttemptAnswer, AttemptResult } from "../../models/attempt.model";
import type { GradableQuestion } from "../../models/progress.model";
import { applyAward, recordLessonCompletion } from "./awards";
import { localDate, safeTimeZone } from "./clock";
import type { ProgressDeps, RequestCtx } from "./deps";
import { AnswerSheetError, gradeAttempt, type GradedAttempt } from "./grading";
import { guarded, settledAnswer } from "./idempotency";
import { announceCompletion, lessonToLearn, prepareCompletion } from "./lessons";
import * as store from "./store";
import { attemptXp } from "./xp";
import { lessonAnswers, recordMastery } from "./skills";
import { lessonNotGradable } from "./errors";

/** A graded attempt at a lesson's questions: graded here, never trusted from the client. */

/** An answer sheet that does not fit the questions is the caller's 422, not a wrong answer. */
export function grade(questions: GradableQuestion[], answers: AttemptAnswer[]): GradedAttempt {
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
  deps: ProgressDeps,
  input: { id: string; answers: AttemptAnswer[] },
  actor: Pick<AuthUser, "id">,
  ctx: RequestCtx,
): Promise<AttemptResult> {
  const userId = actor.id;
  const { id: lessonId, answers } = input;
  // A retry of a settled request answers from the record: no grading, no content call.
  const settled = await settledAnswer<AttemptResult>(deps, ctx, actor, "attempt", {
    lessonId,
    answers,
  });
  if (settled) return settled;
  const lesson = await lessonToLearn(deps, userId, lessonId, ctx);
  if (lesson.questions.length === 0) {
    throw lessonNotGradable(lessonId, lesson.kind);
  }
  const graded = grade(lesson.questions, answers);
  await prepareCompletion(deps, userId, lesson, ctx);
  const now = deps.now();
  return guarded<AttemptResult>(
    deps,
    ctx,
    actor,
    "attempt",
    { lessonId, answers },
    201,
    async (t, learner, emit) => {
      const attemptId = crypto.randomUUID();
      let first = false;
      if (graded.passed) {
        first = (
          await recordLessonCompletion(
            { db: deps.db, emit },
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
              deps.db,
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
        { db: deps.db, emit, recordsXapi: deps.lrs !== undefined },
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
        deps.db,
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
      await recordMastery(
        deps,
        { userId, at: now, answers: lessonAnswers(lesson, graded.results) },
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
