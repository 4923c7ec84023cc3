import { isUniqueViolation } from "../../lib/db/sql";
import crypto from "node:crypto";
import type { Transaction } from "sequelize";
import { answerStatus } from "../../lib/rest-answers";
import type { AwardOutcome, EmitDurable } from "./awards";
import { publishScores } from "./boards";
import type { ProgressDeps, RequestCtx } from "./deps";
import type { AuthUser } from "../../models/auth.model";
import { accountErased, idempotencyKeyReused } from "./errors";
import * as store from "./store";

/**
 * A learner's change runs once per Idempotency-Key: the answer is remembered with the
 * change, and a retry — even one racing the first request — gets the first answer.
 */

export interface Guarded<T> {
  response: T;
  award?: AwardOutcome;
}

/** A settled answer of an earlier request with the same Idempotency-Key. */
class Replay extends Error {
  constructor(readonly stored: store.StoredAnswer) {
    super("replay");
  }
}

function hashOf(scope: string, body: unknown): string {
  return crypto.createHash("sha256").update(JSON.stringify({ scope, body })).digest("hex");
}

function replay<T>(ctx: RequestCtx, stored: store.StoredAnswer, hash: string): T {
  if (stored.request_hash !== hash) {
    throw idempotencyKeyReused();
  }
  answerStatus(ctx, stored.status);
  ctx.meta.$responseHeaders = { ...ctx.meta.$responseHeaders, "Idempotent-Replayed": "true" };
  return stored.response as T;
}

/** The answer of a settled request with this Idempotency-Key, before any other work is done. */
export async function settledAnswer<T>(
  deps: Pick<ProgressDeps, "db">,
  ctx: RequestCtx,
  actor: Pick<AuthUser, "id">,
  scope: string,
  body: unknown,
): Promise<T | undefined> {
  const key = ctx.meta.idempotencyKey;
  if (!key) return undefined;
  const stored = await store.findIdempotent(deps.db, actor.id, key);
  return stored ? replay<T>(ctx, stored, hashOf(scope, body)) : undefined;
}

/**
 * Runs a learner's change in one transaction under their row lock, remembering the
 * answer under the request's Idempotency-Key; the unique (user, key) row is the last guard.
 * The change emits through `emit`: its events are written together once it is done.
 */
export async function guarded<T>(
  deps: ProgressDeps,
  ctx: RequestCtx,
  actor: Pick<AuthUser, "id">,
  scope: string,
  body: unknown,
  status: number,
  work: (t: Transaction, learner: store.LearnerRow, emit: EmitDurable) => Promise<Guarded<T>>,
): Promise<T> {
  const userId = actor.id;
  const key = ctx.meta.idempotencyKey;
  const hash = hashOf(scope, body);
  let outcome: Guarded<T>;
  try {
    outcome = await deps.withTransaction(async t => {
      const learner = await store.lockLearner(deps.db, userId, t);
      if (!learner) throw accountErased(userId);
      if (key) {
        const stored = await store.findIdempotent(deps.db, userId, key, t);
        if (stored) throw new Replay(stored);
      }
      const events = deps.eventBatch(ctx);
      const done = await work(t, learner, events.emit);
      await events.flush(t);
      if (key)
        await store.saveIdempotent(
          deps.db,
          userId,
          key,
          { scope, request_hash: hash, status, response: done.response },
          t,
        );
      return done;
    });
  } catch (err) {
    if (err instanceof Replay) return replay<T>(ctx, err.stored, hash);
    if (key && isUniqueViolation(err)) {
      const stored = await store.findIdempotent(deps.db, userId, key);
      if (stored) return replay<T>(ctx, stored, hash);
    }
    throw err;
  }
  await publishScores(deps, outcome.award);
  answerStatus(ctx, status);
  return outcome.response;
}
