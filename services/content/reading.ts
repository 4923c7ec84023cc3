import { actorWith } from "../../lib/auth/guard";
import type { ListCoursesInput, Page, PublishedCourse } from "../../models/course.model";
import type { LessonView } from "../../models/lesson.model";
import type { AuthUser } from "../../models/auth.model";
import { courseView } from "./authoring";
import type { ContentThis, Ctx, LessonReadDeps } from "./context";
import { courseNotFound, lessonNotFound } from "./errors";
import { learnerCourse, publicCourse } from "./structure";
import { topicSlug } from "./topics";
import { draftLessonView, learnerLessonView, mediaRef } from "./views";
import { pageOf } from "../../lib/params";

/**
 * What is read: the public catalogue (or an author's own list), and a course or lesson —
 * the draft for those who may edit it, the published version (a cached action) for
 * everyone else.
 */

export async function listCourses(
  svc: ContentThis,
  ctx: Ctx<ListCoursesInput>,
): Promise<Page<unknown>> {
  const { page, pageSize } = ctx.params;
  const author = ctx.params.mine ? actorWith(ctx, ["author"]) : undefined;
  const result = author
    ? await svc.repo.listCourses(
        // An admin's own list is every course.
        author.roles.includes("admin") ? null : author.id,
        page,
        pageSize,
      )
    : await svc.repo.searchPublished({
        ...ctx.params,
        topic: ctx.params.topic ? topicSlug(ctx.params.topic) : undefined,
      });
  return { rows: result.rows, ...pageOf(result.total, page, pageSize) };
}

export async function readCourse(
  svc: ContentThis,
  ctx: Ctx<{ id: string; view?: "draft" | "published" }>,
) {
  if (ctx.params.view !== "published" && ctx.meta.user) {
    const draft = await svc.repo.getCourse(ctx.params.id);
    if (draft && svc.canEdit(ctx.meta.user, draft.ownerId)) return courseView(svc.deps(ctx), draft);
  }
  const published = await ctx.call<PublishedCourse | null, { id: string }>(
    "content.publishedCourse",
    { id: ctx.params.id },
  );
  if (!published) throw courseNotFound(ctx.params.id);
  const learner = ctx.meta.user;
  if (!learner) return publicCourse(published);
  return learnerCourse(
    {
      completedLessons: async (courseId, userId) => {
        try {
          // A decoration of the answer: the course is not held up by retries when progress is away.
          return await ctx.call<string[], { courseId: string; userId: string }>(
            "progress.completedLessons",
            { courseId, userId },
            { retries: 0 },
          );
        } catch (err) {
          svc.logger.warn(`course ${courseId} read without the learner's progress`, err);
          return null;
        }
      },
    },
    { course: published },
    learner,
  );
}

export async function readLesson(
  deps: LessonReadDeps,
  input: { id: string },
  actor: AuthUser,
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
  const published = await deps.publishedLesson(input.id);
  if (!published) throw lessonNotFound(input.id);
  return learnerLessonView(published, deps.publicUrl);
}
