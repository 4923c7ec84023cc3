import { actorOf } from "../../lib/auth/guard";
import type { DueCard, ReviewRating, ReviewResult } from "../../models/review.model";
import { applyAward } from "./awards";
import type { Ctx, ProgressThis } from "./context";
import { syncNewDecks } from "./course-sync";
import { guarded } from "./idempotency";
import { ensureLearner } from "./learners";
import { requireLessonAccess } from "./premium";
import { cardStateOf, review } from "./srs";
import * as store from "./store";
import { reviewXp } from "./xp";
import { cardNotFound } from "./errors";

/** Flashcard reviews: the cards due now and a rating that reschedules one (FSRS). */

export async function dueReviews(
  svc: ProgressThis,
  ctx: Ctx<{ limit: number }>,
): Promise<DueCard[]> {
  const userId = actorOf(ctx).id;
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
