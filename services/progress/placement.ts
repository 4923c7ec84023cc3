import crypto from "node:crypto";
import type { AuthUser } from "../../models/auth.model";
import type {
  PlacedLevel,
  PlacementItem,
  PlacementQuestion,
  PlacementStart,
  PlacementStep,
} from "../../models/placement.model";
import type { AnswerValue } from "../../models/progress.model";
import type { Caller, ProgressDeps, RequestCtx } from "./deps";
import {
  notTheQuestionAsked,
  placementFinished,
  placementNotFound,
  placementUnavailable,
} from "./errors";
import { gradeQuestion } from "./grading";
import { guarded } from "./idempotency";
import { ensureLearner } from "./learners";
import {
  difficultyOf,
  estimateAbility,
  isFinished,
  nextItem,
  placementResult,
} from "./placement-rules";
import * as store from "./store";

/**
 * The placement test (api.md, "Learning, continued"; docs/learning-rules.md, "Placement"):
 * questions from content's bank, each chosen by the ability estimate so far (placement-rules.ts),
 * until the test stops; its level goes to users with `progress.placement.completed`. The test's
 * state is a row of progress's schema, so any progress node takes the next answer.
 */

/** 0 ≤ x < 1: breaks ties between equally informative questions. */
function random(): number {
  return crypto.randomInt(0, 2 ** 30) / 2 ** 30;
}

/** What the learner sees of a question: no answer key, no level. */
function asked(item: PlacementItem): PlacementQuestion {
  return {
    id: item.id,
    type: item.type,
    prompt: item.prompt,
    ...(item.options ? { options: item.options } : {}),
  };
}

/** The bank with its answer keys (content.placementBank), through this node's copy of content's reads. */
async function bankOf(deps: ProgressDeps, caller: Caller): Promise<PlacementItem[]> {
  const copy = deps.contentCopy;
  let bank = copy?.get("placementBank") as PlacementItem[] | undefined;
  if (!bank) {
    // Read before the call: a clean arriving while it is on its way keeps its answer out.
    const generation = copy?.generation ?? 0;
    bank = await deps.content.placementBank(caller);
    if (bank.length > 0) copy?.set("placementBank", bank, generation);
  }
  if (bank.length === 0) throw placementUnavailable();
  return bank;
}

/** POST /placement: a new test and its first question (the most informative at the prior). */
export async function startPlacement(
  deps: ProgressDeps,
  _input: Record<string, never>,
  actor: Pick<AuthUser, "id">,
  ctx: RequestCtx,
): Promise<PlacementStart> {
  const bank = await bankOf(deps, ctx);
  const first = nextItem(bank, [], estimateAbility([]).ability, random);
  if (!first) throw placementUnavailable();
  // The learner's row holds their event counter (and the lock their changes take).
  await ensureLearner(deps, actor.id, ctx);
  return guarded(deps, ctx, actor, "placement", {}, 201, async t => {
    const id = crypto.randomUUID();
    await store.insertPlacement(
      deps.db,
      { id, userId: actor.id, startedAt: deps.now(), questionId: first.id },
      t,
    );
    return { response: { id, question: asked(first) } };
  });
}

/**
 * POST /placement/:id/answers: grades the answer to the question asked, updates the estimate,
 * and asks the next question or ends the test with its level.
 */
export async function answerPlacement(
  deps: ProgressDeps,
  input: { id: string; questionId: string; value: AnswerValue },
  actor: Pick<AuthUser, "id">,
  ctx: RequestCtx,
): Promise<PlacementStep> {
  const bank = await bankOf(deps, ctx);
  const byId = new Map(bank.map(item => [item.id, item]));
  return guarded<PlacementStep>(
    deps,
    ctx,
    actor,
    `placement:${input.id}`,
    input,
    200,
    async (t, _learner, emit) => {
      const test = await store.lockPlacement(deps.db, input.id, actor.id, t);
      if (!test) throw placementNotFound(input.id);
      if (test.finished_at || test.current_question_id === null) throw placementFinished(input.id);
      if (test.current_question_id !== input.questionId)
        throw notTheQuestionAsked(input.id, test.current_question_id);
      const responses = [...test.responses];
      const item = byId.get(input.questionId);
      // A question taken out of the bank since it was asked is not graded: another one is asked.
      if (item)
        responses.push({
          questionId: item.id,
          difficulty: difficultyOf(item.level),
          correct: gradeQuestion(item, input.value) === 1,
        });
      const estimate = estimateAbility(responses);
      const seen = new Set([...responses.map(r => r.questionId), input.questionId]);
      const next = isFinished(responses.length, estimate)
        ? undefined
        : nextItem(
            bank,
            bank.filter(candidate => seen.has(candidate.id)),
            estimate.ability,
            random,
          );
      if (next) {
        await store.savePlacementStep(
          deps.db,
          { id: test.id, responses, next: { questionId: next.id } },
          t,
        );
        return { response: { question: asked(next) } };
      }
      const result = placementResult(estimate);
      const placedAt = deps.now();
      await store.savePlacementStep(
        deps.db,
        { id: test.id, responses, next: { ...result, finishedAt: placedAt } },
        t,
      );
      await emit(
        "progress.placement.completed",
        { userId: actor.id, testId: test.id, ...result, placedAt: placedAt.toISOString() },
        t,
      );
      return { response: { result } };
    },
  );
}

/** progress.placedLevel (internal): the learner's latest placement, null before any. */
export function latestPlacement(
  deps: Pick<ProgressDeps, "db">,
  _input: Record<string, never>,
  actor: Pick<AuthUser, "id">,
): Promise<PlacedLevel | null> {
  return store.placedLevel(deps.db, actor.id);
}
