import type { Middleware } from "moleculer";
import { requestScope } from "../lib/request-context";

/**
 * Runs every local action and event handler inside an AsyncLocalStorage scope, so
 * each log line written while handling it carries the request id (which moleculer
 * already carries across nodes as ctx.requestID) and the action or event name.
 */
export const RequestScopeMiddleware: Middleware = {
  name: "RequestScope",
  localAction(next, action) {
    return function scoped(ctx) {
      return requestScope.run({ requestId: ctx.requestID ?? undefined, action: action.name }, () =>
        next.call(this, ctx),
      );
    };
  },
  localEvent(next, event) {
    return ctx =>
      requestScope.run({ requestId: ctx.requestID ?? undefined, event: event.name }, () =>
        next(ctx),
      );
  },
};
