import { actorWith } from "../../lib/auth/guard";
import type { CourseAccess } from "../../models/billing.model";
import type { TopicCount } from "../../models/content.model";
import type { CourseBrief, CourseOutline, ListCoursesInput, Page } from "../../models/course.model";
import type { LessonForGrading, LessonView } from "../../models/lesson.model";
import type { AuthUser } from "../../models/auth.model";
import { courseView } from "./authoring";
import type { Caller, ContentDeps } from "./deps";
import { courseNotFound, lessonNotFound } from "./errors";
import { liveRequirementsOf } from "./structure";
import { learnerCourse, publicCourse } from "../../lib/course-views";
import { topicRows, topicSlug } from "./topics";
import { draftLessonView, gradingView, learnerLessonView, mediaRef, outlineView } from "./views";
import { pageOf } from "../../lib/params";

/**
 * What is read: the public catalogue (or an author's own list), and a course or lesson —
 * the draft for those who may edit it, the published version (a cached action) for
 * everyone else.
 */

export async function listCourses(
  deps: ContentDeps,
  input: ListCoursesInput,
  caller: Caller,
): Promise<Page<unknown>> {
  const { page, pageSize } = input;
  const author = input.mine ? actorWith(caller, ["author"]) : undefined;
  const result = author
    ? await deps.repo.listCourses(
        // An admin's own list is every course.
        author.roles.includes("admin") ? null : author.id,
        page,
        pageSize,
      )
    : await deps.repo.searchPublished({
        ...input,
        topic: input.topic ? topicSlug(input.topic) : undefined,
      });
  return { rows: result.rows, ...pageOf(result.total, page, pageSize) };
}

export async function readCourse(
  deps: ContentDeps,
  input: { id: string; view?: "draft" | "published" },
  caller: Caller,
) {
  const learner = caller.meta.user;
  if (input.view !== "published" && learner) {
    const draft = await deps.repo.getCourse(input.id);
    if (draft && deps.canEdit(learner, draft.ownerId)) return courseView(deps, draft);
  }
  const published = await deps.publishedCourse(input.id, caller);
  if (!published) throw courseNotFound(input.id);
  if (!learner) return publicCourse(published);
  return learnerCourse(
    {
      // A decoration of the answer: the course is not held up by retries when progress is away.
      completedLessons: (courseId, userId) => deps.completedLessons(courseId, userId, caller),
      logger: deps.logger,
    },
    published,
    learner,
  );
}

export async function readLesson(
  deps: ContentDeps,
  input: { id: string },
  actor: AuthUser,
  caller?: Pick<Caller, "requestID">,
): Promise<LessonView> {
  const draft = await deps.repo.getLesson(input.id);
  if (draft) {
    const course = await deps.repo.getCourse(draft.courseId);
    if (course && deps.canEdit(actor, course.ownerId)) {
      const media = (await deps.repo.getMediaMany(draft.media)).map(m =>
        mediaRef(deps.publicUrl, m),
      );
      return draftLessonView(draft, media, deps.publicUrl);
    }
  }
  const published = await deps.publishedLesson(input.id, caller);
  if (!published) throw lessonNotFound(input.id);
  return learnerLessonView(published, deps.publicUrl);
}

/** GET /topics: every topic of the live catalogue with its number of courses. */
export async function listTopics(deps: ContentDeps): Promise<TopicCount[]> {
  return topicRows(await deps.repo.topicCounts());
}

/** A course's access now (the draft record holds it; a course gone meanwhile is free). */
async function accessOf(deps: ContentDeps, courseId: string): Promise<CourseAccess> {
  return (await deps.repo.getCourse(courseId))?.access ?? "free";
}

/** The internal `lessonForGrading`: the live lesson with its answer keys, for progress. */
export async function lessonForGrading(
  deps: ContentDeps,
  input: { lessonId: string },
): Promise<LessonForGrading> {
  const lesson = await deps.repo.getPublishedLesson(input.lessonId);
  if (!lesson) throw lessonNotFound(input.lessonId);
  return gradingView(
    lesson,
    await accessOf(deps, lesson.courseId),
    await liveRequirementsOf(deps.repo, lesson),
    deps.publicUrl,
  );
}

/** The internal `courseOutline`: a live course's lessons and access, for progress. */
export async function courseOutline(
  deps: ContentDeps,
  input: { courseId: string },
): Promise<CourseOutline> {
  const course = await deps.repo.getPublishedCourse(input.courseId);
  if (!course) throw courseNotFound(input.courseId);
  return outlineView(course, await accessOf(deps, course.id));
}

/** The internal `coursesByIds`: the briefs of live courses, in the order asked, unknown ids left out. */
export async function coursesByIds(
  deps: ContentDeps,
  input: { ids: string[] },
): Promise<CourseBrief[]> {
  const byId = new Map(
    (await deps.repo.publishedBriefs([...new Set(input.ids)])).map(c => [c.id, c]),
  );
  return input.ids.flatMap(id => byId.get(id) ?? []);
}
