import type { Transaction } from "sequelize";
import type { CourseOutline } from "../../models/course.model";
import type { FlashcardSource } from "../../models/progress.model";
import type { Caller, ProgressDeps } from "./deps";
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
  deps: ProgressDeps,
  courseId: string,
  minVersion: number,
  caller?: Caller,
): Promise<void> {
  const known = await store.findCourse(deps.db, courseId);
  if (known && known.lessons_version >= Math.max(minVersion, known.version)) return;
  const outline = await remote.courseOutline(deps, courseId, caller);
  await deps.withTransaction(t => store.saveCourseOutline(deps.db, outline, t));
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
  deps: ProgressDeps,
  userId: string,
  outline: CourseOutline,
  enrollment: store.EnrollmentRow,
  caller?: Caller,
): Promise<void> {
  const decks = await remote.flashcardsOf(deps, outline, caller);
  const now = deps.now();
  await deps.withTransaction(async t => {
    await store.saveCourseOutline(deps.db, outline, t);
    await addDecks(deps.db, { userId, outline, enrollmentId: enrollment.id, decks, now }, t);
  });
}

/** Decks of a course version published after enrolling join the learner's cards. */
export async function syncNewDecks(
  deps: ProgressDeps,
  userId: string,
  caller?: Caller,
): Promise<void> {
  for (const enrollment of await store.enrollmentsWithNewDecks(deps.db, userId)) {
    try {
      const outline = await remote.courseOutline(deps, enrollment.course_id, caller);
      await syncCards(deps, userId, outline, enrollment, caller);
    } catch (err) {
      deps.logger.warn(
        `cards of course ${enrollment.course_id} not synced: ${(err as Error).message}`,
      );
    }
  }
}
