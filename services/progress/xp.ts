import type { GradedAttempt } from "./grading";

/**
 * XP rules (documented in docs/learning-rules.md):
 *
 * - Quiz attempt that passes for the first time: 1 XP per score point (10 per fully
 *   correct question, partial credit pro rata) + LESSON_COMPLETION_XP + PERFECT_BONUS_XP
 *   when every answer is right.
 * - Passing a lesson already completed (practice): REPEAT_RATIO of the answer XP, no bonuses.
 * - A failed attempt: no XP (it still counts for the streak).
 * - Reading lesson / flashcard deck marked complete: LESSON_COMPLETION_XP the first
 *   time, REPEAT_COMPLETION_XP after that.
 * - Flashcard review of a card that was due: REVIEW_XP; reviewing early earns nothing.
 */

export const LESSON_COMPLETION_XP = 20;
export const PERFECT_BONUS_XP = 20;
export const REPEAT_RATIO = 0.25;
export const REPEAT_COMPLETION_XP = 5;
export const REVIEW_XP = 2;

export interface XpBreakdown {
  answers: number;
  completion: number;
  perfect: number;
  total: number;
}

export function attemptXp(
  graded: Pick<GradedAttempt, "score" | "passed" | "perfect">,
  firstCompletion: boolean,
): XpBreakdown {
  if (!graded.passed) return { answers: 0, completion: 0, perfect: 0, total: 0 };
  if (!firstCompletion) {
    const answers = Math.floor(graded.score * REPEAT_RATIO);
    return { answers, completion: 0, perfect: 0, total: answers };
  }
  const perfect = graded.perfect ? PERFECT_BONUS_XP : 0;
  return {
    answers: graded.score,
    completion: LESSON_COMPLETION_XP,
    perfect,
    total: graded.score + LESSON_COMPLETION_XP + perfect,
  };
}

export function completionXp(firstCompletion: boolean): number {
  return firstCompletion ? LESSON_COMPLETION_XP : REPEAT_COMPLETION_XP;
}

export function reviewXp(wasDue: boolean): number {
  return wasDue ? REVIEW_XP : 0;
}
