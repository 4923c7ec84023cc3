import type { IncomingMessage, ServerResponse } from "node:http";
import compression from "compression";
import type Redis from "ioredis";
import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import ApiGateway, { type GatewayResponse, type IncomingRequest, type Route } from "moleculer-web";
import { version as packageVersion } from "../package.json";
import { configOf } from "../lib/config";
import { readiness, registerHealthCheck } from "../lib/health";
import { createRedis } from "../lib/redis";
import { AccessTokenVerifier, InvalidTokenError } from "../lib/auth/verify-access-token";
import { formBody, jsonBody, multipartBody } from "../lib/gateway/body";
import { ClientIpResolver } from "../lib/gateway/client-ip";
import { sendDocsAsset, sendDocsPage } from "../lib/gateway/docs-page";
import {
  forbidden,
  notFound,
  pathParamsInBody,
  serviceUnavailable,
  toPublicError,
  unauthenticated,
} from "../lib/gateway/errors";
import { metricsText, recordRequest, registerGatewayMetrics } from "../lib/gateway/metrics";
import { buildOpenApi, pathParams, type ActionInfo } from "../lib/gateway/openapi";
import { PublishedReadCache, publishedReadKey } from "../lib/gateway/published-reads";
import { retryIdempotent } from "../lib/gateway/idempotent-retry";
import { createRateLimiters, type RateLimiterSet } from "../lib/gateway/rate-limits";
import { acceptRequestId } from "../lib/gateway/request-id";
import type { AuthUser, RequestMeta } from "../models/auth.model";
import { actionFor, publicRoutes, routeKey } from "./api/all-routes";
import { buildDashboard } from "./api/dashboard";
import {
  aliasesOf,
  clampPageSizes,
  corsOf,
  errorHeaders,
  hrtimeMs,
  idempotencyKeyOf,
  needsUser,
  sendJson,
  setCacheHeaders,
  useContractStatus,
  type GatedAction,
} from "./api/edge";
import type { RouteSpec } from "./api/route-table";

interface ApiSettings extends ServiceSettingSchema {
  port: number;
  [key: string]: unknown;
}

/** A request as the gateway's hooks see it: moleculer-web's fields plus ours. */
type Req = Omit<IncomingRequest, "$action" | "$alias"> & {
  $clientIp?: string;
  $action?: GatedAction;
  $alias?: { spec?: RouteSpec; fullPath?: string; path?: string };
  body?: unknown;
  /** An anonymous read the gateway may answer from its own copy (lib/gateway/published-reads). */
  $publishedRead?: { key: string; generation: number; hit: boolean };
};
type Res = GatewayResponse;
type Next = (err?: unknown) => void;
type Meta = RequestMeta & { user?: AuthUser | null };

interface ApiState {
  verifier: AccessTokenVerifier;
  limiters: RateLimiterSet;
  clientIps: ClientIpResolver;
  redis?: Redis;
  openApiCache?: Record<string, unknown>;
  publishedReads: PublishedReadCache;
  server: import("node:http").Server;
}

interface ApiMethods {
  authenticate(ctx: Context<unknown, Meta>, route: Route, req: Req): Promise<AuthUser | null>;
  authorize(ctx: Context<unknown, Meta>, route: Route, req: Req): void;
  beforeCall(ctx: Context<unknown, Meta>, req: Req, res: Res): Promise<void>;
  afterCall(ctx: Context<unknown, Meta>, req: Req, res: Res, data: unknown): unknown;
  edgeLimit(req: Req, res: Res, next: Next): void;
  sendPublicError(req: Req, res: ServerResponse, err: unknown): void;
  fetchJwks(): Promise<{ keys: Record<string, unknown>[] }>;
  openApiDocument(): Record<string, unknown>;
  callAction(
    route: Route,
    actionName: string,
    req: Req,
    res: Res,
    params: Record<string, unknown>,
    isStream?: boolean,
  ): Promise<unknown>;
}

type ApiThis = Service<ApiSettings> & ApiMethods & ApiState;

const ApiService: ServiceSchema<ApiSettings, ApiMethods, ApiState> & {
  merged(this: Service, schema: ServiceSchema<ApiSettings>): void;
} = {
  name: "api",
  mixins: [ApiGateway],

  settings: {
    port: 3000,
    ip: "0.0.0.0",
    // Behind Traefik (idle timeout 90 s): keep connections open longer than the proxy does,
    // so the proxy never reuses a socket we are closing; a slow client gets 120 s per request.
    requestTimeout: 120_000,
    logRequest: "debug",
    logRequestParams: null,
    logResponse: "info",
    logRouteRegistration: "debug",
    log4XXResponses: false,
    optimizeOrder: true,
    routes: [],
    // One shape for every failure, whichever layer raised it.
    onError(this: ApiThis, req: Req, res: ServerResponse, err: unknown) {
      this.sendPublicError(req, res, err);
    },
    // The caller's X-Request-Id (validated) or a fresh one becomes the Moleculer requestID,
    // which every call and event of this request carries and every log line shows.
    rootCallOptions(this: ApiThis, options: Record<string, unknown>, req: IncomingMessage) {
      options.requestID = acceptRequestId(req.headers["x-request-id"]);
    },
  },

  /** Routes depend on this node's configuration (CORS origins), so they are built here. */
  merged(schema) {
    const cfg = configOf(this.broker);
    const settings = schema.settings as ApiSettings;
    settings.port = cfg.port;
    const cors = corsOf(cfg);
    const rows = publicRoutes();
    // Hooks close over the service: moleculer-web calls onAfterCall of multipart aliases with
    // the alias as `this`.
    const svc = this as unknown as ApiThis;
    const hooks = {
      authentication: true,
      authorization: true,
      mappingPolicy: "restrict",
      bodyParsers: false,
      mergeParams: true,
      etag: "weak",
      cors,
      onBeforeCall: (ctx: Context<unknown, Meta>, _route: Route, req: Req, res: Res) =>
        svc.beforeCall(ctx, req, res),
      onAfterCall: (
        ctx: Context<unknown, Meta>,
        _route: Route,
        req: Req,
        res: Res,
        data: unknown,
      ) => svc.afterCall(ctx, req, res, data),
    };
    const edgeLimit = (req: Req, res: Res, next: Next) => svc.edgeLimit(req, res, next);
    settings.routes = [
      {
        name: "api",
        path: "/api/v1",
        ...hooks,
        use: [compression(), edgeLimit, jsonBody],
        aliases: aliasesOf(rows.filter(row => row.kind !== "multipart" && row.kind !== "form")),
      },
      {
        name: "forms",
        path: "/api/v1",
        ...hooks,
        etag: false,
        use: [edgeLimit, formBody],
        aliases: aliasesOf(rows.filter(row => row.kind === "form")),
      },
      {
        name: "media",
        path: "/api/v1",
        ...hooks,
        etag: false,
        use: [edgeLimit, multipartBody],
        aliases: aliasesOf(rows.filter(row => row.kind === "multipart")),
      },
      {
        name: "ops",
        path: "/",
        mappingPolicy: "restrict",
        bodyParsers: false,
        cors,
        use: [compression()],
        aliases: {
          "GET /health/live"(_req: Req, res: Res) {
            sendJson(res, 200, { status: "ok" });
          },
          "GET /health/ready"(this: ApiThis, _req: Req, res: Res) {
            readiness(this.broker).then(
              report => sendJson(res, report.status === "ok" ? 200 : 503, report),
              () => sendJson(res, 503, { status: "fail", checks: {} }),
            );
          },
          "GET /metrics"(this: ApiThis, _req: Req, res: Res) {
            res.writeHead(200, {
              "Content-Type": "text/plain; version=0.0.4; charset=utf-8",
              "Cache-Control": "no-store",
            });
            res.end(metricsText(this.broker));
          },
          "GET /api/openapi.json"(this: ApiThis, _req: Req, res: Res) {
            res.writeHead(200, {
              "Content-Type": "application/json; charset=utf-8",
              "Cache-Control": "no-cache",
            });
            res.end(JSON.stringify(this.openApiDocument()));
          },
          "GET /api/docs"(_req: Req, res: Res) {
            sendDocsPage(res);
          },
          "GET /api/docs/:file"(this: ApiThis, req: Req, res: Res) {
            const file = (req.$params as { file?: string }).file ?? "";
            if (!sendDocsAsset(res, file)) this.sendPublicError(req, res, notFound());
          },
        },
      },
    ];
  },

  actions: {
    // moleculer-web's management actions would let any node on the transporter add routes.
    listAliases: false,
    addRoute: false,
    removeRoute: false,

    // The HTTP entry itself: re-running it would replay a consumed request (the retry
    // middleware re-invokes the handler), and a breaker or bulkhead on it would shut the
    // whole door — health probes included — because one service behind it fails. Those
    // policies apply to the calls it makes, per target action.
    rest: {
      retryPolicy: { enabled: false },
      circuitBreaker: { enabled: false },
      bulkhead: { enabled: false },
    },

    dashboard: {
      auth: true,
      params: {},
      handler(ctx: Context<Record<string, never>, Meta>) {
        return buildDashboard(ctx);
      },
    },
  },

  events: {
    // A new service (and its params) joined or left: the reference document changes with it.
    "$services.changed"(this: ApiThis) {
      this.openApiCache = undefined;
    },
    // Content committed a change (it broadcasts this to every node): drop our copies of its reads.
    "cache.clean.content"(this: ApiThis) {
      this.publishedReads.clear();
    },
  },

  methods: {
    /**
     * moleculer-web's call of the routed action, except for a hot anonymous read already
     * held here: that is answered without the round trip (same hooks, same response path).
     */
    async callAction(this: ApiThis, route, actionName, req, res, params, isStream) {
      const ctx = req.$ctx as Context<unknown, Meta>;
      const key = publishedReadKey(req.$alias?.spec?.action, req.method, !ctx.meta.user, params);
      if (key !== undefined) {
        const cached = this.publishedReads.get(key);
        req.$publishedRead = {
          key,
          generation: this.publishedReads.generation,
          hit: cached !== undefined,
        };
        if (cached !== undefined) {
          const hooks = route as unknown as {
            onAfterCall?: (...args: unknown[]) => unknown;
            logging?: boolean;
          };
          let data: unknown = cached;
          if (hooks.onAfterCall)
            data = await hooks.onAfterCall.call(this, ctx, route, req, res, data);
          const web = this as unknown as {
            sendResponse(req: Req, res: Res, data: unknown, action: unknown): void;
            logResponse(req: Req, res: Res, data: unknown): void;
          };
          web.sendResponse(
            req,
            res,
            data,
            (req as { $endpoint?: { action: unknown } }).$endpoint?.action,
          );
          if (hooks.logging) web.logResponse(req, res, data);
          return true;
        }
      }
      const original = (ApiGateway.methods as Record<string, (...args: unknown[]) => unknown>)
        .callAction;
      if (!ctx.meta.idempotencyKey || isStream) {
        return original.call(this, route, actionName, req, res, params, isStream);
      }
      // The client made the request repeatable: a node lost mid-call is not the client's failure.
      return retryIdempotent(async attempt => {
        if (attempt > 0) {
          const next = this.broker.findNextActionEndpoint(actionName, route.callOptions, ctx);
          if (!(next instanceof Error)) (req as { $endpoint?: unknown }).$endpoint = next;
        }
        return original.call(this, route, actionName, req, res, params, isStream);
      });
    },

    edgeLimit(this: ApiThis, req: Req, _res: Res, next: Next) {
      const ip = this.clientIps.resolve(req.socket.remoteAddress, req.headers["x-forwarded-for"]);
      req.$clientIp = ip;
      this.limiters.consume("global", ip).then(
        () => next(),
        (err: unknown) => next(err),
      );
    },

    async beforeCall(this: ApiThis, ctx: Context<unknown, Meta>, req: Req, res: Res) {
      const spec = req.$alias?.spec;
      const clientIp = req.$clientIp ?? "unknown";
      ctx.meta.clientIp = clientIp;
      const agent = req.headers["user-agent"];
      if (agent) ctx.meta.userAgent = agent.slice(0, 512);
      const key = idempotencyKeyOf(req.headers["idempotency-key"]);
      if (key) ctx.meta.idempotencyKey = key;
      if (spec) {
        const sent = (bag: unknown, name: string) =>
          bag !== null && typeof bag === "object" && Object.hasOwn(bag, name);
        const query = (req as { query?: unknown }).query;
        const clashing = pathParams(spec.path).filter(
          name => sent(req.body, name) || sent(query, name),
        );
        if (clashing.length > 0) throw pathParamsInBody(clashing);
      }
      if (spec && this.limiters.routeBuckets.includes(routeKey(spec))) {
        await this.limiters.consume(routeKey(spec), clientIp);
      }
      clampPageSizes(req.$params as Record<string, unknown>);
      useContractStatus(res, spec?.status, ctx);
    },

    async authenticate(this: ApiThis, ctx: Context<unknown, Meta>, _route: Route, req: Req) {
      const action = req.$action;
      const header = req.headers.authorization;
      if (!header) return null;
      const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(header);
      try {
        if (!match) throw new InvalidTokenError("not a bearer token");
        return await this.verifier.verify(match[1]);
      } catch (err) {
        // A public route ignores a stale token (a client refreshing sends its expired one).
        if (!needsUser(action)) return null;
        if (err instanceof InvalidTokenError) throw unauthenticated();
        this.logger.warn(`access token keys unavailable: ${(err as Error).message}`);
        throw serviceUnavailable();
      }
    },

    authorize(this: ApiThis, ctx: Context<unknown, Meta>, _route: Route, req: Req) {
      const action = req.$action;
      // Internal actions are for other services over the transporter, never for HTTP.
      if (!action || action.internal === true) throw notFound();
      if (!needsUser(action)) return;
      const user = ctx.meta.user;
      if (!user) throw unauthenticated();
      const roles = action.roles ?? [];
      if (roles.length === 0 || user.roles.includes("admin")) return;
      if (!roles.some(role => user.roles.includes(role))) throw forbidden();
    },

    afterCall(this: ApiThis, ctx: Context<unknown, Meta>, req: Req, res: Res, data: unknown) {
      const spec = req.$alias?.spec;
      const read = req.$publishedRead;
      if (read && !read.hit) this.publishedReads.set(read.key, data, read.generation);
      const publicRead = req.method === "GET" && spec?.tag === "Content" && !needsUser(req.$action);
      setCacheHeaders(res, publicRead, Boolean(ctx.meta.user));
      if (spec?.status === 204 && !ctx.meta.$statusCode) return null;
      return data;
    },

    sendPublicError(this: ApiThis, req: Req, res: ServerResponse, err: unknown) {
      const body = toPublicError(err);
      if (body.code >= 500) {
        const e = err as Error;
        this.logger.warn(
          `${req.method} ${req.$alias?.spec?.path ?? "(unrouted)"} failed: ${e?.name}: ${e?.message}`,
        );
      }
      if (res.headersSent) {
        res.end();
        return;
      }
      for (const name of ["Content-Length", "ETag", "Content-Encoding"]) res.removeHeader(name);
      res.writeHead(body.code, errorHeaders(body));
      res.end(JSON.stringify(body));
      (this as unknown as { logResponse(req: Req, res: ServerResponse): void }).logResponse(
        req,
        res,
      );
    },

    // moleculer-web's default logs 5xx with their stack; ours logs one line in sendPublicError.
    errorHandler(this: ApiThis, req: Req, res: ServerResponse, err: unknown) {
      this.sendPublicError(req, res, err);
    },

    /** The route pattern, never the raw URL: paths can carry tokens (unsubscribe, open pixel). */
    logRequest() {},

    logResponse(this: ApiThis, req: Req, res: ServerResponse) {
      const route = req.$alias?.fullPath ?? (req.$alias ? String(req.$alias.path) : "(unrouted)");
      const started = req.$startTime;
      const ms = started ? hrtimeMs(started) : 0;
      recordRequest(
        this.broker,
        { method: req.method ?? "GET", route, status: res.statusCode },
        ms,
      );
      this.logger.info(`<= ${res.statusCode} ${req.method} ${route} ${ms.toFixed(1)} ms`);
    },

    async fetchJwks(this: ApiThis) {
      const action = actionFor("GET", "/auth/jwks") ?? "users.jwks";
      return this.broker.call(action, {}, { timeout: 3000, retries: 1 }) as Promise<{
        keys: Record<string, unknown>[];
      }>;
    },

    openApiDocument(this: ApiThis) {
      if (!this.openApiCache) {
        const actions = new Map<string, ActionInfo>();
        for (const item of this.broker.registry.getActionList({ skipInternal: true })) {
          const info = item as unknown as { name: string; action?: ActionInfo };
          if (info.action) actions.set(info.name, info.action);
        }
        this.openApiCache = buildOpenApi({
          routes: publicRoutes(),
          actions: name => actions.get(name),
          version: packageVersion,
        });
      }
      return this.openApiCache;
    },
  },

  created() {
    const cfg = configOf(this.broker);
    this.settings.port = cfg.port;
    // Keep idle keep-alive sockets longer than Traefik's 90 s; slow-header clients get 20 s.
    this.server.keepAliveTimeout = 95_000;
    this.server.headersTimeout = 20_000;
    this.clientIps = new ClientIpResolver(cfg.trustedProxies);
    this.publishedReads = new PublishedReadCache();
    if (cfg.redisUrl) {
      this.redis = createRedis(cfg.redisUrl);
      const redis = this.redis;
      registerHealthCheck(this.broker, "redis:gateway", () => redis.ping());
    }
    this.limiters = createRateLimiters({
      rpm: cfg.rateLimitRpm,
      redis: this.redis,
      prefix: cfg.redisPrefix,
    });
    this.verifier = new AccessTokenVerifier({
      publicUrl: cfg.publicUrl,
      fetchJwks: () => this.fetchJwks(),
    });
    registerGatewayMetrics(this.broker);
  },

  async stopped() {
    await this.redis?.quit().catch(() => undefined);
  },
};

export default ApiService;
