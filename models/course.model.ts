import type { LearnerLessonOutline, LessonOutline } from "./lesson.model";
import { idRule, pageParams } from "../lib/params";
import type { ParamsOf } from "../lib/params-of";
import { COURSE_ACCESS, type CourseAccess } from "./billing.model";

/** CEFR levels, easiest first (the list order is the browse order). */
export const CEFR_LEVELS = ["A1", "A2", "B1", "B2", "C1", "C2"] as const;
export type CefrLevel = (typeof CEFR_LEVELS)[number];

/** "published" once a version is live; later draft edits do not take it down. */
type CourseStatus = "draft" | "published";

/** Languages a course may teach (ISO 639-1); the app teaches English first. */
const COURSE_LANGUAGES = ["en"] as const;

/** What describes a course in the catalogue: the same fields in a draft and in every published view. */
export interface CourseDescription {
  title: string;
  description: string;
  level: CefrLevel;
  /** Topic slugs, e.g. "greetings", "daily-life". */
  topics: string[];
  language: string;
}

/** The editable state of a course, as the author and admins see it. */
export interface CourseRecord extends CourseDescription {
  id: string;
  /** Applies at once (no publish needed): a commercial setting, not content. */
  access: CourseAccess;
  ownerId: string;
  status: CourseStatus;
  /** Number of the live published version; 0 until the first publish. */
  version: number;
  /** The draft differs from the published version (always true before the first publish). */
  hasUnpublishedChanges: boolean;
  createdAt: string;
  updatedAt: string;
  publishedAt: string | null;
}

/** A unit of a course: a titled group of its lessons, in order. */
export interface CourseUnit {
  id: string;
  courseId: string;
  title: string;
  order: number;
  createdAt: string;
}

/** A unit as the course's outline lists it. */
export interface UnitOutline {
  id: string;
  title: string;
  order: number;
}

/** A unit in an answer of GET /courses/:id, with its lessons in order. */
interface UnitView<L extends LessonOutline = LessonOutline> extends UnitOutline {
  lessons: L[];
}

/**
 * What GET /courses/:id shows of a course's structure: the lessons without a unit (the flat
 * list older clients read) and the units with theirs.
 */
export interface CourseStructure<L extends LessonOutline = LessonOutline> {
  lessons: L[];
  units: Array<UnitView<L>>;
}

/** The author's view: the draft with its lesson outline. */
export interface DraftCourseView extends CourseRecord, CourseStructure {}

/** A published course as GET /courses/:id answers it. */
export type PublicCourseView = Omit<PublishedCourse, "lessons" | "units"> & CourseStructure;

/** A published course as a signed-in learner reads it: each lesson locked or not, completed or not. */
export type LearnerCourseView = Omit<PublishedCourse, "lessons" | "units"> &
  CourseStructure<LearnerLessonOutline>;

/** An immutable published version of a course (what learners and the public see). */
export interface PublishedCourse extends CourseDescription {
  id: string;
  ownerId: string;
  status: "published";
  version: number;
  publishedAt: string;
  /** Every lesson of the version, in order (each names its unit, if any). */
  lessons: LessonOutline[];
  /** Absent in versions published before units existed: none. */
  units?: UnitOutline[];
}

/** One row of the public catalogue. */
export interface CourseCard extends CourseDescription {
  id: string;
  version: number;
  lessonCount: number;
  publishedAt: string;
}

/** Brief card for other services (progress: "my courses", dashboard). */
export interface CourseBrief {
  id: string;
  title: string;
  level: CefrLevel;
  topics: string[];
  version: number;
  lessonCount: number;
}

/** content.courseOutline (internal): the published structure of a course. */
export interface CourseOutline {
  id: string;
  /** Absent (a content node older than the field): free. */
  access?: CourseAccess;
  title: string;
  level: CefrLevel;
  version: number;
  lessons: LessonOutline[];
}

const title = { type: "string", trim: true, min: 3, max: 120 } as const;
const description = { type: "string", trim: true, max: 2000 } as const;
const level = { type: "enum", values: [...CEFR_LEVELS] } as const;
const topics = {
  type: "array",
  max: 10,
  unique: true,
  items: {
    type: "string",
    trim: true,
    min: 2,
    max: 40,
    pattern: /^[\p{L}\p{N}][\p{L}\p{N} &'-]*$/u,
  },
} as const;
const language = { type: "enum", values: [...COURSE_LANGUAGES] } as const;

/** POST /courses — strict: ownerId, status, version and unknown fields are refused (422). */
export const createCourseParams = {
  $$strict: true,
  title,
  description: { ...description, optional: true, default: "" },
  level,
  topics: { ...topics, optional: true, default: [] },
  language: { ...language, optional: true, default: "en" },
} as const;

/** PATCH /courses/:id — any of the editable fields, at least one. */
export const updateCourseParams = {
  $$strict: true,
  id: idRule,
  title: { ...title, optional: true },
  description: { ...description, optional: true },
  level: { ...level, optional: true },
  topics: { ...topics, optional: true },
  language: { ...language, optional: true },
  access: { type: "enum", values: COURSE_ACCESS, optional: true },
} as const;

export type CreateCourseInput = ParamsOf<typeof createCourseParams>;

/** PATCH /courses/:id's changes (the path's id aside). */
export type UpdateCourseInput = Omit<ParamsOf<typeof updateCourseParams>, "id">;

/** POST /courses/:id/units — strict. */
export const createUnitParams = {
  $$strict: true,
  id: idRule,
  title,
  order: { type: "number", integer: true, min: 0, max: 10_000, convert: true },
} as const;

export interface CreateUnitInput {
  courseId: string;
  title: string;
  order: number;
}

/** GET /courses — query strings are converted. */
export const listCoursesParams = {
  $$strict: true,
  level: { type: "enum", values: [...CEFR_LEVELS], optional: true },
  topic: { type: "string", trim: true, min: 1, max: 40, optional: true },
  q: { type: "string", trim: true, min: 1, max: 200, optional: true },
  /** Authors: list the courses they own (drafts included) instead of the public catalogue. */
  mine: { type: "boolean", convert: true, optional: true },
  ...pageParams,
} as const;

export type ListCoursesInput = ParamsOf<typeof listCoursesParams>;

export interface Page<T> {
  rows: T[];
  total: number;
  page: number;
  pageSize: number;
  totalPages: number;
}
