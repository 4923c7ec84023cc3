import type { CourseAccess } from "./billing.model";
import type { MediaRef } from "./media.model";
import { idRule } from "../lib/params";

const LESSON_KINDS = ["lesson", "quiz", "flashcards"] as const;
/** lesson: reading/listening (Markdown body + media); quiz: graded questions; flashcards: a review deck. */
export type LessonKind = (typeof LESSON_KINDS)[number];

const QUESTION_TYPES = [
  "single",
  "multiple",
  "text",
  "order",
  "cloze",
  "match",
  "translate",
  "listen",
] as const;
type QuestionType = (typeof QUESTION_TYPES)[number];

/** The two columns of a `match` question. */
interface MatchOptions {
  left: string[];
  right: string[];
}

/**
 * An answer key, and a learner's answer: one string, a list of strings, or (cloze with
 * alternatives per blank, match pairs) a list whose items are lists.
 */
export type AnswerKey = string | Array<string | string[]>;

/**
 * A quiz question with its answer key (services/content/validation.ts checks each type's shape).
 * - single: `answer` is one of `options`
 * - multiple: `answer` is a non-empty subset of `options`
 * - text: `answer` is the accepted text or a list of accepted texts; no options
 * - order: `options` are the items, `answer` is the same items in the right order
 * - cloze: `prompt` has blanks `{{1}}`, `{{2}}`…; `answer` has per blank a string or a list
 *   of accepted strings
 * - match: `options` is `{left, right}`; `answer` is the pairs `[[left, right], …]`
 * - translate: `prompt` is the sentence; `answer` lists the accepted translations
 * - listen: `media` is an uploaded audio id; `answer` lists the accepted transcripts
 * Free text (text, cloze, translate, listen) is compared as lib/grading/free-text.ts says.
 */
export interface Question {
  id: string;
  type: QuestionType;
  prompt: string;
  options?: string[] | MatchOptions;
  answer: AnswerKey;
  /** listen: the audio to transcribe (POST /media). */
  media?: string;
  explanation?: string;
  /** What the question practises (kebab-case tags); none: its lesson's skills count. */
  skills?: string[];
}

/** A question as a learner receives it: no answer key, no explanation; a listen's audio URL. */
export type LearnerQuestion = Omit<Question, "answer" | "explanation"> & { mediaUrl?: string };

export interface Card {
  id: string;
  front: string;
  back: string;
  example?: string;
  /** Id of an uploaded audio file (POST /media). */
  audio?: string;
  /** Where to play the audio: the uploaded file's URL or an external one. */
  audioUrl?: string;
}

/** Kind-specific content of a lesson, stored as one JSON document. */
export interface LessonDocument {
  /** Markdown. */
  body?: string;
  /** Ids of uploaded media (images, audio). */
  media: string[];
  questions: Question[];
  cards: Card[];
  /** What the lesson practises (kebab-case tags); absent in documents written before skills. */
  skills?: string[];
}

/** Where a lesson sits in its course: a unit (or none) and the lessons it requires first. */
interface LessonPlacement {
  /** The unit of the course the lesson belongs to; null: none (the course's flat list). */
  unitId: string | null;
  /** Lessons of the same course a learner completes before this one unlocks (docs/learning-rules.md). */
  requires: string[];
}

export interface LessonRecord extends LessonDocument, LessonPlacement {
  id: string;
  skills: string[];
  courseId: string;
  kind: LessonKind;
  title: string;
  order: number;
  createdAt: string;
  updatedAt: string;
}

export interface LessonOutline extends Partial<LessonPlacement> {
  id: string;
  title: string;
  order: number;
  kind: LessonKind;
}

/** A lesson of the outline as a signed-in learner sees it. */
export interface LearnerLessonOutline extends LessonOutline {
  locked: boolean;
  completed: boolean;
}

/** A lesson of a published version, answer keys included (never sent to learners as is). */
export interface PublishedLesson extends LessonDocument, Partial<LessonPlacement> {
  id: string;
  courseId: string;
  courseVersion: number;
  kind: LessonKind;
  title: string;
  order: number;
  /** Media resolved at publish time. */
  mediaFiles: MediaRef[];
}

/** A lesson as answered over the API: media resolved to URLs. */
export interface LessonView {
  id: string;
  courseId: string;
  kind: LessonKind;
  title: string;
  order: number;
  unitId?: string | null;
  requires?: string[];
  body?: string;
  media: MediaRef[];
  questions: Question[] | LearnerQuestion[];
  cards: Card[];
  skills: string[];
  /** Draft lessons (author view) or the published version a learner reads. */
  status: "draft" | "published";
  courseVersion?: number;
  createdAt?: string;
  updatedAt?: string;
}

/** content.lessonForGrading (internal, for the progress service). */
export interface LessonForGrading {
  id: string;
  courseId: string;
  /** The course's access now (progress refuses premium lessons without the entitlement); absent: free. */
  courseAccess?: CourseAccess;
  courseVersion: number;
  kind: LessonKind;
  title: string;
  /** Lessons of the live version to complete first (progress answers 409 LESSON_LOCKED until then); absent: none. */
  requires?: string[];
  /** The lesson's skills; absent (a content node older than the field): none. */
  skills?: string[];
  questions: Array<{
    id: string;
    type: QuestionType;
    prompt: string;
    options: string[] | MatchOptions;
    answer: AnswerKey;
    explanation: string | null;
    /** The question's own skills (absent or empty: the lesson's count). */
    skills?: string[];
    /** What a learner is shown of it (a practice quiz serves it); absent from older content nodes. */
    shown?: LearnerQuestion;
  }>;
  cards: Array<{
    id: string;
    front: string;
    back: string;
    example: string | null;
    audioUrl: string | null;
  }>;
}

const text = (max: number) => ({ type: "string", trim: true, min: 1, max }) as const;
/** How many options a question needs depends on its type: services/content/validation.ts says so in its own words. */
const optionList = { type: "array", max: 10, items: text(200) } as const;
const matchOptions = {
  type: "object",
  strict: true,
  props: { left: optionList, right: optionList },
} as const;
const accepted = { type: "array", min: 1, max: 10, items: text(200) } as const;
/** A skill tag: lower-case words joined by hyphens (`present-simple`, `travel-vocabulary`). */
export const skillRule = {
  type: "string",
  min: 2,
  max: 40,
  pattern: /^[a-z0-9]+(?:-[a-z0-9]+)*$/,
  messages: {
    stringPattern:
      "'{field}' must be a kebab-case skill such as present-simple (lower-case words and digits joined by hyphens).",
  },
} as const;
const skillList = { type: "array", max: 10, unique: true, items: skillRule } as const;
/** Author-chosen ids are opaque (api.md, Content); uniqueness within the lesson is checked in validation.ts. */
const itemId = { type: "string", min: 1, max: 64, optional: true } as const;

/** Shape checks; the rules that relate fields (answer vs options) are in services/content/validation.ts. */
const questionSchema = {
  type: "object",
  strict: true,
  props: {
    id: itemId,
    type: { type: "enum", values: [...QUESTION_TYPES] },
    prompt: text(1000),
    options: [
      { ...optionList, optional: true },
      { ...matchOptions, optional: true },
    ],
    // A cloze's blanks or a match's pairs are lists of lists.
    answer: [text(500), { type: "array", min: 1, max: 20, items: [text(200), accepted] }],
    media: { type: "string", min: 1, max: 64, optional: true },
    explanation: { ...text(2000), optional: true },
    skills: { ...skillList, optional: true },
  },
} as const;

const cardSchema = {
  type: "object",
  strict: true,
  props: {
    id: itemId,
    front: text(300),
    back: text(300),
    example: { ...text(500), optional: true },
    audio: { type: "string", min: 1, max: 64, optional: true },
    audioUrl: { type: "url", max: 2000, optional: true },
  },
} as const;

const lessonFields = {
  title: text(120),
  kind: { type: "enum", values: [...LESSON_KINDS] },
  order: { type: "number", integer: true, min: 0, max: 10_000, convert: true },
  body: { type: "string", trim: true, max: 100_000 },
  media: { type: "array", max: 20, unique: true, items: { type: "string", min: 1, max: 64 } },
  questions: { type: "array", max: 100, items: questionSchema },
  cards: { type: "array", max: 500, items: cardSchema },
  /** null takes the lesson out of its unit. */
  unitId: { type: "string", min: 1, max: 64, nullable: true },
  requires: { type: "array", max: 100, unique: true, items: { type: "string", min: 1, max: 64 } },
  skills: skillList,
} as const;

/** The same rules, each made optional (a create's defaults, a patch's "any of the fields"). */
function optional<T extends Record<string, object>>(
  fields: T,
): {
  [K in keyof T]: T[K] & { optional: true };
} {
  const rules = Object.entries(fields).map(([name, rule]) => [name, { ...rule, optional: true }]);
  return Object.fromEntries(rules) as { [K in keyof T]: T[K] & { optional: true } };
}

const { title, kind, ...lessonContent } = lessonFields;

/** POST /courses/:id/lessons — strict. */
export const createLessonParams = {
  $$strict: true,
  id: idRule,
  title,
  kind,
  ...optional(lessonContent),
} as const;

/** PATCH /lessons/:id — any of the fields; the merged lesson is validated as a whole. */
export const updateLessonParams = {
  $$strict: true,
  id: idRule,
  ...optional(lessonFields),
} as const;

export type QuestionInput = Omit<Question, "id"> & { id?: string };
export type CardInput = Omit<Card, "id"> & { id?: string };

export interface LessonInput {
  title: string;
  kind: LessonKind;
  order?: number;
  body?: string;
  media?: string[];
  questions?: QuestionInput[];
  cards?: CardInput[];
  unitId?: string | null;
  requires?: string[];
  skills?: string[];
}
