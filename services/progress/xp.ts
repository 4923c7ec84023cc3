import type { GradedAttempt } from "./grading";

/**
 * XP rules (documented in docs/learning-rules.md). XP rewards learning something, not
 * sending requests: only a first completion pays in full, and every other source is bounded.
 *
 * - Quiz passed for the first time: 1 XP per score point, at most MAX_ANSWER_XP however many
 *   questions the quiz has, + LESSON_COMPLETION_XP + PERFECT_BONUS_XP when every answer is right.
 * - Quiz passed again: REPEAT_RATIO of that answer XP, no bonuses, and all repeats of one
 *   lesson together pay at most REPEAT_DAILY_CAP_XP a local day.
 * - A failed attempt: no XP (it still counts for the streak).
 * - Reading lesson / flashcard deck marked complete: LESSON_COMPLETION_XP the first time, 0 after.
 * - Flashcard review of a card that was due: REVIEW_XP; reviewing early earns nothing.
 * - Practice quizzes (no route serves them yet): PRACTICE_XP_PER_CORRECT per right answer, at
 *   most PRACTICE_SESSION_MAX_XP a quiz and PRACTICE_DAILY_CAP_XP a local day.
 */

const LESSON_COMPLETION_XP = 20;
const PERFECT_BONUS_XP = 20;
/** Ten questions' worth: a longer quiz is more practice, not more XP. */
export const MAX_ANSWER_XP = 100;
const REPEAT_RATIO = 0.25;
export const REPEAT_DAILY_CAP_XP = 30;
const REVIEW_XP = 2;
const PRACTICE_XP_PER_CORRECT = 2;
export const PRACTICE_SESSION_MAX_XP = 20;
export const PRACTICE_DAILY_CAP_XP = 60;

export interface XpBreakdown {
  answers: number;
  completion: number;
  perfect: number;
  total: number;
}

const NOTHING: XpBreakdown = { answers: 0, completion: 0, perfect: 0, total: 0 };

/**
 * `repeatXpToday`: what repeats of this lesson already paid the learner in their local day
 * (only read for a repeat).
 */
export function attemptXp(
  graded: Pick<GradedAttempt, "score" | "passed" | "perfect">,
  firstCompletion: boolean,
  repeatXpToday = 0,
): XpBreakdown {
  if (!graded.passed) return NOTHING;
  const answerXp = Math.floor(Math.min(graded.score, MAX_ANSWER_XP));
  if (!firstCompletion) {
    const left = Math.max(0, REPEAT_DAILY_CAP_XP - repeatXpToday);
    const answers = Math.min(Math.floor(answerXp * REPEAT_RATIO), left);
    return { answers, completion: 0, perfect: 0, total: answers };
  }
  const perfect = graded.perfect ? PERFECT_BONUS_XP : 0;
  return {
    answers: answerXp,
    completion: LESSON_COMPLETION_XP,
    perfect,
    total: answerXp + LESSON_COMPLETION_XP + perfect,
  };
}

/** Only the first completion of a lesson without questions pays (api.md, Learning). */
export function completionXp(firstCompletion: boolean): number {
  return firstCompletion ? LESSON_COMPLETION_XP : 0;
}

export function reviewXp(wasDue: boolean): number {
  return wasDue ? REVIEW_XP : 0;
}

/** A practice quiz's XP given what practice already paid the learner in their local day. */
export function practiceXp(correctAnswers: number, practiceXpToday: number): number {
  const earned = Math.min(correctAnswers * PRACTICE_XP_PER_CORRECT, PRACTICE_SESSION_MAX_XP);
  return Math.max(0, Math.min(earned, PRACTICE_DAILY_CAP_XP - practiceXpToday));
}
