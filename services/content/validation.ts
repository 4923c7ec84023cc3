import { validationError, type FieldProblem } from "../../lib/errors";
import { v7 as uuidv7 } from "uuid";
import type {
  Card,
  CardInput,
  LessonKind,
  Question,
  QuestionInput,
} from "../../models/lesson.model";

/** The kind-specific rules of a lesson and of every question and card in it. */
export interface LessonShape {
  kind: LessonKind;
  body?: string;
  media: string[];
  questions: QuestionInput[];
  cards: CardInput[];
}

const norm = (value: string) => value.trim().replace(/\s+/g, " ").toLowerCase();

function checkQuestion(q: QuestionInput, at: string, problems: FieldProblem[]): void {
  const options = q.options ?? [];
  const distinct = new Set(options.map(norm));
  if (distinct.size !== options.length) {
    problems.push({
      type: "optionsUnique",
      field: `${at}.options`,
      message: "Options must differ from each other.",
    });
  }
  switch (q.type) {
    case "single":
      if (options.length < 2) {
        problems.push({
          type: "required",
          field: `${at}.options`,
          message: "A single-choice question needs at least 2 options.",
        });
      } else if (typeof q.answer !== "string" || !options.includes(q.answer)) {
        problems.push({
          type: "answerInOptions",
          field: `${at}.answer`,
          message: "The answer must be exactly one of the options.",
          actual: q.answer,
        });
      }
      break;
    case "multiple":
      if (options.length < 2) {
        problems.push({
          type: "required",
          field: `${at}.options`,
          message: "A multiple-choice question needs at least 2 options.",
        });
      } else if (!Array.isArray(q.answer)) {
        problems.push({
          type: "array",
          field: `${at}.answer`,
          message: "The answer must be a list of the correct options.",
          actual: q.answer,
        });
      } else if (
        q.answer.some(a => !options.includes(a)) ||
        new Set(q.answer).size !== q.answer.length
      ) {
        problems.push({
          type: "answerSubset",
          field: `${at}.answer`,
          message: "Every answer must be one of the options, each at most once.",
          actual: q.answer,
        });
      }
      break;
    case "text":
      if (q.options !== undefined) {
        problems.push({
          type: "forbidden",
          field: `${at}.options`,
          message: "A text question has no options.",
        });
      }
      // One accepted answer, or a list of them (api.md, Content): the schema checks each is text.
      if (Array.isArray(q.answer) && new Set(q.answer.map(norm)).size !== q.answer.length) {
        problems.push({
          type: "unique",
          field: `${at}.answer`,
          message: "The accepted answers of a text question must differ from each other.",
          actual: q.answer,
        });
      }
      break;
    case "order":
      if (options.length < 2) {
        problems.push({
          type: "required",
          field: `${at}.options`,
          message: "An ordering question needs at least 2 items in options.",
        });
      } else if (
        !Array.isArray(q.answer) ||
        q.answer.length !== options.length ||
        [...q.answer].sort().join("\u0000") !== [...options].sort().join("\u0000")
      ) {
        problems.push({
          type: "answerPermutation",
          field: `${at}.answer`,
          message: "The answer must list every option exactly once, in the right order.",
          actual: q.answer,
        });
      }
      break;
  }
}

function checkIds(items: Array<{ id?: string }>, field: string, problems: FieldProblem[]): void {
  const seen = new Set<string>();
  items.forEach((item, index) => {
    if (item.id === undefined) return;
    if (seen.has(item.id)) {
      problems.push({
        type: "unique",
        field: `${field}[${index}].id`,
        message: "Ids must be unique within the lesson.",
        actual: item.id,
      });
    }
    seen.add(item.id);
  });
}

/** Throws a 422 listing every problem of the lesson at once. */
export function assertValidLesson(lesson: LessonShape): void {
  const problems: FieldProblem[] = [];
  const forbid = (field: "questions" | "cards", why: string) => {
    if (lesson[field].length > 0) problems.push({ type: "forbidden", field, message: why });
  };
  switch (lesson.kind) {
    case "lesson":
      if (!lesson.body && lesson.media.length === 0) {
        problems.push({
          type: "required",
          field: "body",
          message: "A lesson needs a body (Markdown) or media.",
        });
      }
      forbid("questions", "Only a quiz has questions.");
      forbid("cards", "Only a flashcards lesson has cards.");
      break;
    case "quiz":
      if (lesson.questions.length === 0) {
        problems.push({
          type: "required",
          field: "questions",
          message: "A quiz needs at least one question.",
        });
      }
      forbid("cards", "Only a flashcards lesson has cards.");
      break;
    case "flashcards":
      if (lesson.cards.length === 0) {
        problems.push({
          type: "required",
          field: "cards",
          message: "A flashcards lesson needs at least one card.",
        });
      }
      forbid("questions", "Only a quiz has questions.");
      break;
  }
  lesson.questions.forEach((q, index) => checkQuestion(q, `questions[${index}]`, problems));
  checkIds(lesson.questions, "questions", problems);
  checkIds(lesson.cards, "cards", problems);
  if (problems.length > 0) throw validationError(problems);
}

/** Gives every question and card an id (kept when the author sent one, so progress keeps its history). */
export function withIds(
  questions: QuestionInput[],
  cards: CardInput[],
): { questions: Question[]; cards: Card[] } {
  return {
    questions: questions.map(q => ({ ...q, id: q.id ?? uuidv7() })),
    cards: cards.map(c => ({ ...c, id: c.id ?? uuidv7() })),
  };
}
