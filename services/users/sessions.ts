import crypto from "node:crypto";
import type { Context } from "moleculer";
import { Op, type Transaction } from "sequelize";
import { sessionEnded } from "../../lib/auth/revocations";
import type { AppConfig } from "../../lib/config";
import type { SessionRevocation, SessionRow, SessionView } from "../../models/session.model";
import type { UserRow } from "../../models/user.model";
import type { UsersDeps } from "./deps";
import { digest, newOpaqueToken } from "./tokens";

/**
 * Sessions and refresh-token rotation (security.md lines 8–11). Each refresh marks the
 * presented token used with a conditional UPDATE (… WHERE used_at IS NULL): PostgreSQL's
 * row lock lets exactly one of several concurrent refreshes see "1 row", the rest see a
 * used token — which is reuse, and revokes the session (the token family) they belong to.
 */

const DAY_MS = 24 * 60 * 60 * 1000;

export interface ClientInfo {
  userAgent?: string;
  ip?: string;
}

export function sessionAlive(session: SessionRow, cfg: AppConfig, now = Date.now()): boolean {
  return (
    session.revokedAt === null &&
    new Date(session.expiresAt).getTime() > now &&
    new Date(session.lastUsedAt).getTime() + cfg.sessionIdleDays * DAY_MS > now
  );
}

/** Opens a session for a login and returns its first refresh token (only the digest is stored). */
export async function openSession(
  deps: UsersDeps,
  t: Transaction,
  userId: string,
  client: ClientInfo,
): Promise<{ sessionId: string; refreshToken: string }> {
  const now = new Date();
  const sessionId = crypto.randomUUID();
  await deps.models.Session.create(
    {
      id: sessionId,
      userId,
      createdAt: now,
      lastUsedAt: now,
      expiresAt: new Date(now.getTime() + deps.cfg.sessionAbsoluteDays * DAY_MS),
      userAgent: client.userAgent?.slice(0, 512) ?? null,
      ip: client.ip ?? null,
    },
    { transaction: t },
  );
  const refreshToken = newOpaqueToken();
  await deps.models.RefreshToken.create(
    { tokenHash: digest(refreshToken), sessionId, createdAt: now },
    { transaction: t },
  );
  return { sessionId, refreshToken };
}

export type RotationResult =
  | { ok: true; user: UserRow; sessionId: string; refreshToken: string }
  | { ok: false; reason: "reuse"; sessionId: string }
  | { ok: false; reason: "unknown" | "ended" };

export async function rotateRefreshToken(
  deps: UsersDeps,
  presented: string,
  client: ClientInfo,
): Promise<RotationResult> {
  const { RefreshToken, Session } = deps.models;
  const tokenHash = digest(presented);
  return deps.withTransaction(async (t): Promise<RotationResult> => {
    const now = new Date();
    const [claimed] = await RefreshToken.update(
      { usedAt: now },
      { where: { tokenHash, usedAt: null }, transaction: t },
    );
    const token = (await RefreshToken.findByPk(tokenHash, { transaction: t }))?.get({
      plain: true,
    });
    if (!token) return { ok: false, reason: "unknown" };
    const session = (await Session.findByPk(token.sessionId, { transaction: t }))?.get({
      plain: true,
    });
    if (!session) return { ok: false, reason: "unknown" };
    if (claimed === 0) {
      // A rotated token came back: someone holds a copy. End the whole family.
      if (session.revokedAt === null) {
        await Session.update(
          { revokedAt: now, revokedReason: "reuse" },
          { where: { id: session.id, revokedAt: null }, transaction: t },
        );
      }
      return { ok: false, reason: "reuse", sessionId: session.id };
    }
    if (!sessionAlive(session, deps.cfg, now.getTime())) return { ok: false, reason: "ended" };
    const user = await deps.User.findByPk(session.userId, { transaction: t });
    // A suspension ends the sessions too; this covers a refresh racing it.
    if (!user || user.get("status") === "suspended") return { ok: false, reason: "ended" };
    const refreshToken = newOpaqueToken();
    await RefreshToken.create(
      { tokenHash: digest(refreshToken), sessionId: session.id, createdAt: now },
      { transaction: t },
    );
    await Session.update(
      { lastUsedAt: now, ...(client.ip ? { ip: client.ip } : {}) },
      { where: { id: session.id }, transaction: t },
    );
    return { ok: true, user: user.get({ plain: true }), sessionId: session.id, refreshToken };
  });
}

/** Ends sessions of the user; answers the ids of those that were still open. */
export async function revokeSessions(
  deps: UsersDeps,
  t: Transaction,
  userId: string,
  reason: SessionRevocation,
  opts: { only?: string; except?: string } = {},
): Promise<string[]> {
  const where: Record<string | symbol, unknown> = { userId, revokedAt: null };
  if (opts.only !== undefined) where.id = opts.only;
  else if (opts.except !== undefined) where.id = { [Op.ne]: opts.except };
  const [, rows] = await deps.models.Session.update(
    { revokedAt: new Date(), revokedReason: reason },
    { where, transaction: t, returning: ["id"] },
  );
  return rows.map(row => row.get({ plain: true }).id);
}

/** Logout: the session of this refresh token, if it is the caller's, ends, access tokens included. */
export async function logout(
  deps: UsersDeps,
  userId: string,
  refreshToken: string,
  ctx?: Pick<Context, "requestID">,
): Promise<void> {
  const ended = await deps.withTransaction(async t => {
    const token = (
      await deps.models.RefreshToken.findByPk(digest(refreshToken), { transaction: t })
    )?.get({ plain: true });
    if (!token) return [];
    return revokeSessions(deps, t, userId, "logout", { only: token.sessionId });
  });
  await deps.revoke(
    ended.map(sid => sessionEnded(sid)),
    ctx,
  );
}

export async function listSessions(
  deps: UsersDeps,
  userId: string,
  currentSid?: string,
): Promise<SessionView[]> {
  const rows = await deps.withTransaction(t =>
    deps.models.Session.findAll({
      where: { userId, revokedAt: null },
      order: [["lastUsedAt", "DESC"]],
      transaction: t,
    }),
  );
  const now = Date.now();
  return rows
    .map(row => row.get({ plain: true }))
    .filter(session => sessionAlive(session, deps.cfg, now))
    .map(session => ({
      id: session.id,
      createdAt: new Date(session.createdAt).toISOString(),
      lastUsedAt: new Date(session.lastUsedAt).toISOString(),
      userAgent: session.userAgent,
      ip: session.ip,
      current: session.id === currentSid,
    }));
}
