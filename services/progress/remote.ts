import type { CefrLevel, CourseBrief, CourseCard, CourseOutline } from "../../models/course.model";
import type { LessonForGrading } from "../../models/lesson.model";
import type { FlashcardSource } from "../../models/progress.model";
import type { UserSummary } from "../../models/user.model";
import type { Caller, ProgressDeps } from "./deps";
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

type RemoteDeps = Pick<ProgressDeps, "content" | "users" | "contentCopy" | "usersCopy" | "logger">;

const gradingKey = (lessonId: string) => `lessonForGrading:${lessonId}`;

/** Whether this node's copy holds the lesson's grading view: the id is a published lesson's. */
export function holdsLesson(deps: Pick<ProgressDeps, "contentCopy">, lessonId: string): boolean {
  return deps.contentCopy?.get(gradingKey(lessonId)) !== undefined;
}

/**
 * Content's answer under `key` from this node's copy (cleared on content's
 * `cache.clean.content` after every change), else asked and kept. Content's live versions
 * are what every learner's reads and attempts ask for, again and again.
 */
async function fromContentCopy<T>(
  deps: RemoteDeps,
  key: string,
  ask: () => Promise<T>,
): Promise<T> {
  const copy = deps.contentCopy;
  const held = copy?.get(key) as T | undefined;
  if (held !== undefined) return held;
  // Read before the call: a clean arriving while it is on its way keeps its answer out.
  const generation = copy?.generation ?? 0;
  const answer = await ask();
  copy?.set(key, answer, generation);
  return answer;
}

export async function lessonForGrading(
  deps: RemoteDeps,
  lessonId: string,
  caller?: Caller,
): Promise<LessonForGrading> {
  try {
    return await fromContentCopy(deps, gradingKey(lessonId), () =>
      deps.content.lessonForGrading(lessonId, caller),
    );
  } catch (err) {
    if (isNotFound(err)) throw lessonNotFound(lessonId);
    throw err;
  }
}

/** A published lesson's grading view, or undefined when content no longer has it. */
export async function lessonIfPublished(
  deps: RemoteDeps,
  lessonId: string,
  caller?: Caller,
): Promise<LessonForGrading | undefined> {
  try {
    return await lessonForGrading(deps, lessonId, caller);
  } catch (err) {
    if ((err as { type?: string }).type === "LESSON_NOT_FOUND") return undefined;
    throw err;
  }
}

export async function courseOutline(
  deps: RemoteDeps,
  courseId: string,
  caller?: Caller,
): Promise<CourseOutline> {
  try {
    return await fromContentCopy(deps, `courseOutline:${courseId}`, () =>
      deps.content.courseOutline(courseId, caller),
    );
  } catch (err) {
    if (isNotFound(err)) throw courseNotFound(courseId);
    throw err;
  }
}

/** A published course's outline, or undefined when content no longer has it. */
export async function outlineIfPublished(
  deps: RemoteDeps,
  courseId: string,
  caller?: Caller,
): Promise<CourseOutline | undefined> {
  try {
    return await courseOutline(deps, courseId, caller);
  } catch (err) {
    if ((err as { type?: string }).type === "COURSE_NOT_FOUND") return undefined;
    throw err;
  }
}

/** The first page of the public catalogue at one level (content's ranking). */
export function catalogueAt(
  deps: RemoteDeps,
  level: CefrLevel,
  caller?: Caller,
): Promise<CourseCard[]> {
  return fromContentCopy(deps, `catalogueAt:${level}`, () =>
    deps.content.catalogueAt(level, caller),
  );
}

/**
 * Summaries of the published courses among `ids` (a course absent from the answer no longer
 * exists); undefined when content cannot answer, leaving the caller with its own copy.
 */
export async function courseSummaries(
  deps: RemoteDeps,
  ids: string[],
  caller?: Caller,
): Promise<Map<string, CourseBrief> | undefined> {
  if (ids.length === 0) return new Map();
  const key = `coursesByIds:${JSON.stringify([...ids].sort())}`;
  try {
    const found = await fromContentCopy(deps, key, () => deps.content.coursesByIds(ids, caller));
    return new Map(found.map(c => [c.id, c]));
  } catch (err) {
    deps.logger.warn(
      `content.coursesByIds failed, answering from progress's copy: ${(err as Error).message}`,
    );
    return undefined;
  }
}

/** The cards of every flashcards lesson of a published course (a lesson gone meanwhile is skipped). */
export async function flashcardsOf(
  deps: RemoteDeps,
  outline: CourseOutline,
  caller?: Caller,
): Promise<Array<{ lessonId: string; cards: FlashcardSource[] }>> {
  const decks = outline.lessons.filter(l => l.kind === "flashcards");
  const found = await Promise.all(
    decks.map(async deck => {
      try {
        const lesson = await lessonForGrading(deps, deck.id, caller);
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
  deps: RemoteDeps,
  userId: string,
  caller?: Caller,
  timeout = 1000,
): Promise<UserSummary | undefined> {
  const copy = deps.usersCopy;
  const key = `profile:${userId}`;
  const held = copy?.get(key) as UserSummary | undefined;
  if (held) return held;
  const generation = copy?.generation ?? 0;
  try {
    const found = await deps.users.profiles([userId], timeout, caller);
    const profile = found.find(p => p.id === userId);
    if (profile) copy?.set(key, profile, generation);
    return profile;
  } catch (err) {
    deps.logger.warn(`users.profiles failed, using progress's copy: ${(err as Error).message}`);
    return undefined;
  }
}

/** The ids of the people a learner follows (users owns the follow graph). */
export function followingOf(deps: RemoteDeps, userId: string, caller?: Caller): Promise<string[]> {
  return deps.users.followingIds(userId, caller);
}
