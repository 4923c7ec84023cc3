import type { AnswerValue } from "./progress.model";
import { idRule } from "../lib/params";
import type { ParamsOf } from "../lib/params-of";

/** One answer of an attempt, as POST /lessons/:id/attempts's params let it through. */
export type AttemptAnswer = ParamsOf<typeof attemptParams>["answers"][number];

export interface QuestionResult {
  questionId: string;
  /** Full credit. */
  correct: boolean;
  /** Share of the question's points earned, 0..1 (partial credit for multiple and order). */
  credit: number;
  /** Right only thanks to one slip (a typo): `accepted` is the form it was taken for. */
  typo?: true;
  /** The accepted form a typo was taken for (a cloze: one per blank). */
  accepted?: AnswerValue;
  /** The answer key; shown so the learner sees what was expected. */
  expected: AnswerValue;
  explanation?: string;
}

/** POST /lessons/:id/attempts → 201 */
export interface AttemptResult {
  attemptId: string;
  lessonId: string;
  score: number;
  maxScore: number;
  passed: boolean;
  xpEarned: number;
  results: QuestionResult[];
}

/** POST /lessons/:id/complete → 201 */
export interface CompletionResult {
  lessonId: string;
  xpEarned: number;
  firstCompletion: boolean;
}

const MAX_ANSWERS = 200;

/** fastest-validator schema of POST /lessons/:id/attempts; one definition for the action and OpenAPI. */
export const attemptParams = {
  $$strict: true,
  id: idRule,
  answers: {
    type: "array",
    max: MAX_ANSWERS,
    items: {
      type: "object",
      strict: true,
      props: {
        questionId: { type: "string", min: 1, max: 100 },
        value: [
          { type: "string", max: 2000 },
          {
            type: "array",
            max: 100,
            items: [
              { type: "string", max: 2000 },
              // A match question's pairs.
              { type: "array", max: 2, items: { type: "string", max: 2000 } },
            ],
          },
        ],
      },
    },
  },
} as const;
