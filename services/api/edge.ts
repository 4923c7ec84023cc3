import type { IncomingMessage, ServerResponse } from "node:http";
import type { Context } from "moleculer";
import type { GatewayResponse } from "moleculer-web";
import type { GuardedAction } from "../../lib/auth/guard";
import type { AppConfig } from "../../lib/config";
import { MEDIA_BODY_LIMIT } from "./body";
import { ContractError } from "../../lib/errors";
import type { PublicError } from "./errors";
import { acceptIdempotencyKey } from "./request-id";
import type { RequestMeta } from "../../models/auth.model";
import { routeKey } from "./all-routes";
import { pathParams } from "./openapi";
import type { RouteSpec } from "./route-table";

/** What the gateway does to every request before the call and to every answer after it. */

/** Page sizes above this are lowered to it before any service sees them (api.md "Lists"). */
const MAX_PAGE_SIZE = 100;
const PAGE_SIZE_PARAMS = ["pageSize", "limit"];

/** The gate-keeping keys every action may declare (types/moleculer.d.ts), as the registry reports them. */
export interface GatedAction extends GuardedAction {
  /** The action's fastest-validator schema: the parameters it takes. */
  params?: Record<string, unknown>;
}

/** CORS for the configured origins only; none configured → no CORS headers at all. */
export function corsOf(cfg: AppConfig): Record<string, unknown> | undefined {
  if (cfg.corsOrigins.length === 0) return undefined;
  return {
    origin: cfg.corsOrigins,
    methods: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
    allowedHeaders: ["Authorization", "Content-Type", "Idempotency-Key", "X-Request-Id"],
    exposedHeaders: ["X-Request-Id", "Retry-After", "ETag"],
    credentials: false,
    maxAge: 600,
  };
}

/** Longest request header value handed to an action: meta crosses the network on every call. */
const HANDED_HEADER_MAX = 1024;

type AliasRequest = IncomingMessage & { $ctx: Context<unknown, RequestMeta> };

/**
 * An alias's own step (moleculer-web runs it after authentication, right before the call):
 * copies the headers the row names into the call's meta.
 */
function handHeaders(names: string[]) {
  return (req: AliasRequest, _res: ServerResponse, next: () => void): void => {
    const handed: Record<string, string> = {};
    for (const name of names) {
      const raw = req.headers[name];
      const value = Array.isArray(raw) ? raw.join(", ") : raw;
      if (value !== undefined) handed[name] = value.slice(0, HANDED_HEADER_MAX);
    }
    req.$ctx.meta.requestHeaders = handed;
    next();
  };
}

/** moleculer-web alias definitions for contract rows: the row rides along on the alias. */
export function aliasesOf(rows: RouteSpec[]): Record<string, Record<string, unknown>> {
  const aliases: Record<string, Record<string, unknown>> = {};
  for (const spec of rows) {
    aliases[routeKey(spec)] = {
      action: spec.action,
      type: spec.kind === "multipart" ? "multipart" : "call",
      spec,
      ...(spec.requestHeaders?.length ? { handler: handHeaders(spec.requestHeaders) } : {}),
      ...(spec.kind === "multipart"
        ? { busboyConfig: { limits: { files: 1, fileSize: MEDIA_BODY_LIMIT, fields: 20 } } }
        : {}),
    };
  }
  return aliases;
}

/** What every request of a contract row needs of it, worked out once per row. */
export interface RowFacts {
  /** "METHOD /path": the row's rate-limit bucket name. */
  key: string;
  /** The names of its path parameters, which a body or query may not also send. */
  pathNames: string[];
}

const factsOfRows = new WeakMap<RouteSpec, RowFacts>();

export function rowFacts(spec: RouteSpec): RowFacts {
  let facts = factsOfRows.get(spec);
  if (!facts) {
    facts = { key: routeKey(spec), pathNames: pathParams(spec.path) };
    factsOfRows.set(spec, facts);
  }
  return facts;
}

/** The request's Idempotency-Key; one that is sent but malformed is the caller's 400. */
export function idempotencyKeyOf(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  const key = acceptIdempotencyKey(header);
  if (!key) {
    throw new ContractError(
      "BadRequestError",
      "Idempotency-Key must be 1 to 255 printable characters",
      400,
      "INVALID_IDEMPOTENCY_KEY",
    );
  }
  return key;
}

export function clampPageSizes(params: Record<string, unknown>): void {
  for (const name of PAGE_SIZE_PARAMS) {
    const value = Number(params[name]);
    if (params[name] !== undefined && Number.isFinite(value) && value > MAX_PAGE_SIZE) {
      params[name] = MAX_PAGE_SIZE;
    }
  }
}

/** The contract's success status, unless the action chose its own (ctx.meta.$statusCode). */
export function useContractStatus(
  res: GatewayResponse,
  status: number | undefined,
  ctx: Context<unknown, RequestMeta>,
): void {
  if (!status || status === 200) return;
  const end = res.end.bind(res) as (...args: unknown[]) => GatewayResponse;
  res.end = ((...args: unknown[]) => {
    if (res.statusCode === 200 && !ctx.meta.$statusCode && !res.headersSent) {
      res.statusCode = status;
    }
    return end(...args);
  }) as GatewayResponse["end"];
}

/**
 * Public catalogue reads may be cached by anyone; an author's view of the same route
 * is theirs alone; everything else is never stored. An action's own header wins.
 */
export function setCacheHeaders(
  res: GatewayResponse,
  publicRead: boolean,
  signedIn: boolean,
): void {
  if (res.getHeader("Cache-Control")) return;
  if (publicRead && !signedIn) {
    res.setHeader("Cache-Control", "public, max-age=60, must-revalidate");
    res.setHeader("Vary", "Authorization, Accept-Encoding");
  } else if (publicRead) {
    // Authors see their drafts here: the answer is theirs alone, revalidated each time.
    res.setHeader("Cache-Control", "private, no-cache");
    res.setHeader("Vary", "Authorization, Accept-Encoding");
  } else {
    res.setHeader("Cache-Control", "no-store");
  }
}

/**
 * On every answer of the public port, error or not (security.md line 30): no content sniffing,
 * no Referer leaving with a link a page of ours holds (tokens ride in some paths), and no
 * other site embedding our answers — except the binary ones made to be embedded (media in
 * the app's pages, the open pixel in mail clients), see embeddableAnswer.
 */
export function setEdgeHeaders(res: ServerResponse): void {
  res.setHeader("X-Content-Type-Options", "nosniff");
  res.setHeader("Referrer-Policy", "no-referrer");
  res.setHeader("Cross-Origin-Resource-Policy", "same-origin");
}

export function embeddableAnswer(res: ServerResponse, spec: RouteSpec | undefined): void {
  if (spec?.kind === "binary") res.setHeader("Cross-Origin-Resource-Policy", "cross-origin");
}

export function errorHeaders(body: PublicError): Record<string, string> {
  const headers: Record<string, string> = {
    "Content-Type": "application/json; charset=utf-8",
    "Cache-Control": "no-store",
  };
  const retryAfter = (body.data as { retryAfter?: number } | undefined)?.retryAfter;
  if (body.code === 429 && retryAfter) headers["Retry-After"] = String(retryAfter);
  if (body.code === 401) headers["WWW-Authenticate"] = 'Bearer realm="lingomesh"';
  if (body.code === 503) headers["Retry-After"] = "5";
  const size = (body.data as { size?: unknown } | undefined)?.size;
  if (body.code === 416 && typeof size === "number") headers["Content-Range"] = `bytes */${size}`;
  return headers;
}

export function hrtimeMs(start: [number, number] | number[]): number {
  const [s, ns] = process.hrtime(start as [number, number]);
  return s * 1000 + ns / 1e6;
}
