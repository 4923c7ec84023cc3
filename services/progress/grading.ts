import type { AttemptAnswer, QuestionResult } from "../../models/attempt.model";
import type { AnswerValue, GradableQuestion } from "../../models/progress.model";
import { matchText, normalizeText } from "../../lib/grading/free-text";

/**
 * Server-side grading against content's answer keys. Every question is worth
 * POINTS_PER_QUESTION points; `multiple`, `order`, `cloze` and `match` earn partial credit,
 * `single`, `text`, `translate` and `listen` are all or nothing. Free text is matched as
 * lib/grading/free-text.ts says (one slip forgiven, shown as a typo). A lesson is passed at
 * PASS_MARK of the maximum score.
 */

const POINTS_PER_QUESTION = 10;
/** The pass mark, 80 %, as a fraction so it is compared exactly. */
const PASS_MARK = { right: 4n, of: 5n } as const;

export interface GradedAttempt {
  score: number;
  maxScore: number;
  passed: boolean;
  perfect: boolean;
  correctCount: number;
  results: QuestionResult[];
}

/** A flat list of texts; nested lists (pairs, a blank's alternatives) are not texts. */
function asList(value: AnswerValue | undefined): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) return [value];
  return value.filter(item => typeof item === "string");
}

/** Every item as a list: a cloze blank's accepted forms, a match pair. */
function asLists(value: AnswerValue | undefined): string[][] {
  if (!Array.isArray(value)) return [];
  return value.map(item => (Array.isArray(item) ? item : [item]));
}

function asText(value: AnswerValue | undefined): string | undefined {
  if (typeof value === "string") return value;
  // A one-element list is what some clients send for a single choice.
  if (Array.isArray(value) && value.length === 1 && typeof value[0] === "string") return value[0];
  return undefined;
}

/** A share of a question's points as an exact fraction: sums and the pass mark never round. */
interface Credit {
  right: number;
  of: number;
  /** Full credit thanks to a forgiven slip, and the accepted form(s) it was taken for. */
  typo?: { accepted: AnswerValue };
}

const NONE: Credit = { right: 0, of: 1 };
const FULL: Credit = { right: 1, of: 1 };

/** Correct picks minus wrong picks over the size of the key, never below zero. */
function gradeMultiple(given: string[], key: string[]): Credit {
  const expected = new Set(key.map(normalizeText));
  const picked = new Set(given.map(normalizeText));
  if (expected.size === 0) return picked.size === 0 ? FULL : NONE;
  let right = 0;
  let wrong = 0;
  for (const choice of picked) {
    if (expected.has(choice)) right += 1;
    else wrong += 1;
  }
  return { right: Math.max(0, right - wrong), of: expected.size };
}

/** Share of positions holding the expected item; a sequence of another length is matched position by position. */
function gradeOrder(given: string[], key: string[]): Credit {
  if (key.length === 0) return given.length === 0 ? FULL : NONE;
  let right = 0;
  for (let i = 0; i < key.length; i += 1) {
    if (given[i] !== undefined && normalizeText(given[i]) === normalizeText(key[i])) right += 1;
  }
  // Extra items beyond the key are wrong positions too.
  return { right, of: Math.max(key.length, given.length) };
}

/** One free-text answer against its accepted forms, a slip forgiven. */
function gradeFreeText(value: AnswerValue | undefined, accepted: string[]): Credit {
  const given = asText(value);
  if (given === undefined) return NONE;
  const match = matchText(given, accepted);
  if (!match.correct) return NONE;
  return match.typo && match.accepted !== undefined
    ? { ...FULL, typo: { accepted: match.accepted } }
    : FULL;
}

/** Share of blanks filled right; a slip in any blank marks the question as a typo. */
function gradeCloze(given: AnswerValue | undefined, key: string[][]): Credit {
  const answers = Array.isArray(given) ? given : [];
  let right = 0;
  let typo = false;
  const acceptedForms = key.map((accepted, blank) => {
    const credit = gradeFreeText(answers[blank], accepted);
    right += credit.right;
    if (!credit.typo) return accepted[0];
    typo = true;
    return String(credit.typo.accepted);
  });
  const credit = { right, of: Math.max(1, key.length) };
  return typo && right === key.length ? { ...credit, typo: { accepted: acceptedForms } } : credit;
}

const pairKey = (pair: string[]) => pair.map(normalizeText).join("\u0000");

/** Pairs compared as a set: right pairs minus wrong ones over the number of pairs, never below 0. */
function gradeMatch(given: AnswerValue | undefined, key: string[][]): Credit {
  if (key.length === 0) return NONE;
  const expected = new Set(key.map(pairKey));
  const paired = new Set(asLists(given).map(pairKey));
  let right = 0;
  let wrong = 0;
  for (const pair of paired) {
    if (expected.has(pair)) right += 1;
    else wrong += 1;
  }
  return { right: Math.max(0, right - wrong), of: expected.size };
}

function creditOf(question: GradableQuestion, value: AnswerValue | undefined): Credit {
  switch (question.type) {
    case "single": {
      const given = asText(value);
      const key = asText(question.answer);
      return given !== undefined && key !== undefined && normalizeText(given) === normalizeText(key)
        ? FULL
        : NONE;
    }
    case "text":
    case "translate":
    case "listen":
      return gradeFreeText(value, asList(question.answer));
    case "cloze":
      return gradeCloze(value, asLists(question.answer));
    case "match":
      return gradeMatch(value, asLists(question.answer));
    case "multiple":
      return value === undefined ? NONE : gradeMultiple(asList(value), asList(question.answer));
    case "order":
      return value === undefined ? NONE : gradeOrder(asList(value), asList(question.answer));
  }
}

/** The share (0..1) of the question's points the answer earns. */
export function gradeQuestion(question: GradableQuestion, value: AnswerValue | undefined): number {
  const credit = creditOf(question, value);
  return credit.right / credit.of;
}

export type SheetProblem = { field: string; message: string; questionId?: string };

export class AnswerSheetError extends Error {
  constructor(readonly problems: SheetProblem[]) {
    super("The answers do not match the lesson's questions");
  }
}

function gcd(a: bigint, b: bigint): bigint {
  return b === 0n ? a : gcd(b, a % b);
}

/**
 * Grades a whole sheet. Every question must be answered exactly once and nothing else:
 * a sheet that is not complete is refused before anything is graded, so it cannot reveal
 * the answer key. Points are summed as exact fractions and compared with the pass mark
 * unrounded (31.67 of 40 is 79.2 %: not a pass at 80 %).
 */
export function gradeAttempt(
  questions: GradableQuestion[],
  answers: AttemptAnswer[],
): GradedAttempt {
  const byId = new Map<string, AnswerValue>();
  const known = new Set(questions.map(q => q.id));
  const problems: SheetProblem[] = [];
  answers.forEach((answer, index) => {
    if (!known.has(answer.questionId)) {
      problems.push({
        field: `answers[${index}].questionId`,
        message: "is not a question of this lesson",
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
  for (const question of questions) {
    if (!byId.has(question.id)) {
      problems.push({
        field: "answers",
        message: "must answer every question of the lesson",
        questionId: question.id,
      });
    }
  }
  if (problems.length > 0) throw new AnswerSheetError(problems);

  // The sum of every credit as one fraction num/den.
  let num = 0n;
  let den = 1n;
  let correctCount = 0;
  const results = questions.map<QuestionResult>(question => {
    const credit = creditOf(question, byId.get(question.id));
    num = num * BigInt(credit.of) + BigInt(credit.right) * den;
    den *= BigInt(credit.of);
    const common = gcd(num, den);
    num /= common;
    den /= common;
    const correct = credit.right === credit.of;
    if (correct) correctCount += 1;
    return {
      questionId: question.id,
      correct,
      ...(credit.typo ? { typo: true, accepted: credit.typo.accepted } : {}),
      credit: Math.round((credit.right / credit.of) * 100) / 100,
      expected: question.answer,
      ...(question.explanation ? { explanation: question.explanation } : {}),
    };
  });
  const count = BigInt(questions.length);
  const maxScore = questions.length * POINTS_PER_QUESTION;
  return {
    // Shown to two decimals; the exact sum decides the pass.
    score: Number((num * BigInt(POINTS_PER_QUESTION) * 100n + den / 2n) / den) / 100,
    maxScore,
    passed: count > 0n && num * PASS_MARK.of >= PASS_MARK.right * count * den,
    perfect: count > 0n && num === count * den,
    correctCount,
    results,
  };
}
