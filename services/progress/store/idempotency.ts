import type { Transaction } from "sequelize";
import { exec, one, S, type Db } from "./sql";

/** Answers remembered under a learner's Idempotency-Key. */

export interface StoredAnswer {
  scope: string;
  request_hash: string;
  status: number;
  response: unknown;
}

export async function findIdempotent(
  db: Db,
  userId: string,
  key: string,
  t?: Transaction,
): Promise<StoredAnswer | undefined> {
  return one<StoredAnswer>(
    db,
    `SELECT scope, request_hash, status, response FROM ${S}.idempotency_keys WHERE user_id = :userId AND key = :key`,
    { userId, key },
    t,
  );
}

export async function saveIdempotent(
  db: Db,
  userId: string,
  key: string,
  a: StoredAnswer,
  t: Transaction,
): Promise<void> {
  await exec(
    db,
    `INSERT INTO ${S}.idempotency_keys (user_id, key, scope, request_hash, status, response)
     VALUES (:userId, :key, :scope, :hash, :status, :response::jsonb)`,
    {
      userId,
      key,
      scope: a.scope,
      hash: a.request_hash,
      status: a.status,
      response: JSON.stringify(a.response),
    },
    t,
  );
}
