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

/** One suggestion of GET /me/next. */
export interface NextStep {
  kind: "review" | "lesson" | "practice" | "course";
  /** A short text a client can show as it is. */
  reason: string;
  lessonId?: string;
  courseId?: string;
  skill?: string;
  count?: number;
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
