import type { MediaRef } from "./media.model";

export const LESSON_KINDS = ["lesson", "quiz", "flashcards"] as const;
/** lesson: reading/listening (Markdown body + media); quiz: graded questions; flashcards: a review deck. */
export type LessonKind = (typeof LESSON_KINDS)[number];

export const QUESTION_TYPES = ["single", "multiple", "text", "order"] as const;
export type QuestionType = (typeof QUESTION_TYPES)[number];

/**
 * A quiz question with its answer key.
 * - single: `answer` is one of `options`
 * - multiple: `answer` is a non-empty subset of `options`
 * - text: `answer` is the expected text (compared case- and whitespace-insensitively); no options
 * - order: `options` are the items, `answer` is the same items in the right order
 */
export interface Question {
  id: string;
  type: QuestionType;
  prompt: string;
  options?: string[];
  answer: string | string[];
  explanation?: string;
}

/** A question as a learner receives it: no answer key, no explanation. */
export type LearnerQuestion = Omit<Question, "answer" | "explanation">;

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
}

export interface LessonRecord extends LessonDocument {
  id: string;
  courseId: string;
  kind: LessonKind;
  title: string;
  order: number;
  createdAt: string;
  updatedAt: string;
}

export interface LessonOutline {
  id: string;
  title: string;
  order: number;
  kind: LessonKind;
}

/** A lesson of a published version, answer keys included (never sent to learners as is). */
export interface PublishedLesson extends LessonDocument {
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
  body?: string;
  media: MediaRef[];
  questions: Question[] | LearnerQuestion[];
  cards: Card[];
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
  courseVersion: number;
  kind: LessonKind;
  title: string;
  questions: Array<{
    id: string;
    type: QuestionType;
    prompt: string;
    options: string[];
    answer: string | string[];
    explanation: string | null;
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
const optionList = { type: "array", min: 2, max: 10, items: text(200) } as const;

/** Shape checks; the rules that relate fields (answer vs options) are in services/content/validation.ts. */
export const questionSchema = {
  type: "object",
  strict: true,
  props: {
    id: { type: "uuid", optional: true },
    type: { type: "enum", values: [...QUESTION_TYPES] },
    prompt: text(1000),
    options: { ...optionList, optional: true },
    answer: [text(500), { type: "array", min: 1, max: 10, items: text(200) }],
    explanation: { ...text(2000), optional: true },
  },
} as const;

export const cardSchema = {
  type: "object",
  strict: true,
  props: {
    id: { type: "uuid", optional: true },
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
} as const;

/** POST /courses/:id/lessons — strict. */
export const createLessonParams = {
  $$strict: true,
  id: { type: "string", min: 1, max: 64 },
  title: lessonFields.title,
  kind: lessonFields.kind,
  order: { ...lessonFields.order, optional: true },
  body: { ...lessonFields.body, optional: true },
  media: { ...lessonFields.media, optional: true },
  questions: { ...lessonFields.questions, optional: true },
  cards: { ...lessonFields.cards, optional: true },
} as const;

/** PATCH /lessons/:id — any of the fields; the merged lesson is validated as a whole. */
export const updateLessonParams = {
  $$strict: true,
  id: { type: "string", min: 1, max: 64 },
  title: { ...lessonFields.title, optional: true },
  kind: { ...lessonFields.kind, optional: true },
  order: { ...lessonFields.order, optional: true },
  body: { ...lessonFields.body, optional: true },
  media: { ...lessonFields.media, optional: true },
  questions: { ...lessonFields.questions, optional: true },
  cards: { ...lessonFields.cards, optional: true },
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
}
