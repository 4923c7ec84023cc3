import type { CourseAccess } from "../../models/billing.model";
import type { Caller, ProgressDeps } from "./deps";
import { premiumRequired } from "./errors";
import * as remote from "./remote";
import * as store from "./store";

/**
 * Premium courses need the premium entitlement, read from progress's own copy of it (fed by
 * billing.subscription.changed), not by a call to billing per request. What a learner
 * learned while premium stays theirs; only new enrolments, attempts and reviews wait.
 */
export async function requireAccess(
  deps: Pick<ProgressDeps, "db">,
  userId: string,
  course: { id: string; access?: CourseAccess },
): Promise<void> {
  if (course.access !== "premium") return;
  if (await store.holdsPremium(deps.db, userId)) return;
  throw premiumRequired(course.id);
}

/** The same for a review, which names only the lesson: content is asked only without premium. */
export async function requireLessonAccess(
  deps: ProgressDeps,
  userId: string,
  lessonId: string,
  caller?: Caller,
): Promise<void> {
  if (await store.holdsPremium(deps.db, userId)) return;
  const lesson = await remote.lessonForGrading(deps, lessonId, caller);
  if (lesson.courseAccess === "premium") throw premiumRequired(lesson.courseId);
}
