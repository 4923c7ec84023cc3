import { validationError, type FieldProblem } from "../../lib/errors";
import { normalizeText } from "../../lib/grading/free-text";
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

/** Two options or accepted answers that grading cannot tell apart are one. */
const norm = normalizeText;

/** The blank numbers of a cloze prompt, in the order they appear. */
function blanksOf(prompt: string): number[] {
  return [...prompt.matchAll(/\{\{(\d+)\}\}/g)].map(m => Number(m[1]));
}

const isText = (value: unknown): value is string => typeof value === "string";
const isTextList = (value: unknown): value is string[] =>
  Array.isArray(value) && value.every(isText);

/** The problems of one question, reported against `at` (`questions[2]`). */
class QuestionCheck {
  constructor(
    private readonly q: QuestionInput,
    private readonly at: string,
    private readonly problems: FieldProblem[],
  ) {}

  fail(field: "options" | "answer" | "prompt" | "media", type: string, message: string): void {
    const actual = field === "answer" ? { actual: this.q.answer } : {};
    this.problems.push({ type, field: `${this.at}.${field}`, message, ...actual });
  }

  /** Choice questions: a list of at least two distinct options. */
  optionList(what: string): string[] | undefined {
    const options = this.q.options;
    if (!isTextList(options) || options.length < 2) {
      this.fail("options", "required", `${what} needs at least 2 options.`);
      return undefined;
    }
    if (new Set(options.map(norm)).size !== options.length) {
      this.fail("options", "optionsUnique", "Options must differ from each other.");
    }
    return options;
  }

  noOptions(what: string): void {
    if (this.q.options !== undefined) this.fail("options", "forbidden", `${what} has no options.`);
  }

  noMedia(): void {
    if (this.q.media !== undefined && this.q.type !== "listen") {
      this.fail("media", "forbidden", "Only a listen question has its own media.");
    }
  }

  /** One accepted text or a list of distinct ones (api.md, Content). */
  acceptedTexts(what: string): void {
    const answer = this.q.answer;
    if (isText(answer)) return;
    if (!isTextList(answer)) {
      this.fail("answer", "array", `The answer of ${what} is a text or a list of accepted texts.`);
    } else if (new Set(answer.map(norm)).size !== answer.length) {
      this.fail("answer", "unique", `The accepted answers of ${what} must differ from each other.`);
    }
  }

  cloze(): void {
    this.noOptions("A cloze question");
    const blanks = blanksOf(this.q.prompt);
    const expected = blanks.map((_, i) => i + 1);
    if (blanks.length === 0 || blanks.join() !== expected.join()) {
      this.fail(
        "prompt",
        "clozeBlanks",
        "A cloze prompt numbers its blanks {{1}}, {{2}}… once each, in order.",
      );
      return;
    }
    const answer = this.q.answer;
    if (!Array.isArray(answer) || answer.length !== blanks.length) {
      this.fail(
        "answer",
        "clozeAnswers",
        `The answer lists the accepted text of each of the ${blanks.length} blanks.`,
      );
    }
  }

  match(): void {
    const options = this.q.options;
    if (options === undefined || Array.isArray(options)) {
      this.fail("options", "required", "A match question needs options {left: [], right: []}.");
      return;
    }
    if (options.left.length < 2 || options.right.length < 2) {
      this.fail("options", "required", "Each side of a match question needs at least 2 items.");
      return;
    }
    const answer = this.q.answer;
    const pairs = Array.isArray(answer) ? answer : [];
    const lefts = pairs.map(pair => (Array.isArray(pair) ? pair[0] : undefined));
    const valid =
      pairs.length === options.left.length &&
      pairs.every(
        pair =>
          Array.isArray(pair) &&
          pair.length === 2 &&
          options.left.includes(pair[0]) &&
          options.right.includes(pair[1]),
      ) &&
      new Set(lefts).size === options.left.length;
    if (!valid) {
      this.fail(
        "answer",
        "matchPairs",
        "The answer pairs every left item once with a right item: [[left, right], …].",
      );
    }
  }

  /** translate and listen: a list of accepted texts. */
  acceptedList(what: string): void {
    this.noOptions(what);
    this.acceptedTexts(what.toLowerCase());
  }

  run(): void {
    const q = this.q;
    this.noMedia();
    switch (q.type) {
      case "single": {
        const options = this.optionList("A single-choice question");
        if (options && (!isText(q.answer) || !options.includes(q.answer))) {
          this.fail("answer", "answerInOptions", "The answer must be exactly one of the options.");
        }
        break;
      }
      case "multiple": {
        const options = this.optionList("A multiple-choice question");
        if (!options) break;
        if (!isTextList(q.answer)) {
          this.fail("answer", "array", "The answer must be a list of the correct options.");
        } else if (
          q.answer.some(a => !options.includes(a)) ||
          new Set(q.answer).size !== q.answer.length
        ) {
          this.fail(
            "answer",
            "answerSubset",
            "Every answer must be one of the options, each at most once.",
          );
        }
        break;
      }
      case "text":
        this.noOptions("A text question");
        this.acceptedTexts("a text question");
        break;
      case "order": {
        const options = this.optionList("An ordering question");
        if (
          options &&
          (!isTextList(q.answer) ||
            q.answer.length !== options.length ||
            [...q.answer].sort().join("\u0000") !== [...options].sort().join("\u0000"))
        ) {
          this.fail(
            "answer",
            "answerPermutation",
            "The answer must list every option exactly once, in the right order.",
          );
        }
        break;
      }
      case "cloze":
        this.cloze();
        break;
      case "match":
        this.match();
        break;
      case "translate":
        this.acceptedList("A translate question");
        break;
      case "listen":
        this.acceptedList("A listen question");
        if (q.media === undefined) {
          this.fail("media", "required", "A listen question needs media: an uploaded audio id.");
        }
        break;
    }
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
  lesson.questions.forEach((q, index) =>
    new QuestionCheck(q, `questions[${index}]`, problems).run(),
  );
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
