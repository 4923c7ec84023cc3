import type { IncomingMessage, ServerResponse } from "node:http";
import ApiGateway, { type Route } from "moleculer-web";

/**
 * The one place the gateway reaches into moleculer-web: the methods of its mixin that
 * services/api.service.ts overrides (callAction, httpHandler, parseQueryString) and calls
 * (sendResponse). Its index.d.ts types the mixin's `methods` as a bare map of functions;
 * these are their signatures in moleculer-web's src/index.js, each run with the gateway
 * service as `this`.
 */
export interface WebMethods {
  httpHandler(
    req: IncomingMessage,
    res: ServerResponse,
    next?: (err?: unknown) => void,
  ): Promise<void>;
  callAction(
    route: Route,
    actionName: string,
    req: IncomingMessage,
    res: ServerResponse,
    params: Record<string, unknown>,
    isStream?: boolean,
  ): Promise<unknown>;
  sendResponse(req: IncomingMessage, res: ServerResponse, data: unknown, action?: unknown): void;
  /** The request's path and its query string read by qs (with `settings.qsOptions`). */
  parseQueryString(req: IncomingMessage): { query: Record<string, unknown>; url: string };
}

/** moleculer-web's own method `name`; a moleculer-web without it stops the gateway at load. */
function webMethod<K extends keyof WebMethods>(name: K): WebMethods[K] {
  const method = ApiGateway.methods?.[name];
  if (typeof method !== "function") throw new Error(`moleculer-web has no method "${name}"`);
  return method;
}

export const webMethods: WebMethods = {
  httpHandler: webMethod("httpHandler"),
  callAction: webMethod("callAction"),
  sendResponse: webMethod("sendResponse"),
  parseQueryString: webMethod("parseQueryString"),
};
