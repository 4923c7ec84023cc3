import crypto from "node:crypto";
import type { Transaction } from "sequelize";
import type { AuthUser } from "../../models/auth.model";
import type {
  PlacedLevel,
  PlacementItem,
  PlacementQuestion,
  PlacementStart,
  PlacementStep,
} from "../../models/placement.model";
import type { AnswerValue } from "../../models/progress.model";
import type { EmitDurable } from "./awards";
import type { Ctx, ProgressThis } from "./context";
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

export interface PlacementDeps {
  db: store.Db;
  /** The bank with its answer keys (content.placementBank). */
  bank(): Promise<PlacementItem[]>;
  /** Makes sure progress has the learner's row (their event counter lives there). */
  ensureLearner(userId: string): Promise<void>;
  /**
   * Runs the change in one transaction under the learner's row lock, once per Idempotency-Key
   * (a retry gets the first answer), and answers with `status`.
   */
  once<T>(
    scope: string,
    body: unknown,
    status: number,
    work: (t: Transaction) => Promise<T>,
  ): Promise<T>;
  emit: EmitDurable;
  now(): Date;
  /** 0 ≤ x < 1: breaks ties between equally informative questions. */
  random(): number;
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

async function bankOf(deps: PlacementDeps): Promise<PlacementItem[]> {
  const bank = await deps.bank();
  if (bank.length === 0) throw placementUnavailable();
  return bank;
}

/** POST /placement: a new test and its first question (the most informative at the prior). */
export async function startPlacement(
  deps: PlacementDeps,
  _input: Record<string, never>,
  actor: Pick<AuthUser, "id">,
): Promise<PlacementStart> {
  const bank = await bankOf(deps);
  const first = nextItem(bank, [], estimateAbility([]).ability, deps.random);
  if (!first) throw placementUnavailable();
  await deps.ensureLearner(actor.id);
  return deps.once("placement", {}, 201, async t => {
    const id = crypto.randomUUID();
    await store.insertPlacement(
      deps.db,
      { id, userId: actor.id, startedAt: deps.now(), questionId: first.id },
      t,
    );
    return { id, question: asked(first) };
  });
}

/**
 * POST /placement/:id/answers: grades the answer to the question asked, updates the estimate,
 * and asks the next question or ends the test with its level.
 */
export async function answerPlacement(
  deps: PlacementDeps,
  input: { id: string; questionId: string; value: AnswerValue },
  actor: Pick<AuthUser, "id">,
): Promise<PlacementStep> {
  const bank = await bankOf(deps);
  const byId = new Map(bank.map(item => [item.id, item]));
  return deps.once(`placement:${input.id}`, input, 200, async t => {
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
          deps.random,
        );
    if (next) {
      await store.savePlacementStep(
        deps.db,
        { id: test.id, responses, next: { questionId: next.id } },
        t,
      );
      return { question: asked(next) };
    }
    const result = placementResult(estimate);
    const placedAt = deps.now();
    await store.savePlacementStep(
      deps.db,
      { id: test.id, responses, next: { ...result, finishedAt: placedAt } },
      t,
    );
    await deps.emit(
      "progress.placement.completed",
      { userId: actor.id, testId: test.id, ...result, placedAt: placedAt.toISOString() },
      t,
    );
    return { result };
  });
}

/** progress.placedLevel (internal): the learner's latest placement, null before any. */
export function latestPlacement(
  deps: Pick<PlacementDeps, "db">,
  _input: Record<string, never>,
  actor: Pick<AuthUser, "id">,
): Promise<PlacedLevel | null> {
  return store.placedLevel(deps.db, actor.id);
}

/** The use cases' dependencies on this node, for one request. */
export function placementDeps(svc: ProgressThis, ctx: Ctx<unknown>): PlacementDeps {
  return {
    db: svc,
    async bank() {
      const copy = svc.contentCopy;
      const held = copy?.get("placementBank") as PlacementItem[] | undefined;
      if (held) return held;
      // Read before the call: a clean arriving while it is on its way keeps its answer out.
      const generation = copy?.generation ?? 0;
      const bank = await ctx.call<PlacementItem[]>("content.placementBank");
      if (bank.length > 0) copy?.set("placementBank", bank, generation);
      return bank;
    },
    async ensureLearner(userId) {
      await ensureLearner(svc, ctx, userId);
    },
    once: (scope, body, status, work) =>
      guarded(svc, ctx, scope, body, status, async t => ({ response: await work(t) })),
    emit: svc.emitter(ctx),
    now: () => svc.now(),
    random: () => crypto.randomInt(0, 1 << 30) / (1 << 30),
  };
}
