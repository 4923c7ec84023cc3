import { idRule } from "../lib/params";
import { attemptParams } from "./attempt.model";
import type { CefrLevel } from "./course.model";
import type { LearnerQuestion, Question } from "./lesson.model";

/**
 * The placement test (api.md, "Learning, continued"): an adaptive test over content's bank of
 * questions tagged with a CEFR level (docs/learning-rules.md, "Placement").
 */

/** The levels the bank's questions are written for (a learner may still be placed C2). */
export type BankLevel = Exclude<CefrLevel, "C2">;

/**
 * One question of the placement bank, answer key included: content.placementBank gives it
 * to progress only (internal), never to a learner.
 */
export interface PlacementItem extends Pick<
  Question,
  "id" | "type" | "prompt" | "options" | "answer"
> {
  level: BankLevel;
  /** What it tests, e.g. `present-simple`, `travel-vocabulary`. */
  skills: string[];
}

/** A placement question as the learner receives it: no answer key, no level. */
export type PlacementQuestion = Pick<LearnerQuestion, "id" | "type" | "prompt" | "options">;

export interface PlacementResult {
  level: CefrLevel;
  /** The share (0..1) of the final ability estimate's probability that lies in `level`'s band. */
  confidence: number;
}

/** POST /placement → 201 */
export interface PlacementStart {
  id: string;
  question: PlacementQuestion;
}

/** POST /placement/:id/answers → 200: the next question, or the result once the test stops. */
export type PlacementStep = { question: PlacementQuestion } | { result: PlacementResult };

/** progress.placedLevel (internal): the learner's latest placement, null before any. */
export interface PlacedLevel extends PlacementResult {
  placedAt: string;
}

/** POST /placement takes no body. */
export const startPlacementParams = { $$strict: true } as const;

/** POST /placement/:id/answers: the answer to the question asked (a lesson answer's value). */
export const placementAnswerParams = {
  $$strict: true,
  id: idRule,
  questionId: { type: "string", min: 1, max: 64 },
  value: attemptParams.answers.items.props.value,
} as const;
