import type { Context } from "moleculer";
import type { RequestMeta } from "../models/auth.model";

/**
 * Statuses an action answers with a Location (201 Created, 3xx redirects). moleculer-web
 * sets the Location header from `ctx.meta.$location` when the status it sends is 201 or a
 * redirect, and logs a warning when `$location` is missing, so the two go together here.
 * A 201 whose new thing has no URL of its own (an account, an attempt, an enrollment) is
 * left to the route's contract status (services/api/route-table.ts), which the gateway
 * applies as the answer is written, after that check.
 */

/** The public base path of the REST API (shared/design/api.md). */
const API_BASE_PATH = "/api/v1";

/** 201 Created, with the API path of the created resource (`/courses/<id>`). */
export function createdAt(ctx: Context<unknown, RequestMeta>, path: string): void {
  ctx.meta.$statusCode = 201;
  ctx.meta.$location = `${API_BASE_PATH}${path}`;
}

/** A redirect to `url` (302 Found unless told otherwise). */
export function redirectTo(ctx: Context<unknown, RequestMeta>, url: string, status = 302): void {
  ctx.meta.$statusCode = status;
  ctx.meta.$location = url;
}

/**
 * Sets an action's success status. A 201 for something without a URL of its own (an
 * attempt, an enrollment) is not set here but left to the route's contract status:
 * `$statusCode` 201 without `$location` is what makes moleculer-web warn.
 */
export function answerStatus(
  ctx: Pick<Context<unknown, RequestMeta>, "meta">,
  status: number,
): void {
  if (status === 201) delete ctx.meta.$statusCode;
  else ctx.meta.$statusCode = status;
}
