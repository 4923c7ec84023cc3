import { Errors } from "moleculer";
import type { DueCard, ReviewRating, ReviewResult } from "../../models/review.model";
import { applyAward } from "./awards";
import type { Ctx, ProgressThis } from "./context";
import { syncNewDecks } from "./course-sync";
import { guarded } from "./idempotency";
import { ensureLearner } from "./learners";
import { cardStateOf, review } from "./srs";
import * as store from "./store";
import { reviewXp } from "./xp";

/** Flashcard reviews: the cards due now and a rating that reschedules one (FSRS). */

const { MoleculerClientError } = Errors;

export async function dueReviews(
  svc: ProgressThis,
  ctx: Ctx<{ limit: number }>,
): Promise<DueCard[]> {
  const userId = svc.userId(ctx);
  await syncNewDecks(svc, ctx, userId);
  const due = await store.dueCards(svc, userId, svc.now(), ctx.params.limit);
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
  ctx: Ctx<{ cardId: string; rating: ReviewRating }>,
): Promise<ReviewResult> {
  const userId = svc.userId(ctx);
  const { cardId, rating } = ctx.params;
  await ensureLearner(svc, ctx, userId);
  const now = svc.now();
  const emit = svc.emitter(ctx);
  return guarded<ReviewResult>(svc, ctx, "review", { cardId, rating }, 200, async (t, learner) => {
    const card = await store.lockCard(svc, userId, cardId, t);
    if (!card) throw new MoleculerClientError("Card not found", 404, "CARD_NOT_FOUND", { cardId });
    const wasDue = new Date(card.due).getTime() <= now.getTime();
    const outcome = review(cardStateOf(card), rating, now);
    await store.saveCardReview(svc, userId, cardId, outcome.card, outcome.log, t);
    const xpEarned = reviewXp(wasDue);
    const award = await applyAward(
      { db: svc, emit },
      {
        learner,
        now,
        xp: xpEarned,
        reason: "review",
        ref: cardId,
        reviews: 1,
      },
      t,
    );
    const response: ReviewResult = {
      cardId,
      due: outcome.card.due.toISOString(),
      stability: outcome.card.stability,
      difficulty: outcome.card.difficulty,
      xpEarned,
    };
    return { response, award };
  });
}
