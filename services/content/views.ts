import crypto from "node:crypto";
import type { CourseAccess } from "../../models/billing.model";
import type { CourseOutline } from "../../models/course.model";
import type {
  Card,
  LearnerQuestion,
  LessonForGrading,
  LessonRecord,
  LessonView,
  PublishedLesson,
  Question,
} from "../../models/lesson.model";
import type { MediaRecord, MediaRef } from "../../models/media.model";
import type { PublishedCourse } from "../../models/course.model";

function mediaUrl(publicUrl: string, id: string): string {
  return `${publicUrl}/api/v1/media/${encodeURIComponent(id)}`;
}

export function mediaRef(publicUrl: string, m: MediaRecord): MediaRef {
  return { id: m.id, url: mediaUrl(publicUrl, m.id), contentType: m.contentType, size: m.size };
}

/** A card's playable URL: its uploaded audio when it has one. */
export function withAudioUrl(publicUrl: string, card: Card): Card {
  return card.audio ? { ...card, audioUrl: mediaUrl(publicUrl, card.audio) } : card;
}

/**
 * The items of an ordering question in an order that is not the answer: the stored
 * options may well be in the right order. Deterministic per question, so a learner
 * sees the same order on every read (and caches stay valid).
 */
export function scrambled(q: Question, options: string[]): string[] {
  const items = [...options];
  if (items.length < 2) return items;
  // An order's key is its items; a match's right column never lines up with its left one.
  const answer =
    q.type === "match" && Array.isArray(q.answer)
      ? q.answer.map(pair => (Array.isArray(pair) ? pair[1] : pair))
      : Array.isArray(q.answer)
        ? q.answer
        : [];
  const keyed = items.map(item => ({
    item,
    key: crypto.createHash("sha256").update(`${q.id}\u0000${item}`).digest("hex"),
  }));
  keyed.sort((a, b) => a.key.localeCompare(b.key));
  let out = keyed.map(k => k.item);
  if (out.join("\u0000") === answer.join("\u0000")) out = [...out.slice(1), out[0]];
  return out;
}

function learnerOptions(q: Question): LearnerQuestion["options"] {
  const options = q.options;
  if (options === undefined) return undefined;
  if (!Array.isArray(options))
    return { left: [...options.left], right: scrambled(q, options.right) };
  return q.type === "order" ? scrambled(q, options) : [...options];
}

/** What a learner may see of a question: never the answer key or the explanation. */
export function learnerQuestion(q: Question, publicUrl: string): LearnerQuestion {
  const out: LearnerQuestion = { id: q.id, type: q.type, prompt: q.prompt };
  const options = learnerOptions(q);
  if (options) out.options = options;
  if (q.media) {
    out.media = q.media;
    out.mediaUrl = mediaUrl(publicUrl, q.media);
  }
  return out;
}

export function draftLessonView(l: LessonRecord, media: MediaRef[], publicUrl: string): LessonView {
  return {
    id: l.id,
    courseId: l.courseId,
    kind: l.kind,
    title: l.title,
    order: l.order,
    unitId: l.unitId,
    requires: l.requires,
    body: l.body,
    media,
    questions: l.questions,
    cards: l.cards.map(c => withAudioUrl(publicUrl, c)),
    skills: l.skills,
    status: "draft",
    createdAt: l.createdAt,
    updatedAt: l.updatedAt,
  };
}

/** What names a published lesson, in every view of it. */
function publishedLessonKey(l: PublishedLesson) {
  return {
    id: l.id,
    courseId: l.courseId,
    courseVersion: l.courseVersion,
    kind: l.kind,
    title: l.title,
  };
}

/** A published lesson as a learner reads it (answer keys stripped). */
export function learnerLessonView(l: PublishedLesson, publicUrl: string): LessonView {
  return {
    ...publishedLessonKey(l),
    order: l.order,
    unitId: l.unitId ?? null,
    requires: l.requires ?? [],
    body: l.body,
    media: l.mediaFiles,
    questions: l.questions.map(q => learnerQuestion(q, publicUrl)),
    cards: l.cards,
    skills: l.skills ?? [],
    status: "published",
  };
}

export function gradingView(
  l: PublishedLesson,
  courseAccess: CourseAccess,
  requires: string[],
  publicUrl: string,
): LessonForGrading {
  return {
    ...publishedLessonKey(l),
    courseAccess,
    requires,
    skills: l.skills ?? [],
    questions: l.questions.map(q => ({
      id: q.id,
      type: q.type,
      prompt: q.prompt,
      options: q.options ?? [],
      answer: q.answer,
      explanation: q.explanation ?? null,
      skills: q.skills ?? [],
      shown: learnerQuestion(q, publicUrl),
    })),
    cards: l.cards.map(c => ({
      id: c.id,
      front: c.front,
      back: c.back,
      example: c.example ?? null,
      audioUrl: c.audioUrl ?? null,
    })),
  };
}

export function outlineView(c: PublishedCourse, access: CourseAccess): CourseOutline {
  return {
    id: c.id,
    access,
    title: c.title,
    level: c.level,
    version: c.version,
    lessons: c.lessons,
  };
}
