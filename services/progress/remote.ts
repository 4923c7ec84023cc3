import type { Context } from "moleculer";
import type { PublishedReadCache } from "../../lib/published-read-cache";
import type {
  CefrLevel,
  CourseBrief,
  CourseCard,
  CourseOutline,
  Page,
} from "../../models/course.model";
import type { LessonForGrading } from "../../models/lesson.model";
import type { FlashcardSource } from "../../models/progress.model";
import type { UserSummary } from "../../models/user.model";
import { courseNotFound, lessonNotFound } from "./errors";

/**
 * Calls to content and users (their internal actions). A 404 from content becomes this
 * service's own 404 type; anything else (content down: 503) passes through unchanged.
 */

function isNotFound(err: unknown): boolean {
  // Moleculer's ServiceNotFound/NotAvailable errors are 404s too: content being down must stay a 503.
  const { code, type } = err as { code?: number; type?: string };
  return code === 404 && type !== "SERVICE_NOT_FOUND" && type !== "SERVICE_NOT_AVAILABLE";
}

/** The node's copy of content reads (ProgressVars.contentCopy), when the service keeps one. */
function copyOf(ctx: Context): PublishedReadCache | undefined {
  return (ctx.service as { contentCopy?: PublishedReadCache } | undefined)?.contentCopy;
}

/** The node's copy of users' profiles (ProgressVars.usersCopy), when the service keeps one. */
function usersCopyOf(ctx: Context): PublishedReadCache | undefined {
  return (ctx.service as { usersCopy?: PublishedReadCache } | undefined)?.usersCopy;
}

export async function lessonForGrading(ctx: Context, lessonId: string): Promise<LessonForGrading> {
  const copy = copyOf(ctx);
  const key = `lessonForGrading:${lessonId}`;
  const held = copy?.get(key) as LessonForGrading | undefined;
  if (held) return held;
  // Read before the call: a clean arriving while it is on its way keeps its answer out.
  const generation = copy?.generation ?? 0;
  try {
    const lesson = await ctx.call<LessonForGrading, { lessonId: string }>(
      "content.lessonForGrading",
      { lessonId },
    );
    copy?.set(key, lesson, generation);
    return lesson;
  } catch (err) {
    if (isNotFound(err)) throw lessonNotFound(lessonId);
    throw err;
  }
}

/** A published lesson's grading view, or undefined when content no longer has it. */
export async function lessonIfPublished(
  ctx: Context,
  lessonId: string,
): Promise<LessonForGrading | undefined> {
  try {
    return await lessonForGrading(ctx, lessonId);
  } catch (err) {
    if ((err as { type?: string }).type === "LESSON_NOT_FOUND") return undefined;
    throw err;
  }
}

export async function courseOutline(ctx: Context, courseId: string): Promise<CourseOutline> {
  try {
    return await ctx.call<CourseOutline, { courseId: string }>("content.courseOutline", {
      courseId,
    });
  } catch (err) {
    if (isNotFound(err)) throw courseNotFound(courseId);
    throw err;
  }
}

/** A published course's outline, or undefined when content no longer has it. */
export async function outlineIfPublished(
  ctx: Context,
  courseId: string,
): Promise<CourseOutline | undefined> {
  try {
    return await courseOutline(ctx, courseId);
  } catch (err) {
    if ((err as { type?: string }).type === "COURSE_NOT_FOUND") return undefined;
    throw err;
  }
}

/** The first page of the public catalogue at one level (content's ranking). */
export async function catalogueAt(ctx: Context, level: CefrLevel): Promise<CourseCard[]> {
  const page = await ctx.call<
    Page<CourseCard>,
    { level: CefrLevel; page: number; pageSize: number }
  >("content.listCourses", { level, page: 1, pageSize: 20 });
  return page.rows;
}

/**
 * Summaries of the published courses among `ids` (a course absent from the answer no longer
 * exists); undefined when content cannot answer, leaving the caller with its own copy.
 */
export async function courseSummaries(
  ctx: Context,
  ids: string[],
): Promise<Map<string, CourseBrief> | undefined> {
  if (ids.length === 0) return new Map();
  const copy = copyOf(ctx);
  const key = `coursesByIds:${JSON.stringify([...ids].sort())}`;
  const held = copy?.get(key) as CourseBrief[] | undefined;
  if (held) return new Map(held.map(c => [c.id, c]));
  const generation = copy?.generation ?? 0;
  try {
    const found = await ctx.call<CourseBrief[], { ids: string[] }>("content.coursesByIds", {
      ids,
    });
    copy?.set(key, found, generation);
    return new Map(found.map(c => [c.id, c]));
  } catch (err) {
    ctx.service?.logger.warn(
      `content.coursesByIds failed, answering from progress's copy: ${(err as Error).message}`,
    );
    return undefined;
  }
}

/** The cards of every flashcards lesson of a published course (a lesson gone meanwhile is skipped). */
export async function flashcardsOf(
  ctx: Context,
  outline: CourseOutline,
): Promise<Array<{ lessonId: string; cards: FlashcardSource[] }>> {
  const decks = outline.lessons.filter(l => l.kind === "flashcards");
  const found = await Promise.all(
    decks.map(async deck => {
      try {
        const lesson = await lessonForGrading(ctx, deck.id);
        return { lessonId: lesson.id, cards: lesson.cards ?? [] };
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    }),
  );
  return found.filter((d): d is { lessonId: string; cards: FlashcardSource[] } => d !== undefined);
}

/** The learner's profile from users, or undefined when users cannot answer now. */
export async function profileOf(
  ctx: Context,
  userId: string,
  timeout = 1000,
): Promise<UserSummary | undefined> {
  const copy = usersCopyOf(ctx);
  const key = `profile:${userId}`;
  const held = copy?.get(key) as UserSummary | undefined;
  if (held) return held;
  const generation = copy?.generation ?? 0;
  try {
    const found = await ctx.call<UserSummary[], { ids: string[] }>(
      "users.profiles",
      { ids: [userId] },
      { timeout },
    );
    const profile = found.find(p => p.id === userId);
    if (profile) copy?.set(key, profile, generation);
    return profile;
  } catch (err) {
    ctx.service?.logger.warn(
      `users.profiles failed, using progress's copy: ${(err as Error).message}`,
    );
    return undefined;
  }
}

/** The ids of the people a learner follows (users owns the follow graph). */
export function followingOf(ctx: Context, userId: string): Promise<string[]> {
  return ctx.call<string[], { userId: string }>(
    "users.followingIds",
    { userId },
    { timeout: 3000 },
  );
}
