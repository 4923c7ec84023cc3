import { skillRule, type LearnerQuestion } from "./lesson.model";
/** Shapes of skills, suggestions and practice (api.md, "Learning, continued"). */

/** GET /me/skills: one row per skill the learner has answered on. */
export interface SkillMastery {
  skill: string;
  /** 0..1: the chance of a right answer to a question of average difficulty (services/progress/mastery.ts). */
  mastery: number;
  /** Graded answers that counted for the skill. */
  attempts: number;
  lastPracticedAt: string;
}

/** POST /me/practice → 201: questions without answer keys, graded by POST /lessons/:id/attempts with `id`. */
export interface PracticeQuiz {
  id: string;
  questions: LearnerQuestion[];
}

/** POST /me/practice — strict. */
export const practiceParams = {
  $$strict: true,
  skill: { ...skillRule, optional: true },
} as const;
