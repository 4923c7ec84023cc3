import type { Context, Middleware } from "moleculer";
import { requestScope } from "../lib/request-context";

type Handler = (ctx: Context) => unknown;

/**
 * Runs every local action and event handler inside an AsyncLocalStorage scope, so
 * each log line written while handling it carries the request id (which moleculer
 * already carries across nodes as ctx.requestID) and the action or event name.
 */
export const RequestScopeMiddleware = {
  name: "RequestScope",
  localAction(next: Handler, action: { name: string }): Handler {
    return ctx =>
      requestScope.run({ requestId: ctx.requestID ?? undefined, action: action.name }, () =>
        next(ctx),
      );
  },
  localEvent(next: Handler, event: { name: string }): Handler {
    return ctx =>
      requestScope.run({ requestId: ctx.requestID ?? undefined, event: event.name }, () =>
        next(ctx),
      );
  },
} as unknown as Middleware;
