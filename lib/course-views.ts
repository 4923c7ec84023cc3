import type { AuthUser } from "../models/auth.model";
import type {
  CourseStructure,
  LearnerCourseView,
  PublicCourseView,
  PublishedCourse,
  UnitOutline,
} from "../models/course.model";
import type { LearnerLessonOutline, LessonOutline } from "../models/lesson.model";
import { liveRequirements, missingPrerequisites } from "./prerequisites";

/**
 * How GET /courses/:id shows a course (docs/learning-rules.md, "Units and locking"): who sees
 * the draft, and the live version as anyone reads it or as a signed-in learner does. Content
 * answers with these, and the gateway answers learners from its own copies with the same
 * functions, so the two answers cannot differ.
 */

/** An admin edits every course; an author only their own. */
export function canEdit(user: AuthUser | undefined, ownerId: string): boolean {
  if (!user) return false;
  return user.roles.includes("admin") || (user.roles.includes("author") && user.id === ownerId);
}

/** A caller who can edit no course at all (`canEdit` is false whoever owns it): they never see a draft. */
export function editsNoCourse(user: AuthUser): boolean {
  return !user.roles.includes("admin") && !user.roles.includes("author");
}

/**
 * The lessons without a unit (the flat list every client reads) and the units with theirs,
 * each in the outline's order. A lesson naming a unit the outline lacks stays in the flat list.
 */
export function structured<L extends LessonOutline>(
  lessons: L[],
  units: UnitOutline[] = [],
): CourseStructure<L> {
  const unitIds = new Set(units.map(u => u.id));
  const inUnit = (l: L) => l.unitId != null && unitIds.has(l.unitId);
  return {
    lessons: lessons.filter(l => !inUnit(l)),
    units: units.map(u => ({ ...u, lessons: lessons.filter(l => l.unitId === u.id) })),
  };
}

/** The live version as anyone reads it: the flat list of lessons without a unit, and the units. */
export function publicCourse(course: PublishedCourse): PublicCourseView {
  return { ...course, ...structured(course.lessons, course.units ?? []) };
}

export interface LearnerCourseDeps {
  /** The ids of the course's lessons the learner has completed (progress knows). */
  completedLessons(courseId: string, userId: string): Promise<string[]>;
  logger: { warn(...args: unknown[]): void };
}

/**
 * The live version as a signed-in learner reads it: each lesson locked or open, completed or
 * not. When progress cannot answer now the course is still readable, as anyone reads it
 * (progress enforces the locks itself).
 */
export async function learnerCourse(
  deps: LearnerCourseDeps,
  course: PublishedCourse,
  learner: Pick<AuthUser, "id">,
): Promise<LearnerCourseView | PublicCourseView> {
  let done: string[];
  try {
    done = await deps.completedLessons(course.id, learner.id);
  } catch (err) {
    deps.logger.warn(`course ${course.id} read without the learner's progress`, err);
    return publicCourse(course);
  }
  const completed = new Set(done);
  const lessonIds = new Set(course.lessons.map(l => l.id));
  const lessons = course.lessons.map((l): LearnerLessonOutline => {
    const requires = liveRequirements(l.requires, lessonIds);
    return {
      ...l,
      requires,
      locked: missingPrerequisites(requires, completed).length > 0,
      completed: completed.has(l.id),
    };
  });
  return { ...course, ...structured(lessons, course.units ?? []) };
}
