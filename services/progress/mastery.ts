/**
 * Skill mastery, an Elo-style model (docs/learning-rules.md, "Skills and mastery").
 *
 * Each learner has a rating θ per skill and each question a difficulty b, both 0 at first,
 * on the logit scale: the expected credit of an answer is P = σ(θ − b) = 1 / (1 + e^−(θ − b)).
 * After an answer earning credit o (0..1; a forgiven typo is full credit):
 *
 * - every skill s of the question: θs ← θs + K_learner(ns) · (o − σ(θs − b)), where ns is the
 *   learner's earlier answers on s;
 * - the question: b ← b − K_question(m) · (o − σ(θ̄ − b)), θ̄ the mean of those ratings before the
 *   answer and m the question's earlier answers (from every learner).
 *
 * K shrinks as evidence grows: K(n) = max(K_min, K0 / (1 + decay · n)). The learner's floor
 * stays high (knowledge changes, a rating must keep moving); a question's is low (its
 * difficulty settles). Ratings and difficulties stay within ±RATING_BOUND.
 * Mastery is σ(θ): the chance of answering a question of average difficulty (b = 0) right.
 */

interface KFactor {
  k0: number;
  decay: number;
  min: number;
}

export const LEARNER_K: KFactor = { k0: 1, decay: 0.1, min: 0.2 };
export const QUESTION_K: KFactor = { k0: 0.5, decay: 0.05, min: 0.02 };
export const RATING_BOUND = 6;

export interface SkillRating {
  rating: number;
  /** Answers counted so far. */
  attempts: number;
}

export interface QuestionDifficulty {
  difficulty: number;
  /** Answers counted so far, from every learner. */
  answers: number;
}

const logistic = (x: number): number => 1 / (1 + Math.exp(-x));

const bounded = (x: number): number => Math.max(-RATING_BOUND, Math.min(RATING_BOUND, x));

export function kFactor(k: KFactor, evidence: number): number {
  return Math.max(k.min, k.k0 / (1 + k.decay * evidence));
}

/** The expected credit of a learner of rating θ on a question of difficulty b. */
export function expectedCredit(rating: number, difficulty: number): number {
  return logistic(rating - difficulty);
}

/** A rating as the 0..1 mastery GET /me/skills shows. */
export function masteryOf(rating: number): number {
  return logistic(rating);
}

/** The ratings of the question's skills and its difficulty after one answer earning `credit`. */
export function rateAnswer(
  skills: SkillRating[],
  question: QuestionDifficulty,
  credit: number,
): { skills: SkillRating[]; question: QuestionDifficulty } {
  const outcome = Math.max(0, Math.min(1, credit));
  const b = question.difficulty;
  const rated = skills.map(s => ({
    rating: bounded(
      s.rating + kFactor(LEARNER_K, s.attempts) * (outcome - expectedCredit(s.rating, b)),
    ),
    attempts: s.attempts + 1,
  }));
  if (skills.length === 0) return { skills: rated, question };
  const mean = skills.reduce((sum, s) => sum + s.rating, 0) / skills.length;
  const surprise = outcome - expectedCredit(mean, b);
  return {
    skills: rated,
    question: {
      difficulty: bounded(b - kFactor(QUESTION_K, question.answers) * surprise),
      answers: question.answers + 1,
    },
  };
}
