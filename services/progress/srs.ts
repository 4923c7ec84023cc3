import { createEmptyCard, fsrs, Rating, State, type Card, type FSRS, type Grade } from "ts-fsrs";
import type { ReviewRating } from "../../models/review.model";

/**
 * FSRS scheduling (ts-fsrs) of one learner's card. The stored row keeps every field of
 * the ts-fsrs Card so the scheduler resumes exactly where it stopped.
 */

export interface CardState {
  due: Date;
  stability: number;
  difficulty: number;
  elapsedDays: number;
  scheduledDays: number;
  learningSteps: number;
  reps: number;
  lapses: number;
  state: number;
  lastReview: Date | null;
}

/** One review as the review log keeps it. */
export interface ReviewLog {
  rating: number;
  state: number;
  due: Date;
  stability: number;
  difficulty: number;
  scheduledDays: number;
  review: Date;
}

export interface ReviewOutcome {
  card: CardState;
  log: ReviewLog;
}

const GRADES: Record<ReviewRating, Grade> = {
  again: Rating.Again,
  hard: Rating.Hard,
  good: Rating.Good,
  easy: Rating.Easy,
};

let scheduler: FSRS | undefined;

/** Fuzz spreads reviews of cards learnt together over neighbouring days, as Anki does. */
function defaultScheduler(): FSRS {
  scheduler ??= fsrs({ enable_fuzz: true, request_retention: 0.9, maximum_interval: 36500 });
  return scheduler;
}

function toCard(s: CardState): Card {
  return {
    due: s.due,
    stability: s.stability,
    difficulty: s.difficulty,
    elapsed_days: s.elapsedDays,
    scheduled_days: s.scheduledDays,
    learning_steps: s.learningSteps,
    reps: s.reps,
    lapses: s.lapses,
    state: s.state as State,
    last_review: s.lastReview ?? undefined,
  };
}

/** A card as ts-fsrs and the review_cards row both spell it (the row's numerics may come as text). */
export interface StoredCard {
  due: Date | string;
  stability: number | string;
  difficulty: number | string;
  elapsed_days: number;
  scheduled_days: number;
  learning_steps: number;
  reps: number;
  lapses: number;
  state: number;
  last_review?: Date | string | null;
}

export function cardStateOf(c: StoredCard): CardState {
  return {
    due: new Date(c.due),
    stability: Number(c.stability),
    difficulty: Number(c.difficulty),
    elapsedDays: c.elapsed_days,
    scheduledDays: c.scheduled_days,
    learningSteps: c.learning_steps,
    reps: c.reps,
    lapses: c.lapses,
    state: c.state,
    lastReview: c.last_review ? new Date(c.last_review) : null,
  };
}

/** A new card: due at once. */
export function newCardState(now: Date): CardState {
  return cardStateOf(createEmptyCard(now));
}

export function review(
  state: CardState,
  rating: ReviewRating,
  now: Date,
  f: FSRS = defaultScheduler(),
): ReviewOutcome {
  const { card, log } = f.next(toCard(state), now, GRADES[rating]);
  return {
    card: cardStateOf(card),
    log: {
      rating: log.rating,
      state: log.state,
      due: new Date(log.due),
      stability: log.stability,
      difficulty: log.difficulty,
      scheduledDays: log.scheduled_days,
      review: new Date(log.review),
    },
  };
}
