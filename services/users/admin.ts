import type { Context } from "moleculer";
import { tokensIssuedBefore } from "../../lib/auth/revocations";
import type { RequestMeta } from "../../models/auth.model";
import { toAdminView, type AdminUserView, type UserProfile } from "../../models/user.model";
import type { UsersDeps } from "./deps";
import { userNotFound } from "./errors";
import { keepAnotherAdmin } from "./last-admin";
import { revokeSessions } from "./sessions";
import { auditPage, recordAudit, type AuditEntry } from "./store/audit";
import { pageOf } from "../../lib/params";
import type { Role } from "../../models/auth.model";
import { setRoles } from "./accounts";
import { removeUser } from "./accounts";

/** Administration of accounts (api.md "Identity, continued"): look, suspend, unsuspend. */

type Ctx = Pick<Context<unknown, RequestMeta>, "meta" | "requestID">;

/** Writes who did what to whom, from where (the gateway's client IP), with the request's id. */
function audit(
  deps: UsersDeps,
  ctx: Ctx,
  action: string,
  targetId: string,
  detail: Record<string, unknown> = {},
): Promise<void> {
  return recordAudit(deps.db, {
    actorId: ctx.meta.user?.id ?? null,
    action,
    targetId,
    detail,
    ip: ctx.meta.clientIp ?? null,
    requestId: ctx.requestID ?? null,
  });
}

export async function auditLog(
  deps: UsersDeps,
  params: { page: number; pageSize: number },
): Promise<{ rows: AuditEntry[] } & ReturnType<typeof pageOf>> {
  const { rows, total } = await auditPage(deps.db, params.page, params.pageSize);
  return { rows, ...pageOf(total, params.page, params.pageSize) };
}

/** PUT /users/:id/roles, written to the audit log. */
export async function setUserRoles(
  deps: UsersDeps,
  userId: string,
  roles: Role[],
  ctx: Ctx,
): Promise<UserProfile> {
  const profile = await setRoles(deps, userId, roles, ctx);
  await audit(deps, ctx, "roles.set", userId, { roles });
  return profile;
}

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
  await audit(deps, ctx, "user.suspend", userId, { reason });
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
  const erased = await removeUser(deps, userId, ctx);
  await audit(deps, ctx, "user.erase", userId);
  return erased;
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
  await audit(deps, ctx, "user.unsuspend", userId);
  await deps.userChanged(userId, ctx);
  return adminView(deps, userId);
}
