import { missingPrerequisites } from "../../lib/prerequisites";
import type { AuthUser } from "../../models/auth.model";
import type { LessonForGrading } from "../../models/lesson.model";
import { lessonLocked } from "./errors";
import * as store from "./store";

/**
 * Locked lessons (docs/learning-rules.md, "Units and locking"): progress decides, from the
 * lesson's `requires` (content's grading data) and its own record of completions.
 */

export interface PrerequisiteDeps {
  db: store.Db;
}

/** 409 LESSON_LOCKED naming what is still to do, unless the learner completed every required lesson. */
export async function assertUnlocked(
  deps: PrerequisiteDeps,
  input: { lesson: Pick<LessonForGrading, "id" | "requires"> },
  actor: Pick<AuthUser, "id">,
): Promise<void> {
  const requires = input.lesson.requires ?? [];
  if (requires.length === 0) return;
  const completed = await store.completedAmong(deps.db, actor.id, requires);
  const missing = missingPrerequisites(requires, completed);
  if (missing.length > 0) throw lessonLocked(input.lesson.id, missing);
}

/** progress.completedLessons (internal, for content's view of a course): the learner's completed lessons of it. */
export function completedLessons(
  deps: PrerequisiteDeps,
  input: { courseId: string },
  actor: Pick<AuthUser, "id">,
): Promise<string[]> {
  return store.completedInCourse(deps.db, actor.id, input.courseId);
}
