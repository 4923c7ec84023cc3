import { editsNoCourse, learnerCourse } from "../../lib/course-views";
import type { ServiceBroker } from "moleculer";
import { PerUserReadCache } from "../../lib/per-user-read-cache";
import { PublishedReadCache } from "../../lib/published-read-cache";
import type { AuthUser } from "../../models/auth.model";
import type {
  LearnerCourseView,
  PublicCourseView,
  PublishedCourse,
} from "../../models/course.model";
import { cacheableReadKey } from "./published-reads";

/**
 * A signed-in learner's GET /courses/:id answered here, as content would answer it, from the
 * gateway's own copies: the live version (`content.publishedCourse`, cleared on content's
 * `cache.clean.content`) and the learner's completed lessons of it
 * (`progress.completedLessons`, cleared on progress's `cache.clean.learner` for that learner
 * and when a write of theirs to progress passes here). Content's own view functions merge
 * them (lib/course-views.ts). Whoever may see a draft of some course is answered by content.
 */

export interface LearnerReadDeps {
  /** This gateway's copy of live versions by course id (null: no live version). */
  courses: PublishedReadCache<PublishedCourse | null>;
  /** This gateway's copy of learners' completed lessons, by learner and course. */
  completions: PerUserReadCache<string[]>;
  publishedCourse(id: string, requestID?: string | null): Promise<PublishedCourse | null>;
  completedLessons(courseId: string, userId: string, requestID?: string | null): Promise<string[]>;
  logger: { warn(...args: unknown[]): void };
}

/** The gateway's copies, and its calls to content and progress for what they lack. */
export function learnerReadDeps(
  broker: ServiceBroker,
  logger: LearnerReadDeps["logger"],
): LearnerReadDeps {
  const withId = (requestID?: string | null) => (requestID ? { requestID } : {});
  return {
    courses: new PublishedReadCache({ ttlMs: 30_000, maxEntries: 500 }),
    completions: new PerUserReadCache({ ttlMs: 30_000, maxUsers: 10_000, maxPerUser: 20 }),
    publishedCourse: (id, requestID) =>
      broker.call("content.publishedCourse", { id }, withId(requestID)),
    // As content asks: no retries hold up the course when progress is away.
    completedLessons: (courseId, userId, requestID) =>
      broker.call(
        "progress.completedLessons",
        { courseId, userId },
        { ...withId(requestID), retries: 0 },
      ),
    logger,
  };
}

/** The id of the course a signed-in caller's read asks for, when this gateway may answer it. */
export function learnerReadOf(
  action: string | undefined,
  method: string | undefined,
  user: AuthUser,
  params: Record<string, unknown>,
): string | undefined {
  if (action !== "content.getCourse" || cacheableReadKey(action, method, params) === undefined) {
    return undefined;
  }
  // Content shows the draft to those who may edit this course, unless the live one is asked for.
  if (params.view !== "published" && !editsNoCourse(user)) return undefined;
  return typeof params.id === "string" ? params.id : undefined;
}

/**
 * The learner's view of the live course, or undefined when content should answer (no live
 * version here, or content could not be asked: its own answer then says why).
 */
export async function learnerRead(
  deps: LearnerReadDeps,
  courseId: string,
  learner: AuthUser,
  requestID?: string | null,
): Promise<LearnerCourseView | PublicCourseView | undefined> {
  const course = await liveCourse(deps, courseId, requestID);
  if (!course) return undefined;
  return learnerCourse(
    {
      completedLessons: (id, userId) => heldCompletions(deps, id, userId, requestID),
      logger: deps.logger,
    },
    course,
    learner,
  );
}

async function liveCourse(
  deps: LearnerReadDeps,
  courseId: string,
  requestID?: string | null,
): Promise<PublishedCourse | null> {
  const held = deps.courses.get(courseId);
  if (held !== undefined) return held;
  const generation = deps.courses.generation;
  try {
    const course = await deps.publishedCourse(courseId, requestID);
    deps.courses.set(courseId, course, generation);
    return course;
  } catch {
    // Content's own answer to the request says what went wrong (a 422, a 503).
    return null;
  }
}

async function heldCompletions(
  deps: LearnerReadDeps,
  courseId: string,
  userId: string,
  requestID?: string | null,
): Promise<string[]> {
  const held = deps.completions.get(userId, courseId);
  if (held !== undefined) return held;
  const stamp = deps.completions.stamp;
  const done = await deps.completedLessons(courseId, userId, requestID);
  deps.completions.set(userId, courseId, done, stamp);
  return done;
}
