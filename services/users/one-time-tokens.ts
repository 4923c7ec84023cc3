import { Op, type Transaction } from "sequelize";
import type { OneTimePurpose } from "../../models/session.model";
import type { UsersDeps } from "./deps";
import { digest, newOpaqueToken } from "./tokens";

/**
 * Email-verification and password-reset tokens (security.md line 16): 256 random bits,
 * stored as SHA-256 digests, used at most once (a conditional UPDATE claims them).
 */

export async function issueOneTimeToken(
  deps: UsersDeps,
  t: Transaction,
  userId: string,
  purpose: OneTimePurpose,
  ttlMs: number,
): Promise<string> {
  const token = newOpaqueToken();
  const now = new Date();
  await deps.models.OneTimeToken.create(
    {
      tokenHash: digest(token),
      userId,
      purpose,
      createdAt: now,
      expiresAt: new Date(now.getTime() + ttlMs),
    },
    { transaction: t },
  );
  return token;
}

/** The user the token was for, once; null for an unknown, used, expired or other-purpose token. */
export async function claimOneTimeToken(
  deps: UsersDeps,
  t: Transaction,
  token: string,
  purpose: OneTimePurpose,
): Promise<string | null> {
  const now = new Date();
  const tokenHash = digest(token);
  const [claimed] = await deps.models.OneTimeToken.update(
    { usedAt: now },
    { where: { tokenHash, purpose, usedAt: null, expiresAt: { [Op.gt]: now } }, transaction: t },
  );
  if (claimed === 0) return null;
  const row = await deps.models.OneTimeToken.findByPk(tokenHash, { transaction: t });
  return row ? row.get({ plain: true }).userId : null;
}

/** A password change ends every reset link still in a mailbox. */
export async function voidOneTimeTokens(
  deps: UsersDeps,
  t: Transaction,
  userId: string,
  purpose: OneTimePurpose,
): Promise<void> {
  await deps.models.OneTimeToken.update(
    { usedAt: new Date() },
    { where: { userId, purpose, usedAt: null }, transaction: t },
  );
}
