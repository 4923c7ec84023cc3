import { actorOf, actorWith } from "../../lib/auth/guard";
import type { ListCoursesInput, Page, PublishedCourse } from "../../models/course.model";
import type { LessonView, PublishedLesson } from "../../models/lesson.model";
import { courseView } from "./authoring";
import type { ContentThis, Ctx } from "./context";
import { courseNotFound, lessonNotFound } from "./errors";
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
  return published;
}

export async function readLesson(svc: ContentThis, ctx: Ctx<{ id: string }>): Promise<LessonView> {
  const user = actorOf(ctx);
  const draft = await svc.repo.getLesson(ctx.params.id);
  if (draft) {
    const course = await svc.repo.getCourse(draft.courseId);
    if (course && svc.canEdit(user, course.ownerId)) {
      const media = (await svc.repo.getMediaMany(draft.media)).map(m => mediaRef(svc.publicUrl, m));
      return draftLessonView(draft, media, svc.publicUrl);
    }
  }
  const published = await ctx.call<PublishedLesson | null, { id: string }>(
    "content.publishedLesson",
    { id: ctx.params.id },
  );
  if (!published) throw lessonNotFound(ctx.params.id);
  return learnerLessonView(published, svc.publicUrl);
}
