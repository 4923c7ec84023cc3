import type { Transaction } from "sequelize";
import { execute, selectRows } from "../../../lib/db/sql";
import { tableOf, type UsersDb } from "./db";

/**
 * What a provider sign-in keeps between its start and the provider's callback (10 min), in
 * the database so that any node may finish it; and the one-time code the callback hands the
 * app (60 s). Only digests of `state` and of the code are stored.
 */

export interface OidcFlow {
  stateHash: string;
  provider: string;
  codeVerifier: string;
  nonce: string;
  redirectUri: string;
  /** Set when a signed-in user links the provider to their account. */
  linkUserId: string | null;
  expiresAt: Date;
}

export async function saveFlow(db: UsersDb, flow: OidcFlow): Promise<void> {
  // Abandoned flows go as new ones come: the table holds at most ten minutes of starts.
  await execute(db.sequelize, `DELETE FROM ${tableOf(db, "oidc_flows")} WHERE expires_at < now()`);
  await execute(
    db.sequelize,
    `INSERT INTO ${tableOf(db, "oidc_flows")} (state_hash, provider, code_verifier, nonce, redirect_uri, link_user_id, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    {
      bind: [
        flow.stateHash,
        flow.provider,
        flow.codeVerifier,
        flow.nonce,
        flow.redirectUri,
        flow.linkUserId,
        flow.expiresAt,
      ],
    },
  );
}

/** The flow of this state, once: it is deleted as it is read, so a replayed callback finds nothing. */
export async function takeFlow(db: UsersDb, stateHash: string): Promise<OidcFlow | undefined> {
  const [row] = await selectRows<OidcFlow>(
    db.sequelize,
    `DELETE FROM ${tableOf(db, "oidc_flows")} WHERE state_hash = $1 AND expires_at > now()
     RETURNING state_hash AS "stateHash", provider, code_verifier AS "codeVerifier", nonce,
       redirect_uri AS "redirectUri", link_user_id AS "linkUserId", expires_at AS "expiresAt"`,
    { bind: [stateHash] },
  );
  return row;
}

export interface ExchangeCode {
  userId: string;
  created: boolean;
}

export async function saveExchangeCode(
  db: UsersDb,
  t: Transaction,
  codeHash: string,
  code: ExchangeCode & { expiresAt: Date },
): Promise<void> {
  await execute(
    db.sequelize,
    `INSERT INTO ${tableOf(db, "oidc_exchange_codes")} (code_hash, user_id, created, expires_at) VALUES ($1, $2, $3, $4)`,
    { bind: [codeHash, code.userId, code.created, code.expiresAt], transaction: t },
  );
}

/** The code's account while it is unused and young; reading does not use it up. */
export async function peekExchangeCode(
  db: UsersDb,
  codeHash: string,
): Promise<ExchangeCode | undefined> {
  const [row] = await selectRows<ExchangeCode>(
    db.sequelize,
    `SELECT user_id AS "userId", created FROM ${tableOf(db, "oidc_exchange_codes")}
     WHERE code_hash = $1 AND used_at IS NULL AND expires_at > now()`,
    { bind: [codeHash] },
  );
  return row;
}

/** Uses the code up; false when another exchange did first (or it expired meanwhile). */
export async function claimExchangeCode(
  db: UsersDb,
  t: Transaction,
  codeHash: string,
): Promise<boolean> {
  const count = await execute(
    db.sequelize,
    `UPDATE ${tableOf(db, "oidc_exchange_codes")} SET used_at = now()
     WHERE code_hash = $1 AND used_at IS NULL AND expires_at > now()`,
    { bind: [codeHash], transaction: t },
  );
  return count === 1;
}

/** Records a native ID token's nonce; false when it was used before (a replayed token). */
export async function claimNonce(
  db: UsersDb,
  t: Transaction,
  provider: string,
  nonceHash: string,
  expiresAt: Date,
): Promise<boolean> {
  await execute(
    db.sequelize,
    `DELETE FROM ${tableOf(db, "oidc_used_nonces")} WHERE expires_at < now()`,
    { transaction: t },
  );
  const count = await execute(
    db.sequelize,
    `INSERT INTO ${tableOf(db, "oidc_used_nonces")} (provider, nonce_hash, expires_at) VALUES ($1, $2, $3)
     ON CONFLICT DO NOTHING`,
    { bind: [provider, nonceHash, expiresAt], transaction: t },
  );
  return count === 1;
}
