import { actorOf } from "../../lib/auth/guard";
import type { DueCard, ReviewRating, ReviewResult } from "../../models/review.model";
import type { Context } from "moleculer";
import { applyAward } from "./awards";
import { localDate, safeTimeZone } from "./clock";
import type { Ctx, ProgressThis } from "./context";
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
const DEFAULT_NEW_CARDS_PER_DAY = 20;
/** GET /me/next counts due cards up to this many. */
const DUE_COUNT_LIMIT = 1000;

/** How many never-reviewed cards may still enter the learner's due list on their local day. */
async function newCardsLeft(
  svc: ProgressThis,
  ctx: Context,
  userId: string,
  now: Date,
): Promise<number> {
  const [profile, learner] = await Promise.all([
    remote.profileOf(ctx, userId),
    store.findLearner(svc, userId),
  ]);
  const perDay = profile?.newCardsPerDay ?? DEFAULT_NEW_CARDS_PER_DAY;
  const timeZone = safeTimeZone(profile?.timezone ?? learner?.timezone);
  const met = await store.newCardsReviewedOn(svc, userId, {
    date: localDate(now, timeZone),
    timeZone,
  });
  return Math.max(0, perDay - met);
}

/** The learner's due list: decks of new enrolments first synced, new cards limited a day. */
async function dueList(
  svc: ProgressThis,
  ctx: Context,
  userId: string,
  limit: number,
): Promise<store.CardRow[]> {
  await syncNewDecks(svc, ctx, userId);
  const now = svc.now();
  return store.dueCards(svc, userId, now, limit, await newCardsLeft(svc, ctx, userId, now));
}

/** How many cards GET /me/reviews/due would list now (GET /me/next's review count). */
export async function dueReviewCount(
  svc: ProgressThis,
  ctx: Context,
  userId: string,
): Promise<number> {
  return (await dueList(svc, ctx, userId, DUE_COUNT_LIMIT)).length;
}

export async function dueReviews(
  svc: ProgressThis,
  ctx: Ctx<{ limit: number }>,
): Promise<DueCard[]> {
  const due = await dueList(svc, ctx, actorOf(ctx).id, ctx.params.limit);
  return due.map(c => ({
    cardId: c.card_id,
    lessonId: c.lesson_id,
    front: c.front,
    back: c.back,
    due: new Date(c.due).toISOString(),
  }));
}

export async function reviewCard(
  svc: ProgressThis,
  ctx: Ctx<{ lessonId: string; cardId: string; rating: ReviewRating }>,
): Promise<ReviewResult> {
  const userId = actorOf(ctx).id;
  const { lessonId, cardId, rating } = ctx.params;
  const key = { userId, lessonId, cardId };
  await requireLessonAccess(svc, ctx, userId, lessonId);
  await ensureLearner(svc, ctx, userId);
  const now = svc.now();
  const emit = svc.emitter(ctx);
  const body = { lessonId, cardId, rating };
  return guarded<ReviewResult>(svc, ctx, "review", body, 200, async (t, learner) => {
    const card = await store.lockCard(svc, key, t);
    if (!card) throw cardNotFound(lessonId, cardId);
    const wasDue = new Date(card.due).getTime() <= now.getTime();
    const outcome = review(cardStateOf(card), rating, now);
    await store.saveCardReview(svc, key, outcome.card, outcome.log, t);
    const xpEarned = reviewXp(wasDue);
    const award = await applyAward(
      { db: svc, emit, recordsXapi: svc.xapi.lrs !== undefined },
      {
        learner,
        now,
        xp: xpEarned,
        reason: "review",
        ref: `${lessonId}/${cardId}`,
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
