import { v7 as uuidv7 } from "uuid";
import type { DomainEvents, DomainEventType } from "../../models/events.model";
import type {
  CourseRecord,
  CreateCourseInput,
  DraftCourseView,
  PublishedCourse,
  UpdateCourseInput,
} from "../../models/course.model";
import type {
  Card,
  LessonInput,
  LessonOutline,
  LessonRecord,
  LessonView,
  PublishedLesson,
} from "../../models/lesson.model";
import type { MediaRef } from "../../models/media.model";
import type { ContentRepository, Tx } from "./repository";
import { topicName, topicSlugs } from "./topics";
import { validationError } from "../../lib/errors";
import { assertValidLesson, withIds } from "./validation";
import { draftLessonView, mediaRef, withAudioUrl } from "./views";
import { assertValidPlacement, placementOf, releaseDependents, unitOutline } from "./structure";
import { structured } from "../../lib/course-views";

/**
 * The authoring use cases: drafts change freely; publish copies the draft into an
 * immutable version. Each change runs in one transaction with its durable event.
 * Access (who may touch which course) is checked by the service before these run.
 */
export interface AuthoringDeps {
  repo: ContentRepository;
  publicUrl: string;
  transaction<T>(fn: (t: Tx) => Promise<T>): Promise<T>;
  emit<K extends DomainEventType>(type: K, data: DomainEvents[K], t: Tx): Promise<void>;
}

const now = () => new Date().toISOString();

export async function courseView(
  deps: AuthoringDeps,
  course: CourseRecord,
  tx?: Tx,
): Promise<DraftCourseView> {
  const [lessons, units] = await Promise.all([
    deps.repo.listLessons(course.id, tx),
    deps.repo.listUnits(course.id, tx),
  ]);
  return { ...course, ...structured(lessons.map(outlineOf), units.map(unitOutline)) };
}

function outlineOf(l: LessonRecord): LessonOutline {
  return { id: l.id, title: l.title, order: l.order, kind: l.kind, ...placementOf(l) };
}

export async function createCourse(
  deps: AuthoringDeps,
  ownerId: string,
  input: CreateCourseInput,
  id = uuidv7(),
) {
  const at = now();
  const course: CourseRecord = {
    id,
    ownerId,
    title: input.title,
    description: input.description ?? "",
    level: input.level,
    topics: topicSlugs(input.topics ?? []),
    language: input.language ?? "en",
    status: "draft",
    access: "free",
    version: 0,
    hasUnpublishedChanges: true,
    createdAt: at,
    updatedAt: at,
    publishedAt: null,
  };
  await deps.transaction(t => deps.repo.insertCourse(course, t));
  return { ...course, lessons: [], units: [] } satisfies DraftCourseView;
}

export async function updateCourse(
  deps: AuthoringDeps,
  course: CourseRecord,
  input: UpdateCourseInput,
) {
  // Access is no content: changing only it leaves the published version current.
  const contentChanged = Object.keys(input).some(key => key !== "access");
  const patch: Partial<CourseRecord> = {
    ...input,
    ...(contentChanged ? { hasUnpublishedChanges: true } : {}),
    updatedAt: now(),
  };
  if (input.topics) patch.topics = topicSlugs(input.topics);
  return deps.transaction(async t => {
    await deps.repo.updateCourse(course.id, patch, t);
    return courseView(deps, { ...course, ...patch }, t);
  });
}

export async function deleteCourse(deps: AuthoringDeps, course: CourseRecord): Promise<void> {
  await deps.transaction(async t => {
    const lessons = await deps.repo.listLessons(course.id, t);
    for (const lesson of lessons)
      await deps.emit(
        "content.lesson.deleted",
        { lessonId: lesson.id, courseId: course.id, courseVersion: course.version },
        t,
      );
    await deps.repo.deleteCourse(course.id, t);
  });
}

/** Media ids must name uploaded files; answers their refs in the given order. */
async function resolveMedia(
  deps: AuthoringDeps,
  ids: string[],
  field: string,
  tx?: Tx,
): Promise<MediaRef[]> {
  if (ids.length === 0) return [];
  const found = new Map((await deps.repo.getMediaMany(ids, tx)).map(m => [m.id, m]));
  const missing = ids.filter(id => !found.has(id));
  if (missing.length > 0) {
    throw validationError(
      missing.map(id => ({
        type: "mediaExists",
        field,
        message: `No uploaded media has the id "${id}".`,
        actual: id,
      })),
    );
  }
  return ids.map(id => mediaRef(deps.publicUrl, found.get(id)!));
}

async function checkMedia(deps: AuthoringDeps, lesson: LessonRecord, tx?: Tx): Promise<MediaRef[]> {
  const refs = await resolveMedia(deps, lesson.media, "media", tx);
  const audio = lesson.cards.map(c => c.audio).filter((id): id is string => Boolean(id));
  await resolveMedia(deps, audio, "cards.audio", tx);
  const listened = lesson.questions.flatMap(q => (q.media ? [q.media] : []));
  const sounds = await resolveMedia(deps, listened, "questions.media", tx);
  const notAudio = sounds.filter(m => !m.contentType.startsWith("audio/"));
  if (notAudio.length > 0) {
    throw validationError(
      notAudio.map(m => ({
        type: "mediaAudio",
        field: "questions.media",
        message: `A listen question plays audio; "${m.id}" is ${m.contentType}.`,
        actual: m.id,
      })),
    );
  }
  return refs;
}

function buildLesson(
  base: Omit<LessonRecord, "questions" | "cards"> & Pick<LessonInput, "questions" | "cards">,
): LessonRecord {
  const shape = {
    kind: base.kind,
    body: base.body,
    media: base.media,
    questions: base.questions ?? [],
    cards: base.cards ?? [],
  };
  assertValidLesson(shape);
  const { questions, cards } = withIds(shape.questions, shape.cards);
  return { ...base, questions, cards };
}

export async function createLesson(
  deps: AuthoringDeps,
  course: CourseRecord,
  input: LessonInput,
  id = uuidv7(),
): Promise<LessonView> {
  const at = now();
  return deps.transaction(async t => {
    const existing = await deps.repo.listLessons(course.id, t);
    const lesson = buildLesson({
      id,
      courseId: course.id,
      kind: input.kind,
      title: input.title,
      order: input.order ?? existing.reduce((max, l) => Math.max(max, l.order + 1), 1),
      unitId: input.unitId ?? null,
      requires: input.requires ?? [],
      skills: input.skills ?? [],
      body: input.body,
      media: input.media ?? [],
      questions: input.questions,
      cards: input.cards,
      createdAt: at,
      updatedAt: at,
    });
    const media = await checkMedia(deps, lesson, t);
    await assertValidPlacement(deps, lesson, t);
    await deps.repo.insertLesson(lesson, t);
    await deps.repo.updateCourse(course.id, { hasUnpublishedChanges: true, updatedAt: at }, t);
    return draftLessonView(lesson, media, deps.publicUrl);
  });
}

export async function updateLesson(
  deps: AuthoringDeps,
  current: LessonRecord,
  input: Partial<LessonInput>,
): Promise<LessonView> {
  const at = now();
  const lesson = buildLesson({
    ...current,
    ...Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)),
    updatedAt: at,
  });
  return deps.transaction(async t => {
    const media = await checkMedia(deps, lesson, t);
    await assertValidPlacement(deps, lesson, t);
    await deps.repo.updateLesson(lesson, t);
    await deps.repo.updateCourse(
      lesson.courseId,
      { hasUnpublishedChanges: true, updatedAt: at },
      t,
    );
    return draftLessonView(lesson, media, deps.publicUrl);
  });
}

/** Deleting is a take-down: the lesson leaves the draft and the live version at once. */
export async function deleteLesson(deps: AuthoringDeps, lesson: LessonRecord): Promise<void> {
  await deps.transaction(async t => {
    const course = await deps.repo.getCourse(lesson.courseId, t);
    await deps.repo.withdrawPublishedLesson(lesson.courseId, lesson.id, t);
    await deps.repo.updateCourse(
      lesson.courseId,
      { hasUnpublishedChanges: true, updatedAt: now() },
      t,
    );
    await deps.emit(
      "content.lesson.deleted",
      // The course's aggregate version (events.md): the published version the lesson leaves.
      { lessonId: lesson.id, courseId: lesson.courseId, courseVersion: course?.version ?? 0 },
      t,
    );
    await releaseDependents(deps, lesson, t);
    await deps.repo.deleteLesson(lesson.id, t);
  });
}

/** Freezes the draft as the next version; learners see it from now on. */
export async function publishCourse(
  deps: AuthoringDeps,
  courseId: string,
): Promise<DraftCourseView> {
  return deps.transaction(async t => {
    const course = await deps.repo.getCourse(courseId, t);
    if (!course) throw new Error(`course ${courseId} vanished`);
    const lessons = await deps.repo.listLessons(course.id, t);
    const units = await deps.repo.listUnits(course.id, t);
    if (lessons.length === 0) {
      throw validationError([
        {
          type: "required",
          field: "lessons",
          message: "Add at least one lesson before publishing.",
        },
      ]);
    }
    const version = course.version + 1;
    const at = now();
    const published: PublishedCourse = {
      id: course.id,
      ownerId: course.ownerId,
      title: course.title,
      description: course.description,
      level: course.level,
      topics: course.topics,
      language: course.language,
      status: "published",
      version,
      publishedAt: at,
      lessons: lessons.map(outlineOf),
      units: units.map(unitOutline),
    };
    const frozen: PublishedLesson[] = [];
    for (const l of lessons) {
      const mediaFiles = await checkMedia(deps, l, t);
      frozen.push({
        id: l.id,
        courseId: course.id,
        courseVersion: version,
        kind: l.kind,
        title: l.title,
        order: l.order,
        ...placementOf(l),
        body: l.body,
        media: l.media,
        mediaFiles,
        questions: l.questions,
        cards: l.cards.map((c: Card) => withAudioUrl(deps.publicUrl, c)),
        skills: l.skills,
      });
    }
    await deps.emit(
      "content.course.published",
      {
        courseId: course.id,
        version,
        title: course.title,
        level: course.level,
        topics: course.topics,
        topicNames: course.topics.map(topicName),
      },
      t,
    );
    await deps.repo.savePublished(published, frozen, t);
    const patch: Partial<CourseRecord> = {
      status: "published",
      version,
      hasUnpublishedChanges: false,
      publishedAt: at,
      updatedAt: at,
    };
    await deps.repo.updateCourse(course.id, patch, t);
    return { ...course, ...patch, ...structured(published.lessons, published.units) };
  });
}
