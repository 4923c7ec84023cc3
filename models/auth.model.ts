export const ROLES = ["learner", "author", "admin"] as const;
export type Role = (typeof ROLES)[number];

/** What the gateway puts on ctx.meta after verifying an access token: small, it crosses the wire on every call. */
export interface AuthUser {
  id: string;
  roles: Role[];
  /** Session the access token belongs to (claim `sid`): marks the caller's own session, kept on password change. */
  sid?: string;
}

/** The meta every action may read; set by the gateway. */
export interface RequestMeta {
  user?: AuthUser;
  /** Client IP as the gateway trusts it (X-Forwarded-For only via a trusted proxy). */
  clientIp?: string;
  userAgent?: string;
  /** Idempotency-Key header of a POST that creates or grades. */
  idempotencyKey?: string;
  /** The request headers a route hands its action (RouteSpec.requestHeaders), lower-case names. */
  requestHeaders?: Record<string, string>;
  /** moleculer-web response controls. */
  $statusCode?: number;
  /** The Location header of a 201 or 3xx answer (lib/rest-answers.ts). */
  $location?: string;
  $responseHeaders?: Record<string, string>;
  $responseType?: string;
}
