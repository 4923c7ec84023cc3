import type { AuthUser } from "../../models/auth.model";
import type { DueCard, ReviewRating, ReviewResult } from "../../models/review.model";
import { applyAward } from "./awards";
import { localDate, safeTimeZone } from "./clock";
import type { Caller, ProgressDeps, RequestCtx } from "./deps";
import { syncNewDecks } from "./course-sync";
import { guarded } from "./idempotency";
import { ensureLearner } from "./learners";
import { requireLessonAccess } from "./premium";
import * as remote from "./remote";
import { cardStateOf, review } from "./srs";
import * as store from "./store";
import { reviewXp } from "./xp";
import { cardNotFound } from "./errors";

/** Flashcard reviews: the cards due now and a rating that reschedules one (FSRS). */

/** api.md: new cards enter the due list at most `newCardsPerDay` (profile) a local day. */
export const DEFAULT_NEW_CARDS_PER_DAY = 20;
/** GET /me/next counts due cards up to this many. */
const DUE_COUNT_LIMIT = 1000;

/** How many never-reviewed cards may still enter the learner's due list on their local day. */
async function newCardsLeft(
  deps: ProgressDeps,
  userId: string,
  now: Date,
  caller?: Caller,
): Promise<number> {
  const [profile, learner] = await Promise.all([
    remote.profileOf(deps, userId, caller),
    store.findLearner(deps.db, userId),
  ]);
  const perDay = profile?.newCardsPerDay ?? DEFAULT_NEW_CARDS_PER_DAY;
  const timeZone = safeTimeZone(profile?.timezone ?? learner?.timezone);
  const met = await store.newCardsReviewedOn(deps.db, userId, {
    date: localDate(now, timeZone),
    timeZone,
  });
  return Math.max(0, perDay - met);
}

/** The learner's due list: decks of new enrolments first synced, new cards limited a day. */
async function dueList(
  deps: ProgressDeps,
  userId: string,
  limit: number,
  caller?: Caller,
): Promise<store.CardRow[]> {
  await syncNewDecks(deps, userId, caller);
  const now = deps.now();
  const newCards = await newCardsLeft(deps, userId, now, caller);
  return store.dueCards(deps.db, userId, now, limit, newCards);
}

/** How many cards GET /me/reviews/due would list now (GET /me/next's review count). */
export async function dueReviewCount(
  deps: ProgressDeps,
  userId: string,
  caller?: Caller,
): Promise<number> {
  return (await dueList(deps, userId, DUE_COUNT_LIMIT, caller)).length;
}

export async function dueReviews(
  deps: ProgressDeps,
  input: { limit: number },
  actor: Pick<AuthUser, "id">,
  ctx: RequestCtx,
): Promise<DueCard[]> {
  const due = await dueList(deps, actor.id, input.limit, ctx);
  return due.map(dueCardOf);
}

export function dueCardOf(c: {
  card_id: string;
  lesson_id: string;
  front: string;
  back: string;
  due: Date | string;
}): DueCard {
  return {
    cardId: c.card_id,
    lessonId: c.lesson_id,
    front: c.front,
    back: c.back,
    due: new Date(c.due).toISOString(),
  };
}

export async function reviewCard(
  deps: ProgressDeps,
  input: { lessonId: string; cardId: string; rating: ReviewRating },
  actor: Pick<AuthUser, "id">,
  ctx: RequestCtx,
): Promise<ReviewResult> {
  const userId = actor.id;
  const { lessonId, cardId, rating } = input;
  const key = { userId, lessonId, cardId };
  await requireLessonAccess(deps, userId, lessonId, ctx);
  await ensureLearner(deps, userId, ctx);
  const now = deps.now();
  const body = { lessonId, cardId, rating };
  return guarded<ReviewResult>(deps, ctx, actor, "review", body, 200, async (t, learner, emit) => {
    const card = await store.lockCard(deps.db, key, t);
    if (!card) throw cardNotFound(lessonId, cardId);
    const wasDue = new Date(card.due).getTime() <= now.getTime();
    const outcome = review(cardStateOf(card), rating, now);
    await store.saveCardReview(deps.db, key, outcome.card, outcome.log, t);
    const xpEarned = reviewXp(wasDue);
    const award = await applyAward(
      { db: deps.db, emit, recordsXapi: deps.lrs !== undefined },
      {
        learner,
        now,
        xp: xpEarned,
        reason: "review",
        ref: `${lessonId}/${cardId}`,
        courseId: card.course_id,
        reviews: 1,
      },
      t,
    );
    const response: ReviewResult = {
      lessonId,
      cardId,
      due: outcome.card.due.toISOString(),
      stability: outcome.card.stability,
      difficulty: outcome.card.difficulty,
      xpEarned,
    };
    return { response, award };
  });
}
