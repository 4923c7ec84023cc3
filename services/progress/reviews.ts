import type { AuthUser } from "../../models/auth.model";
import type { DueCard, ReviewRating, ReviewResult } from "../../models/review.model";
import { applyAward } from "./awards";
import type { ProgressDeps, RequestCtx } from "./deps";
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
  deps: ProgressDeps,
  input: { limit: number },
  actor: Pick<AuthUser, "id">,
  ctx: RequestCtx,
): Promise<DueCard[]> {
  const userId = actor.id;
  await syncNewDecks(deps, userId, ctx);
  const due = await store.dueCards(deps.db, userId, deps.now(), input.limit);
  return due.map(c => ({
    cardId: c.card_id,
    lessonId: c.lesson_id,
    front: c.front,
    back: c.back,
    due: new Date(c.due).toISOString(),
  }));
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
  const emit = deps.emitter(ctx);
  const body = { lessonId, cardId, rating };
  return guarded<ReviewResult>(deps, ctx, actor, "review", body, 200, async (t, learner) => {
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
