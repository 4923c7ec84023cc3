import type { AuthUser, RequestMeta, Role } from "../../models/auth.model";
import { forbidden, unauthenticated, type ContractError } from "../errors";

/**
 * The one guard of every action (shared/design/security.md): `auth: true` asks for a signed-in
 * caller, `roles` for one holding any of them ("admin" always admitted). The gateway asks it
 * before a call leaves the edge; middlewares/guard.middleware.ts asks it again on the node that
 * runs the action, so a call from inside the cluster meets the same rule.
 */

/** The gate-keeping keys an action declares (types/moleculer.d.ts). */
export interface GuardedAction {
  auth?: boolean;
  roles?: readonly Role[];
  internal?: boolean;
}

/** Whether the action admits no anonymous caller at the edge. */
export const needsUser = (action: GuardedAction | undefined): boolean =>
  action?.auth === true || (action?.roles?.length ?? 0) > 0;

/**
 * Where a call is judged: at the edge every caller is a stranger, so `roles` ask for a user too;
 * inside the cluster a call without a user is another service's or an operator's at the REPL
 * (`call users.setRoles …`, `call notify.preview …`), and only `auth: true` asks for one.
 */
export type GuardPoint = "edge" | "cluster";

/** Why this caller may not run the action; undefined when it may. */
export function refusal(
  action: GuardedAction,
  user: AuthUser | undefined,
  at: GuardPoint,
): ContractError | undefined {
  if (!user) {
    const asksForUser = at === "edge" ? needsUser(action) : action.auth === true;
    return asksForUser ? unauthenticated() : undefined;
  }
  const roles = action.roles ?? [];
  if (roles.length === 0 || user.roles.includes("admin")) return undefined;
  return roles.some(role => user.roles.includes(role)) ? undefined : forbidden();
}

/**
 * The caller of an action that declares `auth` or `roles`. The guard has admitted it already;
 * the check is left for an action that forgot to declare either.
 */
export function actorOf(ctx: { meta: RequestMeta }): AuthUser {
  const user = ctx.meta.user;
  if (!user) throw unauthenticated();
  return user;
}

/** The caller, when it holds one of `roles`: for a rule that depends on the input (content's `mine` list). */
export function actorWith(ctx: { meta: RequestMeta }, roles: readonly Role[]): AuthUser {
  const user = actorOf(ctx);
  const problem = refusal({ roles }, user, "cluster");
  if (problem) throw problem;
  return user;
}
