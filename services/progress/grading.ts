import type { AttemptAnswer, QuestionResult } from "../../models/attempt.model";
import type { AnswerValue, GradableQuestion } from "../../models/progress.model";

/**
 * Server-side grading against content's answer keys. Every question is worth
 * POINTS_PER_QUESTION points; `multiple` and `order` earn partial credit, `single` and
 * `text` are all or nothing. A lesson is passed at PASS_RATIO of the maximum score.
 */

export const POINTS_PER_QUESTION = 10;
export const PASS_RATIO = 0.8;

export interface GradedAttempt {
  score: number;
  maxScore: number;
  passed: boolean;
  perfect: boolean;
  correctCount: number;
  results: QuestionResult[];
}

/** Case-, accent-width- and whitespace-insensitive: "  New   York " equals "new york". */
export function normalizeText(value: string): string {
  return value.normalize("NFKC").trim().replace(/\s+/g, " ").toLocaleLowerCase("en");
}

function asList(value: AnswerValue | undefined): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

function asText(value: AnswerValue | undefined): string | undefined {
  if (typeof value === "string") return value;
  // A one-element list is what some clients send for a single choice.
  if (Array.isArray(value) && value.length === 1) return value[0];
  return undefined;
}

/** Correct picks minus wrong picks over the size of the key, never below zero. */
function gradeMultiple(given: string[], key: string[]): number {
  const expected = new Set(key.map(normalizeText));
  const picked = new Set(given.map(normalizeText));
  if (expected.size === 0) return picked.size === 0 ? 1 : 0;
  let right = 0;
  let wrong = 0;
  for (const choice of picked) {
    if (expected.has(choice)) right += 1;
    else wrong += 1;
  }
  return Math.max(0, (right - wrong) / expected.size);
}

/** Share of positions holding the expected item; a sequence of another length is matched position by position. */
function gradeOrder(given: string[], key: string[]): number {
  if (key.length === 0) return given.length === 0 ? 1 : 0;
  let right = 0;
  for (let i = 0; i < key.length; i += 1) {
    if (given[i] !== undefined && normalizeText(given[i]) === normalizeText(key[i])) right += 1;
  }
  // Extra items beyond the key are wrong positions too.
  const positions = Math.max(key.length, given.length);
  return right / positions;
}

export function gradeQuestion(question: GradableQuestion, value: AnswerValue | undefined): number {
  switch (question.type) {
    case "single":
    case "text": {
      const given = asText(value);
      const key = asText(question.answer);
      if (given === undefined || key === undefined) return 0;
      return normalizeText(given) === normalizeText(key) ? 1 : 0;
    }
    case "multiple":
      return value === undefined ? 0 : gradeMultiple(asList(value), asList(question.answer));
    case "order":
      return value === undefined ? 0 : gradeOrder(asList(value), asList(question.answer));
    default:
      return 0;
  }
}

export class AnswerSheetError extends Error {
  constructor(readonly problems: Array<{ field: string; message: string; questionId: string }>) {
    super("The answers do not match the lesson's questions");
  }
}

/** Grades a whole sheet. Unanswered questions score zero; answers to unknown questions are rejected. */
export function gradeAttempt(
  questions: GradableQuestion[],
  answers: AttemptAnswer[],
): GradedAttempt {
  const byId = new Map<string, AnswerValue>();
  const known = new Set(questions.map(q => q.id));
  const problems: AnswerSheetError["problems"] = [];
  answers.forEach((answer, index) => {
    if (!known.has(answer.questionId)) {
      problems.push({
        field: `answers[${index}].questionId`,
        message: "is not a question of this lesson",
        questionId: answer.questionId,
      });
    } else if (byId.has(answer.questionId)) {
      problems.push({
        field: `answers[${index}].questionId`,
        message: "is answered twice",
        questionId: answer.questionId,
      });
    } else {
      byId.set(answer.questionId, answer.value);
    }
  });
  if (problems.length > 0) throw new AnswerSheetError(problems);

  let score = 0;
  let correctCount = 0;
  const results = questions.map<QuestionResult>(question => {
    const credit = gradeQuestion(question, byId.get(question.id));
    const points = Math.round(credit * POINTS_PER_QUESTION);
    score += points;
    if (credit === 1) correctCount += 1;
    return {
      questionId: question.id,
      correct: credit === 1,
      credit: Math.round(credit * 100) / 100,
      expected: question.answer,
      ...(question.explanation ? { explanation: question.explanation } : {}),
    };
  });
  const maxScore = questions.length * POINTS_PER_QUESTION;
  return {
    score,
    maxScore,
    passed: maxScore > 0 && score >= PASS_RATIO * maxScore,
    perfect: maxScore > 0 && score === maxScore,
    correctCount,
    results,
  };
}
