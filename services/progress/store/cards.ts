import type { Transaction } from "sequelize";
import type { CardState, ReviewLog, StoredCard } from "../srs";
import { count, exec, one, rows, S, type Db } from "./sql";

/** The learners' flashcards (FSRS state) and their review log. */

/** A review_cards row: the card's text and its FSRS state as ts-fsrs spells it. */
export interface CardRow extends StoredCard {
  card_id: string;
  lesson_id: string;
  course_id: string;
  front: string;
  back: string;
  due: Date;
}

/**
 * Adds a card for the learner; an existing card keeps its schedule (only its text follows
 * content). A card is its lesson's: the same id in another lesson is another card.
 */
export async function upsertCard(
  db: Db,
  c: {
    userId: string;
    cardId: string;
    lessonId: string;
    courseId: string;
    front: string;
    back: string;
    initial: CardState;
  },
  t: Transaction,
): Promise<void> {
  await exec(
    db,
    `INSERT INTO ${S}.review_cards (user_id, card_id, lesson_id, course_id, front, back, due, stability, difficulty,
       elapsed_days, scheduled_days, learning_steps, reps, lapses, state, last_review)
     VALUES (:userId, :cardId, :lessonId, :courseId, :front, :back, :due, :stability, :difficulty,
       :elapsedDays, :scheduledDays, :learningSteps, :reps, :lapses, :state, :lastReview)
     ON CONFLICT (user_id, lesson_id, card_id) DO UPDATE SET front = EXCLUDED.front, back = EXCLUDED.back`,
    {
      userId: c.userId,
      cardId: c.cardId,
      lessonId: c.lessonId,
      courseId: c.courseId,
      front: c.front,
      back: c.back,
      // The CardState fields are the statement's named columns.
      ...c.initial,
    },
    t,
  );
}

/** FSRS's state of a card never reviewed (ts-fsrs State.New): what `newCardsPerDay` limits. */
const NEW = 0;

/**
 * The learner's cards due at `now`: every card already in review, and at most `newCards`
 * never-reviewed ones (oldest first), by due time.
 */
export async function dueCards(
  db: Db,
  userId: string,
  now: Date,
  limit: number,
  newCards: number,
): Promise<CardRow[]> {
  return rows<CardRow>(
    db,
    `SELECT * FROM (
       (SELECT * FROM ${S}.review_cards WHERE user_id = :userId AND due <= :now AND state <> ${NEW})
       UNION ALL
       (SELECT * FROM ${S}.review_cards WHERE user_id = :userId AND due <= :now AND state = ${NEW}
         ORDER BY due, lesson_id, card_id LIMIT :newCards)
     ) due ORDER BY due, lesson_id, card_id LIMIT :limit`,
    { userId, now, limit, newCards },
  );
}

/** How many of the learner's cards are due at `now`: the digests tell them (no daily limit of new cards). */
export function countDueCards(db: Db, userId: string, now: Date): Promise<number> {
  return count(
    db,
    `SELECT COUNT(*) AS n FROM ${S}.review_cards WHERE user_id = :userId AND due <= :now`,
    { userId, now },
  );
}

/** New cards the learner reviewed for the first time on a local day (their zone). */
export function newCardsReviewedOn(
  db: Db,
  userId: string,
  day: { date: string; timeZone: string },
): Promise<number> {
  return count(
    db,
    `SELECT COUNT(*) AS n FROM ${S}.review_logs WHERE user_id = :userId AND state = ${NEW}
       AND (reviewed_at AT TIME ZONE :timeZone)::date = :date::date`,
    { userId, ...day },
  );
}

/** A learner's card: which lesson it belongs to is part of its name. */
export interface CardKey {
  userId: string;
  lessonId: string;
  cardId: string;
}

export async function lockCard(db: Db, key: CardKey, t: Transaction): Promise<CardRow | undefined> {
  return one<CardRow>(
    db,
    `SELECT * FROM ${S}.review_cards WHERE user_id = :userId AND lesson_id = :lessonId AND card_id = :cardId FOR UPDATE`,
    { ...key },
    t,
  );
}

export async function saveCardReview(
  db: Db,
  key: CardKey,
  next: CardState,
  log: ReviewLog,
  t: Transaction,
): Promise<void> {
  await exec(
    db,
    `UPDATE ${S}.review_cards SET due = :due, stability = :stability, difficulty = :difficulty, elapsed_days = :elapsedDays,
       scheduled_days = :scheduledDays, learning_steps = :learningSteps, reps = :reps, lapses = :lapses, state = :state,
       last_review = :lastReview WHERE user_id = :userId AND lesson_id = :lessonId AND card_id = :cardId`,
    { ...key, ...next },
    t,
  );
  await exec(
    db,
    `INSERT INTO ${S}.review_logs (user_id, lesson_id, card_id, rating, state, due, stability, difficulty, scheduled_days, reviewed_at)
     VALUES (:userId, :lessonId, :cardId, :rating, :state, :due, :stability, :difficulty, :scheduledDays, :review)`,
    { ...key, ...log },
    t,
  );
}
