import { v7 as uuidv7 } from "uuid";
import { validationError, type FieldProblem } from "../../lib/errors";
import { liveRequirements, requirementCycle } from "../../lib/prerequisites";
import type { AuthUser } from "../../models/auth.model";
import type { CourseUnit, CreateUnitInput, UnitOutline } from "../../models/course.model";
import type { LessonOutline, LessonRecord, PublishedLesson } from "../../models/lesson.model";
import { courseNotFound } from "./errors";
import type { ContentRepository, Tx } from "./repository";

/**
 * A course's structure: units that group its lessons, and lessons that require others
 * (docs/learning-rules.md, "Units and locking"). Authors shape it in the draft; the live
 * version carries it; a signed-in learner sees each lesson locked or open, completed or not.
 */

/** The drafts' store (the caller's transaction is passed to each use). */
interface StoreDeps {
  repo: ContentRepository;
}

export interface UnitDeps extends StoreDeps {
  transaction<T>(fn: (t: Tx) => Promise<T>): Promise<T>;
  canEdit(user: AuthUser, ownerId: string): boolean;
}

/** POST /courses/:id/units: a unit of the draft (live after the next publish). */
export async function createUnit(
  deps: UnitDeps,
  input: CreateUnitInput,
  actor: AuthUser,
): Promise<CourseUnit> {
  return deps.transaction(async t => {
    const course = await deps.repo.getCourse(input.courseId, t);
    if (!course || !deps.canEdit(actor, course.ownerId)) throw courseNotFound(input.courseId);
    const at = new Date().toISOString();
    const unit: CourseUnit = {
      id: uuidv7(),
      courseId: course.id,
      title: input.title,
      order: input.order,
      createdAt: at,
    };
    await deps.repo.insertUnit(unit, t);
    await deps.repo.updateCourse(course.id, { hasUnpublishedChanges: true, updatedAt: at }, t);
    return unit;
  });
}

function unitProblems(lesson: LessonRecord, units: CourseUnit[]): FieldProblem[] {
  if (lesson.unitId === null || units.some(u => u.id === lesson.unitId)) return [];
  return [
    {
      type: "unitExists",
      field: "unitId",
      message: `The course has no unit "${lesson.unitId}".`,
      actual: lesson.unitId,
    },
  ];
}

function requirementProblems(lesson: LessonRecord, others: LessonRecord[]): FieldProblem[] {
  const known = new Set(others.map(l => l.id));
  const unknown = lesson.requires.filter(id => id !== lesson.id && !known.has(id));
  if (unknown.length > 0) {
    return unknown.map(id => ({
      type: "lessonExists",
      field: "requires",
      message: `"${id}" is no lesson of this course.`,
      actual: id,
    }));
  }
  const requiresOf = new Map(others.map(l => [l.id, l.requires]));
  requiresOf.set(lesson.id, lesson.requires);
  const cycle = requirementCycle(lesson.id, id => requiresOf.get(id) ?? []);
  if (!cycle) return [];
  return [
    {
      type: "requiresCycle",
      field: "requires",
      message: `A lesson cannot require itself, even through others: ${cycle.join(" → ")}.`,
      actual: cycle,
    },
  ];
}

/** A lesson's unit is one of its course's, and what it requires are other lessons of the course, without a cycle. */
export async function assertValidPlacement(
  deps: StoreDeps,
  lesson: LessonRecord,
  tx: Tx,
): Promise<void> {
  if (lesson.unitId === null && lesson.requires.length === 0) return;
  const units = lesson.unitId === null ? [] : await deps.repo.listUnits(lesson.courseId, tx);
  const others =
    lesson.requires.length === 0
      ? []
      : (await deps.repo.listLessons(lesson.courseId, tx)).filter(l => l.id !== lesson.id);
  const problems = [...unitProblems(lesson, units), ...requirementProblems(lesson, others)];
  if (problems.length > 0) throw validationError(problems);
}

/** A deleted lesson is required by nobody any more: the draft lessons that named it forget it. */
export async function releaseDependents(
  deps: StoreDeps,
  lesson: LessonRecord,
  tx: Tx,
): Promise<void> {
  const dependents = (await deps.repo.listLessons(lesson.courseId, tx)).filter(l =>
    l.requires.includes(lesson.id),
  );
  for (const dependent of dependents) {
    const requires = dependent.requires.filter(id => id !== lesson.id);
    await deps.repo.updateLesson({ ...dependent, requires }, tx);
  }
}

/** A lesson's place in an outline: its unit and what it requires. */
export function placementOf(lesson: LessonRecord): Pick<LessonOutline, "unitId" | "requires"> {
  return { unitId: lesson.unitId, requires: lesson.requires };
}

export function unitOutline(unit: CourseUnit): UnitOutline {
  return { id: unit.id, title: unit.title, order: unit.order };
}

/** What a live lesson requires among the lessons its live version still has (progress enforces it). */
export async function liveRequirementsOf(
  repo: ContentRepository,
  lesson: PublishedLesson,
): Promise<string[]> {
  if (!lesson.requires?.length) return [];
  const course = await repo.getPublishedCourse(lesson.courseId);
  return liveRequirements(lesson.requires, new Set(course?.lessons.map(l => l.id) ?? []));
}
