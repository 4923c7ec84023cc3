import type { Middleware } from "moleculer";
import { refusal } from "../lib/auth/guard";
import type { RequestMeta } from "../models/auth.model";

/**
 * Applies lib/auth/guard.ts to every local action that declares `auth` or `roles`, whoever
 * calls it: the gateway, another service over the transporter, or code on the same node.
 * (Moleculer runs it inside its validator: bad params still answer 422 before a 401.)
 */
export const GuardMiddleware: Middleware = {
  name: "Guard",
  localAction(next, action) {
    if (action.auth !== true && (action.roles?.length ?? 0) === 0) return next;
    return function guarded(ctx) {
      const problem = refusal(action, (ctx.meta as RequestMeta).user, "cluster");
      if (problem) return Promise.reject(problem);
      return next.call(this, ctx);
    };
  },
};
