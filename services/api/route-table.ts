/**
 * One row of the public REST contract (shared/design/api.md): which action answers a
 * method and path under /api/v1. The gateway aliases exactly these rows
 * (mappingPolicy "restrict") and the OpenAPI document is generated from them plus
 * the actions' own `params` schemas. Who may call is declared on the action itself
 * (`auth`, `roles`), not here.
 */
type HttpMethod = "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE";

export interface RouteSpec {
  method: HttpMethod;
  /** Path under /api/v1 in moleculer-web alias syntax, e.g. "/courses/:id". */
  path: string;
  /** Fully qualified action name, e.g. "users.register". */
  action: string;
  /** Status of a successful answer (200 when omitted). */
  status?: number;
  /** One line for the API reference. */
  summary: string;
  /** OpenAPI tag: the section of the contract. */
  tag: "Identity" | "Content" | "Learning" | "Notifications" | "Billing" | "Aggregation";
  /**
   * Not JSON: multipart upload (media), a binary answer (tracking pixel), or a form post
   * whose body carries nothing the action needs (RFC 8058 one-click unsubscribe, sent by
   * mail clients as application/x-www-form-urlencoded), or an HTML page for people (the
   * unsubscribe confirmation), or a body handed to the action as it came (`raw`: a signed
   * webhook, whose signature is over the exact bytes; the action gets it as `payload`).
   */
  kind?: "json" | "multipart" | "binary" | "form" | "html" | "raw";
  /**
   * Request headers the action needs (lower-case), handed over in `ctx.meta.requestHeaders`:
   * `range` for media, `accept` where a browser gets a page instead of JSON.
   */
  requestHeaders?: string[];
}
