import crypto from "node:crypto";
import type { AuthUser } from "../../models/auth.model";
import { answerStatus } from "../../lib/rest-answers";
import type { EnrolledCourse, Enrollment } from "../../models/enrollment.model";
import type { Caller, ProgressDeps, RequestCtx } from "./deps";
import { addDecks, refreshCourse } from "./course-sync";
import { accountErased } from "./errors";
import { announceEnrolment } from "./awards";
import { ensureLearner } from "./learners";
import { requireAccess } from "./premium";
import * as remote from "./remote";
import * as store from "./store";

/** Enrolling in a published course (with its flashcards) and the learner's course list. */

function enrollmentOf(row: store.EnrollmentRow): Enrollment {
  return {
    id: row.id,
    courseId: row.course_id,
    enrolledAt: new Date(row.enrolled_at).toISOString(),
    completedAt: row.completed_at ? new Date(row.completed_at).toISOString() : null,
  };
}

/** 201 with the new enrollment; 200 with the existing one when already enrolled. */
export async function enroll(
  deps: ProgressDeps,
  input: { id: string },
  actor: Pick<AuthUser, "id">,
  ctx: RequestCtx,
): Promise<Enrollment> {
  const userId = actor.id;
  const outline = await remote.courseOutline(deps, input.id, ctx);
  await requireAccess(deps, userId, outline);
  await ensureLearner(deps, userId, ctx);
  const decks = await remote.flashcardsOf(deps, outline, ctx);
  const now = deps.now();
  const { row, created } = await deps.withTransaction(async t => {
    if (!(await store.lockLearner(deps.db, userId, t))) throw accountErased(userId);
    await store.saveCourseOutline(deps.db, outline, t);
    const inserted = await store.insertEnrollment(
      deps.db,
      { id: crypto.randomUUID(), userId, courseId: outline.id, at: now },
      t,
    );
    if (inserted) await announceEnrolment(deps.emitter(ctx), inserted, t);
    const enrollment = inserted ?? (await store.findEnrollment(deps.db, userId, outline.id, t));
    if (!enrollment) throw new Error("enrollment vanished inside its transaction");
    await addDecks(deps.db, { userId, outline, enrollmentId: enrollment.id, decks, now }, t);
    return { row: enrollment, created: inserted !== undefined };
  });
  answerStatus(ctx, created ? 201 : 200);
  return enrollmentOf(row);
}

export async function myCourses(
  deps: ProgressDeps,
  actor: Pick<AuthUser, "id">,
  caller?: Caller,
): Promise<EnrolledCourse[]> {
  const userId = actor.id;
  const all = await store.enrolledCoursesOf(deps.db, userId);
  const summaries = await remote.courseSummaries(
    deps,
    all.map(e => e.enrollment.course_id),
    caller,
  );
  // A course content no longer has (deleted) leaves the list; without content's answer, our copy stays.
  const live = (e: store.EnrolledCourseRow) =>
    summaries === undefined || summaries.has(e.enrollment.course_id);
  let enrolled = all.filter(live);
  // A version published since we last looked (event or content's answer) refreshes the lesson list.
  let refreshed = false;
  for (const { enrollment, course: known } of enrolled) {
    const id = enrollment.course_id;
    const latest = Math.max(summaries?.get(id)?.version ?? 0, known?.version ?? 0);
    if ((known?.lessons_version ?? 0) < latest) {
      refreshed = true;
      await refreshCourse(deps, id, latest, caller).catch((err: Error) =>
        deps.logger.warn(`course ${id} not refreshed: ${err.message}`),
      );
    }
  }
  // Read again only if a course was refreshed just now.
  if (refreshed) enrolled = (await store.enrolledCoursesOf(deps.db, userId)).filter(live);
  return enrolled.map(row => enrolledCourseOf(row, summaries?.get(row.enrollment.course_id)));
}

/** One row of the course list: content's brief of the course, else our copy of it. */
export function enrolledCourseOf(
  { enrollment: e, course: own, completed, total }: store.EnrolledCourseRow,
  brief: EnrolledCourse["course"] | undefined,
): EnrolledCourse {
  const { enrolledAt, completedAt } = enrollmentOf(e);
  return {
    course: brief ?? {
      id: e.course_id,
      title: own?.title ?? "",
      level: own?.level ?? "",
      version: own?.version,
    },
    enrolledAt,
    completedAt,
    completedLessons: completed,
    totalLessons: total,
    completion: total > 0 ? Math.min(1, completed / total) : 0,
  };
}
