import type { Context } from "moleculer";
import type { Transaction } from "sequelize";
import type { CourseOutline } from "../../models/course.model";
import type { FlashcardSource } from "../../models/progress.model";
import type { ProgressThis } from "./context";
import * as remote from "./remote";
import { newCardState } from "./srs";
import * as store from "./store";

/**
 * Keeps progress's copy of a course in step with the versions content publishes: the
 * lesson list (completion totals) and each enrolled learner's flashcards.
 */

export type Deck = { lessonId: string; cards: FlashcardSource[] };

/** Fetches the course's lessons when a newer version than ours is published. */
export async function refreshCourse(
  svc: ProgressThis,
  ctx: Context,
  courseId: string,
  minVersion: number,
): Promise<void> {
  const known = await store.findCourse(svc, courseId);
  if (known && known.lessons_version >= Math.max(minVersion, known.version)) return;
  const outline = await remote.courseOutline(ctx, courseId);
  await svc.withTransaction(t => store.saveCourseOutline(svc, outline, t));
}

/** Gives the learner the cards of `decks` they lack and records the version the decks are of. */
export async function addDecks(
  db: store.Db,
  c: {
    userId: string;
    outline: CourseOutline;
    enrollmentId: string;
    decks: Deck[];
    now: Date;
  },
  t: Transaction,
): Promise<void> {
  for (const deck of c.decks) {
    for (const card of deck.cards) {
      await store.upsertCard(
        db,
        {
          userId: c.userId,
          cardId: card.id,
          lessonId: deck.lessonId,
          courseId: c.outline.id,
          front: card.front,
          back: card.back,
          initial: newCardState(c.now),
        },
        t,
      );
    }
  }
  await store.setCardsVersion(db, c.enrollmentId, c.outline.version, t);
}

async function syncCards(
  svc: ProgressThis,
  ctx: Context,
  userId: string,
  outline: CourseOutline,
  enrollment: store.EnrollmentRow,
): Promise<void> {
  const decks = await remote.flashcardsOf(ctx, outline);
  const now = svc.now();
  await svc.withTransaction(async t => {
    await store.saveCourseOutline(svc, outline, t);
    await addDecks(svc, { userId, outline, enrollmentId: enrollment.id, decks, now }, t);
  });
}

/** Decks of a course version published after enrolling join the learner's cards. */
export async function syncNewDecks(svc: ProgressThis, ctx: Context, userId: string): Promise<void> {
  for (const enrollment of await store.enrollmentsWithNewDecks(svc, userId)) {
    try {
      const outline = await remote.courseOutline(ctx, enrollment.course_id);
      await syncCards(svc, ctx, userId, outline, enrollment);
    } catch (err) {
      svc.logger.warn(
        `cards of course ${enrollment.course_id} not synced: ${(err as Error).message}`,
      );
    }
  }
}
