import type { Context } from "moleculer";
import { tokensIssuedBefore } from "../../lib/auth/revocations";
import type { RequestMeta } from "../../models/auth.model";
import { toAdminView, type AdminUserView } from "../../models/user.model";
import type { UsersDeps } from "./deps";
import { userNotFound } from "./errors";
import { keepAnotherAdmin } from "./last-admin";
import { revokeSessions } from "./sessions";
import { removeUser } from "./accounts";

/** Administration of accounts (api.md "Identity, continued"): look, suspend, unsuspend. */

type Ctx = Pick<Context<unknown, RequestMeta>, "meta" | "requestID">;

export async function adminView(deps: UsersDeps, userId: string): Promise<AdminUserView> {
  const row = await deps.User.findByPk(userId);
  if (!row) throw userNotFound(userId);
  return toAdminView(row.get({ plain: true }));
}

/**
 * Suspends an account: its sessions end and every access token issued before now stops
 * working on every gateway at once (lib/auth/revocations.ts); login answers 403 until unsuspended.
 */
export async function suspendUser(
  deps: UsersDeps,
  userId: string,
  reason: string,
  ctx: Ctx,
): Promise<AdminUserView> {
  const now = new Date();
  const ended = await deps.withTransaction(async t => {
    await keepAnotherAdmin(deps, t, userId);
    const [count] = await deps.User.update(
      { status: "suspended", suspendedReason: reason, updatedAt: now },
      { where: { id: userId }, transaction: t },
    );
    if (count === 0) throw userNotFound(userId);
    return revokeSessions(deps, t, userId, "suspended");
  });
  deps.logger.info("Account suspended", { userId, by: ctx.meta.user?.id, sessions: ended.length });
  await deps.revoke([tokensIssuedBefore(userId, now.getTime())], ctx);
  await deps.userChanged(userId, ctx);
  return adminView(deps, userId);
}

/** DELETE /users/:id: the erasure of DELETE /me (user.deleted in every service), by an admin. */
export async function eraseUser(
  deps: UsersDeps,
  userId: string,
  ctx: Ctx,
): Promise<{ id: string; deleted: true }> {
  deps.logger.info("Account erased by an admin", { userId, by: ctx.meta.user?.id });
  return removeUser(deps, userId, ctx);
}

export async function unsuspendUser(
  deps: UsersDeps,
  userId: string,
  ctx: Ctx,
): Promise<AdminUserView> {
  const [count] = await deps.User.update(
    { status: "active", suspendedReason: null, updatedAt: new Date() },
    { where: { id: userId } },
  );
  if (count === 0) throw userNotFound(userId);
  deps.logger.info("Account unsuspended", { userId, by: ctx.meta.user?.id });
  await deps.userChanged(userId, ctx);
  return adminView(deps, userId);
}
