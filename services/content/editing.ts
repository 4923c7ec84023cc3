import type { AuthUser } from "../../models/auth.model";
import type {
  CourseRecord,
  CourseUnit,
  CreateCourseInput,
  DraftCourseView,
  UpdateCourseInput,
} from "../../models/course.model";
import type { LessonInput, LessonRecord, LessonView } from "../../models/lesson.model";
import * as authoring from "./authoring";
import { authoringFor, type Caller, type ContentDeps } from "./deps";
import { courseNotFound, lessonNotFound } from "./errors";
import { seedStarterContent, type SeedReport } from "./seeder";
import { createUnit } from "./structure";

/**
 * The authors' actions: each checks that the caller may edit the course, runs the authoring
 * use case, and drops the cached reads once the change has committed.
 */

type WithId<T> = T & { id: string };

/** Someone else's course answers 404, like one that does not exist. */
async function ownedCourse(deps: ContentDeps, id: string, actor: AuthUser): Promise<CourseRecord> {
  const course = await deps.repo.getCourse(id);
  if (!course || !deps.canEdit(actor, course.ownerId)) throw courseNotFound(id);
  return course;
}

async function ownedLesson(deps: ContentDeps, id: string, actor: AuthUser): Promise<LessonRecord> {
  const lesson = await deps.repo.getLesson(id);
  const course = lesson ? await deps.repo.getCourse(lesson.courseId) : null;
  if (!lesson || !course || !deps.canEdit(actor, course.ownerId)) throw lessonNotFound(id);
  return lesson;
}

/** Runs a change, then drops the cached reads it made stale. */
async function changing<T>(deps: ContentDeps, caller: Caller, change: Promise<T>): Promise<T> {
  const result = await change;
  await deps.contentChanged(caller);
  return result;
}

export function createCourse(
  deps: ContentDeps,
  input: CreateCourseInput,
  actor: AuthUser,
  caller: Caller,
): Promise<DraftCourseView> {
  return changing(
    deps,
    caller,
    authoring.createCourse(authoringFor(deps, caller), actor.id, input),
  );
}

export async function updateCourse(
  deps: ContentDeps,
  { id, ...changes }: WithId<UpdateCourseInput>,
  actor: AuthUser,
  caller: Caller,
): Promise<DraftCourseView> {
  const course = await ownedCourse(deps, id, actor);
  return changing(
    deps,
    caller,
    authoring.updateCourse(authoringFor(deps, caller), course, changes),
  );
}

export async function deleteCourse(
  deps: ContentDeps,
  input: { id: string },
  actor: AuthUser,
  caller: Caller,
): Promise<void> {
  const course = await ownedCourse(deps, input.id, actor);
  await changing(deps, caller, authoring.deleteCourse(authoringFor(deps, caller), course));
}

export async function publishCourse(
  deps: ContentDeps,
  input: { id: string },
  actor: AuthUser,
  caller: Caller,
): Promise<DraftCourseView> {
  const course = await ownedCourse(deps, input.id, actor);
  return changing(deps, caller, authoring.publishCourse(authoringFor(deps, caller), course.id));
}

export async function createLesson(
  deps: ContentDeps,
  { id, ...lesson }: WithId<LessonInput>,
  actor: AuthUser,
  caller: Caller,
): Promise<LessonView> {
  const course = await ownedCourse(deps, id, actor);
  return changing(deps, caller, authoring.createLesson(authoringFor(deps, caller), course, lesson));
}

export async function updateLesson(
  deps: ContentDeps,
  { id, ...changes }: WithId<Partial<LessonInput>>,
  actor: AuthUser,
  caller: Caller,
): Promise<LessonView> {
  const lesson = await ownedLesson(deps, id, actor);
  return changing(
    deps,
    caller,
    authoring.updateLesson(authoringFor(deps, caller), lesson, changes),
  );
}

export async function deleteLesson(
  deps: ContentDeps,
  input: { id: string },
  actor: AuthUser,
  caller: Caller,
): Promise<void> {
  const lesson = await ownedLesson(deps, input.id, actor);
  await changing(deps, caller, authoring.deleteLesson(authoringFor(deps, caller), lesson));
}

/** POST /courses/:id/units (a unit has no URL of its own: the route's 201 stands, with no Location). */
export function addUnit(
  deps: ContentDeps,
  { id: courseId, title, order }: { id: string; title: string; order: number },
  actor: AuthUser,
  caller: Caller,
): Promise<CourseUnit> {
  return changing(deps, caller, createUnit(deps, { courseId, title, order }, actor));
}

/** `npm run seed` and the REPL: the starter courses, idempotent. */
export function seedStarter(deps: ContentDeps, caller: Caller): Promise<SeedReport> {
  return changing(deps, caller, seedStarterContent(authoringFor(deps, caller)));
}
