import type {
  CourseBrief,
  CourseCard,
  CourseRecord,
  CourseUnit,
  ListCoursesInput,
  PublishedCourse,
} from "../../models/course.model";
import type { LessonRecord, PublishedLesson } from "../../models/lesson.model";
import type { MediaRecord } from "../../models/media.model";
import type { PlacementItem } from "../../models/placement.model";

/**
 * Where the content service keeps its documents. Two implementations: PostgreSQL
 * (schema "content", JSONB for the nested lesson documents, full-text search) and
 * MongoDB (when CONTENT_MONGO_URI is set). The service is written against this
 * interface only, so one test suite covers both.
 *
 * `tx` is the PostgreSQL transaction the caller holds for its outbox write; the
 * PostgreSQL store writes in it, so data and event commit together. For the MongoDB
 * store it is the unit of work's PendingEvents: each write applies at once, and the
 * deletions and the publish store the unit's events in that same document write.
 */
export type Tx = unknown;

export interface CourseFilter {
  level?: ListCoursesInput["level"];
  topic?: string;
  q?: string;
  page: number;
  pageSize: number;
}

export interface ContentRepository {
  readonly store: "postgres" | "mongodb";
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Throws when the store does not answer (readiness). */
  ping(): Promise<void>;

  countCourses(): Promise<number>;
  getCourse(id: string, tx?: Tx): Promise<CourseRecord | null>;
  /** Courses of one owner (all courses when ownerId is null), newest first. */
  listCourses(
    ownerId: string | null,
    page: number,
    pageSize: number,
  ): Promise<{ rows: CourseRecord[]; total: number }>;
  insertCourse(course: CourseRecord, tx: Tx): Promise<void>;
  updateCourse(id: string, patch: Partial<CourseRecord>, tx: Tx): Promise<void>;
  /** Removes the course everywhere: draft, lessons, published version, history. */
  deleteCourse(id: string, tx: Tx): Promise<void>;

  /** Units of a course by order (then creation); they go with the course. */
  listUnits(courseId: string, tx?: Tx): Promise<CourseUnit[]>;
  insertUnit(unit: CourseUnit, tx: Tx): Promise<void>;

  /** Draft lessons of a course by order (then creation). */
  listLessons(courseId: string, tx?: Tx): Promise<LessonRecord[]>;
  getLesson(id: string, tx?: Tx): Promise<LessonRecord | null>;
  insertLesson(lesson: LessonRecord, tx: Tx): Promise<void>;
  updateLesson(lesson: LessonRecord, tx: Tx): Promise<void>;
  deleteLesson(id: string, tx: Tx): Promise<void>;

  getPublishedCourse(id: string): Promise<PublishedCourse | null>;
  getPublishedLesson(id: string): Promise<PublishedLesson | null>;
  /** Replaces the live version of a course with this one and keeps it in the history. */
  savePublished(course: PublishedCourse, lessons: PublishedLesson[], tx: Tx): Promise<void>;
  /** Takes one lesson down from the live version (the lesson was deleted). */
  withdrawPublishedLesson(courseId: string, lessonId: string, tx: Tx): Promise<void>;
  searchPublished(filter: CourseFilter): Promise<{ rows: CourseCard[]; total: number }>;
  publishedBriefs(ids: string[]): Promise<CourseBrief[]>;
  topicCounts(): Promise<Array<{ slug: string; count: number }>>;

  insertMedia(media: MediaRecord): Promise<void>;
  getMedia(id: string): Promise<MediaRecord | null>;
  getMediaMany(ids: string[], tx?: Tx): Promise<MediaRecord[]>;

  /** The placement bank (answer keys included), by level then id. */
  placementItems(): Promise<PlacementItem[]>;
  /** Adds these questions to the bank, or replaces those with the same id. */
  savePlacementItems(items: PlacementItem[]): Promise<void>;
}
