import type { IncomingMessage, ServerResponse } from "node:http";
import compression from "compression";
import type Redis from "ioredis";
import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import ApiGateway, { type GatewayResponse, type IncomingRequest, type Route } from "moleculer-web";
import { version as packageVersion } from "../package.json";
import { configOf } from "../lib/config";
import { registerHealthCheck, sendHealth } from "../lib/health";
import { createRedis } from "../lib/redis";
import {
  parseRevocations,
  REVOCATION_EVENT,
  RevocationFeed,
  revocationStoreOf,
  RevocationSet,
} from "../lib/auth/revocations";
import { AccessTokenVerifier, InvalidTokenError } from "../lib/auth/verify-access-token";
import { formBody, jsonBody, multipartBody, rawBody } from "./api/body";
import { ClientIpResolver } from "./api/client-ip";
import { sendDocsAsset, sendDocsPage } from "./api/docs-page";
import { notFound, pathParamsInBody, serviceUnavailable, toPublicError } from "./api/errors";
import { recordRequest, registerGatewayMetrics } from "./api/metrics";
import { buildOpenApi, type ActionInfo } from "./api/openapi";
import { PublishedReadCache } from "../lib/published-read-cache";
import { needsUser, refusal } from "../lib/auth/guard";
import { unauthenticated, validationError } from "../lib/errors";
import { publishedReadKey } from "./api/published-reads";
import {
  learnerRead,
  learnerReadDeps,
  learnerReadOf,
  type LearnerReadDeps,
} from "./api/learner-reads";
import {
  HOMES_CHANGED_EVENT,
  LEARNER_CHANGED_EVENT,
  type LearnerChanged,
} from "../models/progress.model";
import { CERTIFICATES_CHANGED_EVENT } from "../models/certificate.model";
import { retryIdempotent } from "./api/idempotent-retry";
import { webMethods } from "./api/web-methods";
import { createRateLimiters, type RateLimiterSet } from "./api/rate-limits";
import { acceptRequestId } from "./api/request-id";
import { textProblems, unknownQueryParams } from "./api/text-input";
import { plainQuery } from "./api/query-string";
import type { AuthUser, RequestMeta } from "../models/auth.model";
import { actionFor, publicRoutes } from "./api/all-routes";
import { buildDashboard, type DashboardDeps, type HeldHome } from "./api/dashboard";
import { PerUserReadCache } from "../lib/per-user-read-cache";
import { GatewayLeaderboards } from "./api/leaderboard-reads";
import {
  aliasesOf,
  clampPageSizes,
  corsOf,
  embeddableAnswer,
  errorHeaders,
  hrtimeMs,
  idempotencyKeyOf,
  rowFacts,
  setCacheHeaders,
  setEdgeHeaders,
  useContractStatus,
  type GatedAction,
} from "./api/edge";
import type { RouteSpec } from "./api/route-table";
import { actorOf } from "../lib/auth/guard";
import { LIVE_DELIVERY_EVENT, type LiveDelivery, type LiveMessage } from "../models/live.model";
import { LiveHub } from "./api/live";
import { ticketStoreOf, type TicketStore } from "./api/live-tickets";

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
  /** An anonymous read the gateway may answer from its own copy (services/api/published-reads). */
  $publishedRead?: { key: string; generation: number; hit: boolean };
};
type Res = GatewayResponse;
type Next = (err?: unknown) => void;
type Meta = RequestMeta & { user?: AuthUser | null };

interface ApiState {
  verifier: AccessTokenVerifier;
  revocations: RevocationSet;
  revocationFeed: RevocationFeed;
  limiters: RateLimiterSet;
  clientIps: ClientIpResolver;
  redis?: Redis;
  openApiCache?: Record<string, unknown>;
  publishedReads: PublishedReadCache;
  /** Without Redis (embedded mode) progress answers every leaderboard. */
  boards?: GatewayLeaderboards;
  learnerReads: LearnerReadDeps;
  /** The dashboard's copies: profiles, learners' homes, and where its board is read. */
  dashboard: DashboardDeps;
  /** This gateway's time in ms (tests move it with progress's clock instead of waiting). */
  clock: () => number;
  server: import("node:http").Server;
  tickets: TicketStore;
  live?: LiveHub;
}

interface ApiMethods {
  authenticate(ctx: Context<unknown, Meta>, route: Route, req: Req): Promise<AuthUser | null>;
  authorize(ctx: Context<unknown, Meta>, route: Route, req: Req): void;
  beforeCall(ctx: Context<unknown, Meta>, req: Req, res: Res): Promise<void>;
  afterCall(ctx: Context<unknown, Meta>, req: Req, res: Res, data: unknown): unknown;
  edgeLimit(req: Req, res: Res, next: Next): void;
  httpHandler(req: Req, res: Res, next?: Next): Promise<void>;
  parseQueryString(req: Req): { query: Record<string, unknown>; url: string };
  sendPublicError(req: Req, res: ServerResponse, err: unknown): void;
  logResponse(req: Req, res: ServerResponse): void;
  fetchJwks(): Promise<{ keys: Record<string, unknown>[] }>;
  openApiDocument(): Record<string, unknown>;
  answerHere(route: Route, req: Req, res: Res, answer: unknown): Promise<true>;
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

/**
 * How long the gateway holds a learner's home at most, whatever its `freshUntil`: a lost
 * broadcast, or a change nothing announces, shows within it.
 */
const HOME_TTL_MS = 10_000;
/** Learners whose home one gateway holds at once (the oldest stored go first). */
const HOME_MAX_LEARNERS = 2000;

const ApiService: ServiceSchema<ApiSettings, ApiMethods, ApiState> & {
  // Its hooks run per request, once the service has every method and its state.
  merged(this: ApiThis, schema: ServiceSchema<ApiSettings>): void;
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
    // The hooks are arrows that keep the service as `this`: moleculer-web calls onAfterCall of
    // multipart aliases with the alias as `this`.
    const hooks = {
      authentication: true,
      authorization: true,
      mappingPolicy: "restrict",
      bodyParsers: false,
      mergeParams: true,
      etag: "weak",
      cors,
      onBeforeCall: (ctx: Context<unknown, Meta>, _route: Route, req: Req, res: Res) =>
        this.beforeCall(ctx, req, res),
      onAfterCall: (
        ctx: Context<unknown, Meta>,
        _route: Route,
        req: Req,
        res: Res,
        data: unknown,
      ) => this.afterCall(ctx, req, res, data),
    };
    const edgeLimit = (req: Req, res: Res, next: Next) => this.edgeLimit(req, res, next);
    settings.routes = [
      {
        name: "api",
        path: "/api/v1",
        ...hooks,
        use: [compression(), edgeLimit, jsonBody],
        aliases: aliasesOf(
          rows.filter(row => row.kind !== "multipart" && row.kind !== "form" && row.kind !== "raw"),
        ),
      },
      {
        name: "raw",
        path: "/api/v1",
        ...hooks,
        etag: false,
        use: [edgeLimit, rawBody],
        aliases: aliasesOf(rows.filter(row => row.kind === "raw")),
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
          "GET /health/live"(this: ApiThis, _req: Req, res: Res) {
            sendHealth(this.broker, "live", res);
          },
          "GET /health/ready"(this: ApiThis, _req: Req, res: Res) {
            sendHealth(this.broker, "ready", res);
          },
          "GET /api/openapi.json"(this: ApiThis, _req: Req, res: Res) {
            res.writeHead(200, {
              "Content-Type": "application/json; charset=utf-8",
              "Cache-Control": "no-cache",
            });
            res.end(JSON.stringify(this.openApiDocument()));
          },
          // The local payment provider's checkout page (embedded defaults, no Stripe keys).
          "GET /billing/local-checkout/:id"(this: ApiThis, req: Req, res: Res) {
            const id = (req.$params as { id?: string }).id ?? "";
            this.broker.call<string, { id: string }>("billing.localCheckoutPage", { id }).then(
              page => {
                res.writeHead(200, {
                  "Content-Type": "text/html; charset=utf-8",
                  "Cache-Control": "no-store",
                });
                res.end(page);
              },
              (err: unknown) => this.sendPublicError(req, res, err),
            );
          },
          "POST /billing/local-checkout/:id"(this: ApiThis, req: Req, res: Res) {
            const id = (req.$params as { id?: string }).id ?? "";
            this.broker
              .call<{ successUrl: string }, { id: string }>("billing.payLocally", { id })
              .then(
                ({ successUrl }) => {
                  res.writeHead(303, { Location: successUrl, "Cache-Control": "no-store" });
                  res.end();
                },
                (err: unknown) => this.sendPublicError(req, res, err),
              );
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
        return buildDashboard(ctx, this.dashboard);
      },
    },

    /** POST /live/ticket → 201 {ticket}: opens one `GET /live` WebSocket within 30 s, on any gateway. */
    liveTicket: {
      auth: true,
      params: { $$strict: true },
      async handler(ctx: Context<Record<string, never>, Meta>): Promise<{ ticket: string }> {
        const { id, sid, roles } = actorOf(ctx);
        const subject = { userId: id, roles, issuedAtMs: Date.now(), ...(sid ? { sid } : {}) };
        return { ticket: await this.tickets.issue(subject) };
      },
    },
  },

  events: {
    // A new service (and its params) joined or left: the reference document changes with it.
    "$services.changed"() {
      this.openApiCache = undefined;
    },
    // The users service ended sessions or changed a user: those tokens stop working here now.
    [REVOCATION_EVENT](ctx: Context<unknown>) {
      this.revocations.apply(parseRevocations(ctx.params));
      this.live?.closeRevoked();
    },
    // notify committed a live message: written to that user's sockets on this node, if any.
    [LIVE_DELIVERY_EVENT](ctx: Context<LiveDelivery>) {
      this.live?.deliver(ctx.params);
    },
    // Content committed a change (it broadcasts this to every node): drop our copies of its reads.
    "cache.clean.content"() {
      this.publishedReads.clear();
      this.learnerReads.courses.clear();
    },
    // Progress committed a change of a learner's completed lessons: our copy of them goes.
    [LEARNER_CHANGED_EVENT](ctx: Context<LearnerChanged>) {
      if (typeof ctx.params?.userId !== "string") return;
      this.learnerReads.completions.clearUser(ctx.params.userId);
      this.dashboard.homes.clearUser(ctx.params.userId);
    },
    // Progress marked many learners' homes for a rebuild (a course of theirs changed).
    [HOMES_CHANGED_EVENT]() {
      this.dashboard.homes.clear();
    },
    // Progress committed a revocation or an erasure: the verification answers held go.
    [CERTIFICATES_CHANGED_EVENT]() {
      this.publishedReads.clear();
    },
    // Users committed a change to an account: the profiles held for the dashboard go.
    "cache.clean.users"() {
      this.dashboard.profiles.clear();
    },
  },

  methods: {
    /**
     * moleculer-web's call of the routed action, except for a hot anonymous read already
     * held here, a learner's read of a live course and a leaderboard the read model in Redis
     * answers (services/api/leaderboard-reads.ts): those are answered without the round trip
     * (same hooks, same response path).
     */
    async callAction(route, actionName, req, res, params, isStream) {
      const ctx = req.$ctx as Context<unknown, Meta>;
      const action = req.$alias?.spec?.action;
      const user = ctx.meta.user;
      const key = publishedReadKey(action, req.method, !user, params);
      if (key !== undefined) {
        const cached = this.publishedReads.get(key);
        req.$publishedRead = {
          key,
          generation: this.publishedReads.generation,
          hit: cached !== undefined,
        };
        if (cached !== undefined) return this.answerHere(route, req, res, cached);
      }
      const courseId = user ? learnerReadOf(action, req.method, user, params) : undefined;
      if (user && courseId !== undefined) {
        const answer = await learnerRead(this.learnerReads, courseId, user, ctx.requestID);
        if (answer !== undefined) return this.answerHere(route, req, res, answer);
      }
      const board = user && (await this.boards?.answer(actionName, params, user.id));
      if (board) return this.answerHere(route, req, res, board);
      const original = webMethods.callAction;
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

    /** An answer this gateway holds, sent as moleculer-web sends an action's (same hooks). */
    async answerHere(route, req, res, answer) {
      const ctx = req.$ctx as Context<unknown, Meta>;
      let data = answer;
      if (route.onAfterCall) data = await route.onAfterCall.call(this, ctx, route, req, res, data);
      webMethods.sendResponse.call(
        this,
        req,
        res,
        data,
        (req as { $endpoint?: { action: unknown } }).$endpoint?.action,
      );
      if (route.logging) this.logResponse(req, res);
      return true;
    },

    /** Every request of the public port, routed or not, before moleculer-web sees it. */
    httpHandler(req: Req, res: Res, next?: Next) {
      setEdgeHeaders(res);
      return webMethods.httpHandler.call(this, req, res, next);
    },

    /** moleculer-web's split of the URL, with the plain queries read here (api/query-string.ts). */
    parseQueryString(req: Req) {
      const url = req.url ?? "";
      const at = url.indexOf("?", 1);
      const query =
        at === -1 || this.settings.qsOptions !== undefined
          ? undefined
          : plainQuery(url.slice(at + 1));
      if (query === undefined) return webMethods.parseQueryString.call(this, req);
      return { query, url: url.slice(0, at) };
    },

    edgeLimit(req: Req, _res: Res, next: Next) {
      const ip = this.clientIps.resolve(req.socket.remoteAddress, req.headers["x-forwarded-for"]);
      req.$clientIp = ip;
      this.limiters.consume("global", ip).then(
        () => next(),
        (err: unknown) => next(err),
      );
    },

    async beforeCall(ctx: Context<unknown, Meta>, req: Req, res: Res) {
      const spec = req.$alias?.spec;
      const clientIp = req.$clientIp ?? "unknown";
      ctx.meta.clientIp = clientIp;
      const agent = req.headers["user-agent"];
      if (agent) ctx.meta.userAgent = agent.slice(0, 512);
      const key = idempotencyKeyOf(req.headers["idempotency-key"]);
      if (key) ctx.meta.idempotencyKey = key;
      if (spec) {
        const { key: bucket, pathNames } = rowFacts(spec);
        const sent = (bag: unknown, name: string) =>
          bag !== null && typeof bag === "object" && Object.hasOwn(bag, name);
        const query = (req as { query?: unknown }).query;
        const clashing = pathNames.filter(name => sent(req.body, name) || sent(query, name));
        if (clashing.length > 0) throw pathParamsInBody(clashing);
        const problems = [
          ...unknownQueryParams(query, req.$action?.params),
          ...textProblems(req.$params),
        ];
        if (problems.length > 0) throw validationError(problems);
        if (this.limiters.routeBuckets.has(bucket)) await this.limiters.consume(bucket, clientIp);
      }
      clampPageSizes(req.$params as Record<string, unknown>);
      useContractStatus(res, spec?.status, ctx);
    },

    async authenticate(ctx: Context<unknown, Meta>, _route: Route, req: Req) {
      const action = req.$action;
      const header = req.headers.authorization;
      if (!header) return null;
      const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(header);
      try {
        if (!match) throw new InvalidTokenError("not a bearer token");
        // Only in the moment between the port opening and the first load of revocations.
        if (!this.revocationFeed.settled) await this.revocationFeed.load();
        return await this.verifier.verify(match[1]);
      } catch (err) {
        // A public route ignores a stale token (a client refreshing sends its expired one).
        if (!needsUser(action)) return null;
        if (err instanceof InvalidTokenError) throw unauthenticated();
        this.logger.warn(`access token keys unavailable: ${(err as Error).message}`);
        throw serviceUnavailable();
      }
    },

    authorize(ctx: Context<unknown, Meta>, _route: Route, req: Req) {
      const action = req.$action;
      // Internal actions are for other services over the transporter, never for HTTP.
      if (!action || action.internal === true) throw notFound();
      // The same guard runs again on the action's node (middlewares/guard.middleware.ts).
      const problem = refusal(action, ctx.meta.user, "edge");
      if (problem) throw problem;
    },

    afterCall(ctx: Context<unknown, Meta>, req: Req, res: Res, data: unknown) {
      const spec = req.$alias?.spec;
      const read = req.$publishedRead;
      if (read && !read.hit) this.publishedReads.set(read.key, data, read.generation);
      // The learner's own change passed here: this gateway's copies of their completions and
      // home go now, whenever progress's broadcast arrives.
      if (ctx.meta.user && req.method !== "GET" && spec?.action.startsWith("progress.")) {
        this.learnerReads.completions.clearUser(ctx.meta.user.id);
        this.dashboard.homes.clearUser(ctx.meta.user.id);
      }
      const publicRead = req.method === "GET" && spec?.tag === "Content" && !needsUser(req.$action);
      setCacheHeaders(res, publicRead, Boolean(ctx.meta.user));
      embeddableAnswer(res, spec);
      if (spec?.status === 204 && !ctx.meta.$statusCode) return null;
      return data;
    },

    sendPublicError(req: Req, res: ServerResponse, err: unknown) {
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
      this.logResponse(req, res);
    },

    // moleculer-web's default logs 5xx with their stack; ours logs one line in sendPublicError.
    errorHandler(req: Req, res: ServerResponse, err: unknown) {
      this.sendPublicError(req, res, err);
    },

    /** The route pattern, never the raw URL: paths can carry tokens (unsubscribe, open pixel). */
    logRequest() {},

    logResponse(req: Req, res: ServerResponse) {
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

    async fetchJwks() {
      const action = actionFor("GET", "/auth/jwks") ?? "users.jwks";
      return this.broker.call(action, {}, { timeout: 3000, retries: 1 }) as Promise<{
        keys: Record<string, unknown>[];
      }>;
    },

    openApiDocument() {
      if (!this.openApiCache) {
        const actions = new Map<string, ActionInfo>();
        for (const item of this.broker.registry.getActionList({ skipInternal: true })) {
          if (item.action) actions.set(item.name, item.action);
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
    this.learnerReads = learnerReadDeps(this.broker, this.logger);
    this.clock = Date.now;
    const now = () => this.clock();
    if (cfg.redisUrl) {
      this.redis = createRedis(cfg.redisUrl);
      const redis = this.redis;
      registerHealthCheck(this.broker, "redis:gateway", () => redis.ping());
      this.boards = new GatewayLeaderboards(redis, cfg.redisPrefix, now);
    }
    this.dashboard = {
      profiles: new PublishedReadCache({ ttlMs: 30_000, maxEntries: 10_000 }),
      // Short-lived and small: a learner's home is worth holding while they are on the app.
      homes: new PerUserReadCache<HeldHome>({
        ttlMs: HOME_TTL_MS,
        maxUsers: HOME_MAX_LEARNERS,
        maxPerUser: 1,
        now,
      }),
      homeBoard: async userId => this.boards?.homeBoard(userId),
      now,
    };
    this.limiters = createRateLimiters({
      rpm: cfg.rateLimitRpm,
      redis: this.redis,
      prefix: cfg.redisPrefix,
    });
    this.revocations = new RevocationSet();
    this.revocationFeed = new RevocationFeed(
      this.revocations,
      revocationStoreOf(this.broker, this.redis, cfg.redisPrefix),
      {
        onError: err =>
          this.logger.warn(`gateway: revocations could not be read, retrying: ${err.message}`),
      },
    );
    this.verifier = new AccessTokenVerifier({
      publicUrl: cfg.publicUrl,
      fetchJwks: () => this.fetchJwks(),
      revocations: this.revocations,
    });
    this.tickets = ticketStoreOf(this.redis, cfg.redisPrefix);
    registerGatewayMetrics(this.broker);
  },

  /** Not ready before the revocations a restarted gateway must know are loaded. */
  async started() {
    const feed = this.revocationFeed;
    registerHealthCheck(this.broker, "revocations", async () => {
      if (!feed.loaded) throw new Error("revocations not loaded yet");
    });
    await feed.load();
    feed.start();
    const cfg = configOf(this.broker);
    const origins = new Set([new URL(cfg.publicUrl).origin, ...cfg.corsOrigins]);
    this.live = new LiveHub(this.server, {
      limits: {
        perUser: cfg.live.maxPerUser,
        perNode: cfg.live.maxPerNode,
        heartbeatMs: cfg.live.heartbeatMs,
        maxBufferedBytes: cfg.live.sendBufferBytes,
      },
      redeem: ticket => this.tickets.redeem(ticket),
      replay: (userId, since) =>
        this.broker.call<LiveMessage[], { userId: string; since: string }>(
          "notify.liveSince",
          { userId, since },
          { timeout: 3000 },
        ),
      revoked: subject => this.revocations.rolesOf(subject) === null,
      originAllowed: origin => origins.has(origin),
      logger: this.logger,
    });
  },

  async stopped() {
    this.live?.close();
    this.revocationFeed.stop();
    await this.redis?.quit().catch(() => undefined);
  },
};

export default ApiService;
