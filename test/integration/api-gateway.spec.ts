import { Errors, type Context, type ServiceBroker, type ServiceSchema } from "moleculer";
import nodeHttp from "node:http";
import type { Readable } from "node:stream";
import { startTestNode, type TestNode } from "../support/cluster";
import { freePort } from "../support/node-process";
import { requireServers } from "../support/servers";
import { uniqueName } from "../support/isolation";
import type { AuthUser } from "../../models/auth.model";
import {
  fakeUsersService,
  hsWithPublicKey,
  http,
  natsEnv,
  newSigningKey,
  signAccessToken,
  standardClaims,
  startServiceNode,
  unsignedToken,
  type SigningKey,
} from "./api-kit";

jest.mock("../../services/api/routes/identity.routes", () => ({
  identityRoutes: jest.requireActual("./api-fixture-routes").fixtureRoutes,
}));
jest.mock("../../services/api/routes/content.routes", () => ({ contentRoutes: [] }));
jest.mock("../../services/api/routes/learning.routes", () => ({ learningRoutes: [] }));
jest.mock("../../services/api/routes/notifications.routes", () => ({ notificationsRoutes: [] }));

type Meta = {
  user?: AuthUser | null;
  clientIp?: string;
  userAgent?: string;
  idempotencyKey?: string;
};

const calls = { echo: 0, remove: 0, profile: 0 };

const testService = {
  name: "test",
  actions: {
    echo: {
      params: {
        $$strict: true,
        name: "string|min:2",
        password: "string|optional",
        pageSize: "number|optional|convert",
      },
      handler(ctx: Context<Record<string, unknown>, Meta>) {
        calls.echo++;
        return { params: ctx.params, meta: ctx.meta, requestId: ctx.requestID };
      },
    },
    whoami: {
      auth: true,
      handler(ctx: Context<unknown, Meta>) {
        return { user: ctx.meta.user, clientIp: ctx.meta.clientIp, requestId: ctx.requestID };
      },
    },
    authorOnly: {
      roles: ["author"],
      handler: () => ({ ok: true }),
    },
    adminOnly: {
      roles: ["admin"],
      params: { pageSize: "number|optional|convert" },
      handler: (ctx: Context<{ pageSize?: number }>) => ({
        rows: [],
        pageSize: ctx.params.pageSize,
      }),
    },
    internalOnly: { internal: true, handler: () => ({ answerKey: "secret" }) },
    slow: {
      timeout: 200,
      handler: () => new Promise(resolve => setTimeout(() => resolve({ late: true }), 1500)),
    },
    boom: {
      handler() {
        throw new Error("connect ECONNREFUSED postgres://app:hunter2@10.0.0.7:5432");
      },
    },
    flaky: {
      handler() {
        throw new Errors.ServiceNotAvailableError({ action: "deep.thing", nodeID: "x" });
      },
    },
    conflict: {
      handler() {
        throw new Errors.MoleculerClientError("That email is taken", 409, "EMAIL_TAKEN", {
          field: "email",
        });
      },
    },
    list: {
      params: { pageSize: "number|optional|convert", page: "number|optional|convert" },
      handler: (ctx: Context<{ pageSize?: number }, Meta>) => ({
        rows: [{ id: "t1" }],
        pageSize: ctx.params.pageSize ?? 20,
        drafts: Boolean(ctx.meta.user),
      }),
    },
    get: {
      params: { id: "string" },
      handler: (ctx: Context<{ id: string }>) => ({ id: ctx.params.id }),
    },
    remove: {
      auth: true,
      params: { id: "string" },
      handler: () => {
        calls.remove++;
        return { removed: true };
      },
    },
    profile: {
      params: {
        $$strict: true,
        level: { type: "enum", values: ["A1", "A2", "B1"], optional: true },
        avatarUrl: {
          type: "multi",
          optional: true,
          rules: [{ type: "url" }, { type: "equal", value: null }],
        },
        nick: { type: "string", min: 1, optional: true },
        tags: { type: "array", min: 2, items: "string", optional: true },
      },
      handler: () => {
        calls.profile++;
        return { ok: true };
      },
    },
    pixel: {
      params: { token: "string" },
      handler(ctx: Context<unknown, { $responseType?: string }>) {
        ctx.meta.$responseType = "image/gif";
        return Buffer.from("GIF89a");
      },
    },
    upload: {
      roles: ["author"],
      async handler(ctx: Context<Record<string, string>> & { stream?: Readable }) {
        let size = 0;
        for await (const chunk of ctx.stream as Readable) size += (chunk as Buffer).length;
        return { size, contentType: ctx.params.$mimetype };
      },
    },
  },
};

function rawGet(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    nodeHttp
      .get(url, { headers }, res => {
        let body = "";
        res.on("data", chunk => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on("error", reject);
  });
}

describe("api gateway conventions (real NATS + Redis)", () => {
  const namespace = uniqueName("apigw");
  const ring: { keys: SigningKey[]; jwksCalls: number } = { keys: [], jwksCalls: 0 };
  let gateway: TestNode;
  let services: ServiceBroker;
  let key: SigningKey;
  let api: string;
  let metricsPort: number;
  const token = (roles: AuthUser["roles"] = ["learner"], sub = "user-1") =>
    signAccessToken(key, { roles, sub });

  beforeAll(async () => {
    await requireServers("nats", "redis");
    key = await newSigningKey();
    ring.keys = [key];
    const env = natsEnv(namespace, {
      RATE_LIMIT_RPM: "100000",
      CORS_ORIGINS: "https://app.example.com",
    });
    services = await startServiceNode(env, `${namespace}-svc`, [
      fakeUsersService(ring),
      testService as unknown as ServiceSchema,
    ]);
    metricsPort = await freePort();
    gateway = await startTestNode(["api"], {
      ...env,
      NODE_ID: `${namespace}-gw`,
      METRICS_PORT: String(metricsPort),
    });
    await gateway.broker.waitForServices(["users", "test"], 10_000);
    api = gateway.apiUrl as string;
  });

  afterAll(async () => {
    await gateway?.stop();
    await services?.stop();
  });

  describe("authentication at the edge (security.md 20)", () => {
    it("when a protected route is called without a token, then 401 in the contract shape", async () => {
      const res = await http(`${api}/whoami`);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({
        name: "UnauthorizedError",
        message: expect.any(String),
        code: 401,
        type: "UNAUTHORIZED",
      });
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
    });

    it("when a valid token is sent, then the action sees a small meta.user, client ip and request id", async () => {
      const res = await http(`${api}/whoami`, { token: await token(["author"], "u-42") });
      expect(res.status).toBe(200);
      const body = res.body as { user: AuthUser; clientIp: string; requestId: string };
      expect(body.user).toEqual({ id: "u-42", roles: ["author"], sid: "s1" });
      expect(body.clientIp).toBe("127.0.0.1");
      expect(body.requestId).toBe(res.headers.get("x-request-id"));
    });

    it.each([
      ["unsigned (alg none)", async () => unsignedToken(standardClaims())],
      ["HS256 signed with the public key", async () => hsWithPublicKey(key, standardClaims())],
      ["expired", async () => signAccessToken(key, { roles: ["admin"], expiresInSeconds: -120 })],
      [
        "for another audience",
        async () => signAccessToken(key, { roles: ["admin"], aud: "other-api" }),
      ],
      [
        "from another issuer",
        async () => signAccessToken(key, { roles: ["admin"], iss: "https://evil.example" }),
      ],
      [
        "of another token type (refresh/MFA-pending JWT)",
        async () => signAccessToken(key, { typ: "mfa+jwt" }),
      ],
      [
        "an opaque refresh token",
        async () => "3q2-7wX_opaque.refresh-token_value-aaaaaaaaaaaaaaaaaaaaaa",
      ],
      [
        "carrying its own key (jwk header)",
        async () => signAccessToken(key, { header: { jwk: key.jwk } }),
      ],
      [
        "pointing at a key URL (jku header)",
        async () => signAccessToken(key, { header: { jku: "https://evil.example/jwks" } }),
      ],
      [
        "signed by an unknown key",
        async () => signAccessToken(await newSigningKey(), { roles: ["admin"] }),
      ],
      ["garbage", async () => "not.a.jwt"],
    ])("when the token is %s, then every protected route answers 401", async (_label, make) => {
      const bad = await make();
      for (const [method, path] of [
        ["GET", "/whoami"],
        ["GET", "/users"],
        ["DELETE", "/things/t1"],
        ["GET", "/me/dashboard"],
      ]) {
        const res = await http(`${api}${path}`, { method, token: bad });
        expect([path, res.status, (res.body as { type?: string }).type]).toEqual([
          path,
          401,
          "UNAUTHORIZED",
        ]);
      }
      expect(calls.remove).toBe(0);
    });

    it("when a public route gets a stale token, then it is served anonymously", async () => {
      const stale = await signAccessToken(key, { expiresInSeconds: -120 });
      const res = await http(`${api}/things`, { token: stale });
      expect(res.status).toBe(200);
      expect((res.body as { drafts: boolean }).drafts).toBe(false);
    });

    it("when many requests carry tokens, then the key set was fetched once (no call to users per request)", async () => {
      const before = ring.jwksCalls;
      const t = await token();
      for (let i = 0; i < 5; i++)
        expect((await http(`${api}/whoami`, { token: t })).status).toBe(200);
      expect(ring.jwksCalls).toBe(before);
      expect(ring.jwksCalls).toBeLessThanOrEqual(2);
    });

    it("when the users service rotates in a new key, then its tokens are accepted after one refetch", async () => {
      const fresh = await newSigningKey();
      // Let the refetch cool-down (1 s) since this suite's first fetch pass.
      await new Promise(resolve => setTimeout(resolve, 1100));
      ring.keys = [key, fresh];
      const before = ring.jwksCalls;
      const res = await http(`${api}/whoami`, {
        token: await signAccessToken(fresh, { sub: "rotated" }),
      });
      expect(res.status).toBe(200);
      expect((res.body as { user: AuthUser }).user.id).toBe("rotated");
      expect(ring.jwksCalls).toBe(before + 1);
      // Unknown key ids right after: the refetch is rate-limited, not repeated per request.
      for (let i = 0; i < 3; i++) {
        const forged = await signAccessToken(await newSigningKey());
        expect((await http(`${api}/whoami`, { token: forged })).status).toBe(401);
      }
      expect(ring.jwksCalls).toBe(before + 1);
    });
  });

  describe("authorization (security.md 23)", () => {
    it("when a learner calls an author route and an admin route, then 403 in the contract shape", async () => {
      const learner = await token(["learner"]);
      const a = await http(`${api}/author-only`, { method: "POST", token: learner, json: {} });
      const b = await http(`${api}/users`, { token: learner });
      for (const res of [a, b]) {
        expect(res.status).toBe(403);
        expect(res.body).toEqual({
          name: "ForbiddenError",
          message: expect.any(String),
          code: 403,
          type: "FORBIDDEN",
        });
      }
    });

    it("when an author calls an author route, or an admin any route, then they are admitted", async () => {
      expect(
        (
          await http(`${api}/author-only`, {
            method: "POST",
            token: await token(["author"]),
            json: {},
          })
        ).status,
      ).toBe(201);
      expect(
        (
          await http(`${api}/author-only`, {
            method: "POST",
            token: await token(["admin"]),
            json: {},
          })
        ).status,
      ).toBe(201);
      expect((await http(`${api}/users`, { token: await token(["admin"]) })).status).toBe(200);
    });

    it("when internal actions, $node actions or unmapped actions are asked for over HTTP, then 404", async () => {
      const admin = await token(["admin"]);
      for (const path of [
        "/internal",
        "/$node/list",
        "/~node/services",
        "/test/echo",
        "/test.echo",
        "/api/rest",
        "/users.jwks",
      ]) {
        const res = await http(`${api}${path}`, { token: admin });
        expect([path, res.status, (res.body as { type?: string }).type]).toEqual([
          path,
          404,
          "NOT_FOUND",
        ]);
        expect(res.text).not.toContain("answerKey");
      }
      const root = await http(`${gateway.origin}/$node/list`);
      expect(root.status).toBe(404);
    });
  });

  describe("bodies and errors", () => {
    it("when a JSON body is over 1 MiB, then 413 (security.md 22)", async () => {
      const big = JSON.stringify({ name: "x".repeat(1024 * 1024 + 10) });
      const res = await http(`${api}/echo`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: big,
      });
      expect(res.status).toBe(413);
      expect(res.body).toMatchObject({
        name: "PayloadTooLargeError",
        code: 413,
        type: "PAYLOAD_TOO_LARGE",
      });
    });

    it("when a chunked JSON body grows past 1 MiB, then 413 as well", async () => {
      const chunk = "x".repeat(64 * 1024);
      const stream = new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('{"name":"'));
          for (let i = 0; i < 20; i++) controller.enqueue(new TextEncoder().encode(chunk));
          controller.enqueue(new TextEncoder().encode('"}'));
          controller.close();
        },
      });
      const res = await http(`${api}/echo`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: stream,
        duplex: "half",
      } as RequestInit);
      expect(res.status).toBe(413);
    });

    it("when a JSON route gets another content type, then 415", async () => {
      const res = await http(`${api}/echo`, {
        method: "POST",
        headers: { "Content-Type": "text/plain" },
        body: "name=ab",
      });
      expect(res.status).toBe(415);
      expect(res.body).toMatchObject({ code: 415, type: "UNSUPPORTED_MEDIA_TYPE" });
      const form = await http(`${api}/echo`, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: "name=ab",
      });
      expect(form.status).toBe(415);
    });

    it("when a JSON Patch or Merge Patch document is sent, then 415 and the action never runs", async () => {
      const before = calls.echo;
      for (const type of [
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/vnd.lingomesh+json",
      ]) {
        const res = await http(`${api}/echo`, {
          method: "POST",
          headers: { "Content-Type": type },
          body: JSON.stringify({ name: "abc" }),
        });
        expect([type, res.status, (res.body as { type?: string }).type]).toEqual([
          type,
          415,
          "UNSUPPORTED_MEDIA_TYPE",
        ]);
      }
      const charset = await http(`${api}/echo`, {
        method: "POST",
        headers: { "Content-Type": "Application/JSON; charset=utf-8" },
        body: JSON.stringify({ name: "abc" }),
      });
      expect(charset.status).toBe(201);
      expect(calls.echo).toBe(before + 1);
    });

    it("when a text field holds NUL or an unpaired surrogate, in the body, a key, the query or the path, then 422 names it and the action never runs", async () => {
      const before = { ...calls };
      const cases: Array<[string, string, RequestInit & { json?: unknown }, string, string]> = [
        ["POST", "/echo", { json: { name: "Bo\u0000b" } }, "name", "textNul"],
        ["POST", "/echo", { json: { name: "Bob\uD800" } }, "name", "textLoneSurrogate"],
        [
          "POST",
          "/echo",
          { json: { name: "ab", "pass\u0000word": "x" } },
          "pass\uFFFDword",
          "textNul",
        ],
        [
          "PATCH",
          "/profile",
          { json: { tags: ["ok", "b\uDC00ad"] } },
          "tags[1]",
          "textLoneSurrogate",
        ],
        ["GET", "/things?page=1%00", {}, "page", "textNul"],
        ["DELETE", "/things/t%001", {}, "id", "textNul"],
      ];
      const learner = await token();
      for (const [method, path, init, field, type] of cases) {
        const res = await http(`${api}${path}`, { method, token: learner, ...init });
        const body = res.body as { type?: string; data?: Array<Record<string, unknown>> };
        expect([path, res.status, body.type, body.data]).toEqual([
          path,
          422,
          "VALIDATION_ERROR",
          [expect.objectContaining({ field, type, message: expect.stringContaining(field) })],
        ]);
        expect(res.text).not.toMatch(/\\u0000|\\ud[89a-f]/i);
      }
      expect(calls).toEqual(before);
      // Well-formed text outside the BMP (a surrogate pair) is ordinary text.
      const emoji = await http(`${api}/echo`, { method: "POST", json: { name: "Bob 🦄" } });
      expect(emoji.status).toBe(201);
    });

    it("when a query parameter the action does not take is sent, then 422 on every route alike", async () => {
      const learner = await token();
      for (const path of [
        "/things?color=red",
        "/things?page=1&$$strict=false",
        "/whoami?debug=1",
        "/me/dashboard?full=1",
      ]) {
        const res = await http(`${api}${path}`, { token: learner });
        const body = res.body as { type?: string; data?: Array<Record<string, unknown>> };
        expect([path, res.status, body.type]).toEqual([path, 422, "VALIDATION_ERROR"]);
        expect(body.data).toEqual([
          expect.objectContaining({ type: "objectStrict", actual: expect.any(String) }),
        ]);
      }
      const declared = await http(`${api}/things?page=2&pageSize=5`);
      expect(declared.status).toBe(200);
    });

    it("when validation fails, then each message says what is wrong with the value sent (no allowed list as the value, no \"equal to ''\" for a nullable field)", async () => {
      const res = await http(`${api}/profile`, {
        method: "PATCH",
        json: { level: "Z9", avatarUrl: "not a url", nick: "", tags: ["one"], extra: 1 },
      });
      expect(res.status).toBe(422);
      const items = (res.body as { data: Array<{ field?: string; message: string }> }).data;
      expect(items.map(item => [item.field, item.message])).toEqual([
        ["level", "The 'level' field must be one of: A1, A2, B1."],
        ["avatarUrl", "The 'avatarUrl' field must be a valid URL, or null."],
        ["nick", "The 'nick' field must be at least 1 character long."],
        ["tags", "The 'tags' field must have at least 2 items."],
        [undefined, "Not a field of this request: 'extra'."],
      ]);
      expect(res.text).not.toContain("equal to");
      expect(res.text).not.toContain("Z9");
      expect(calls.profile).toBe(0);
    });

    it("when the JSON is malformed, then 400", async () => {
      const res = await http(`${api}/echo`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: '{"name": ',
      });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        name: "BadRequestError",
        message: expect.any(String),
        code: 400,
        type: "INVALID_JSON",
      });
    });

    it("when validation fails, then 422 lists fields without echoing values or internal names", async () => {
      const res = await http(`${api}/echo`, {
        method: "POST",
        json: { name: "a", password: "s3cret-value", extra: 1 },
      });
      expect(res.status).toBe(422);
      const body = res.body as { type: string; data: Array<Record<string, unknown>> };
      expect(body.type).toBe("VALIDATION_ERROR");
      expect(body.data).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ field: "name", type: "stringMin" }),
          expect.objectContaining({ type: "objectStrict", actual: "extra" }),
        ]),
      );
      expect(res.text).not.toContain("s3cret-value");
      expect(res.text).not.toContain("test.echo");
      expect(res.text).not.toContain(`${namespace}-svc`);
    });

    it("when a service throws a client error, then its name, type and data pass through", async () => {
      const res = await http(`${api}/conflict`);
      expect(res.status).toBe(409);
      expect(res.body).toEqual({
        name: "MoleculerClientError",
        message: "That email is taken",
        code: 409,
        type: "EMAIL_TAKEN",
        data: { field: "email" },
      });
    });

    it("when a service crashes, then 500 with no stack, message or internal detail", async () => {
      const res = await http(`${api}/boom`);
      expect(res.status).toBe(500);
      expect(res.body).toEqual({
        name: "InternalServerError",
        message: expect.any(String),
        code: 500,
        type: "INTERNAL_ERROR",
      });
      expect(res.text).not.toMatch(/hunter2|ECONNREFUSED|stack|at |test\.boom/);
    });

    it("when the action's service is not running, then 503", async () => {
      const res = await http(`${api}/gone`);
      expect(res.status).toBe(503);
      expect(res.body).toEqual({
        name: "ServiceUnavailableError",
        message: expect.any(String),
        code: 503,
        type: "SERVICE_UNAVAILABLE",
      });
      expect(res.text).not.toContain("ghost");
    });

    it("when a call keeps failing as never reached, then 503 after the call's own retries (the HTTP request is not replayed)", async () => {
      const res = await http(`${api}/flaky`);
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ code: 503, type: "SERVICE_UNAVAILABLE" });
    });

    it("when the action times out, then 504", async () => {
      const started = Date.now();
      const res = await http(`${api}/slow`);
      expect(res.status).toBe(504);
      expect(res.body).toEqual({
        name: "GatewayTimeoutError",
        message: expect.any(String),
        code: 504,
        type: "GATEWAY_TIMEOUT",
      });
      expect(Date.now() - started).toBeLessThan(1400);
    });

    it("when the path is unknown, then 404 JSON", async () => {
      for (const url of [
        `${api}/nothing-here`,
        `${gateway.origin}/nowhere`,
        `${api}/things/a/b/c`,
      ]) {
        const res = await http(url);
        expect(res.status).toBe(404);
        expect(res.body).toEqual({
          name: "NotFoundError",
          message: "Not found",
          code: 404,
          type: "NOT_FOUND",
        });
      }
    });
  });

  describe("request ids, meta and statuses", () => {
    it("when X-Request-Id is sent, then it is echoed and becomes the requestID of the call", async () => {
      const res = await http(`${api}/echo`, {
        method: "POST",
        json: { name: "ab" },
        headers: { "X-Request-Id": "req-abc_123.4:5" },
      });
      expect(res.headers.get("x-request-id")).toBe("req-abc_123.4:5");
      expect((res.body as { requestId: string }).requestId).toBe("req-abc_123.4:5");
    });

    it("when X-Request-Id is unsafe or absent, then a fresh one is generated", async () => {
      const unsafe = await http(`${api}/echo`, {
        method: "POST",
        json: { name: "ab" },
        headers: { "X-Request-Id": "a b<script>" },
      });
      const long = await http(`${api}/echo`, {
        method: "POST",
        json: { name: "ab" },
        headers: { "X-Request-Id": "a".repeat(129) },
      });
      const none = await http(`${api}/echo`, { method: "POST", json: { name: "ab" } });
      for (const res of [unsafe, long, none]) {
        const id = res.headers.get("x-request-id") as string;
        expect(id).toMatch(/^[0-9a-f-]{36}$/);
        expect((res.body as { requestId: string }).requestId).toBe(id);
      }
    });

    it("when a POST carries Idempotency-Key and a User-Agent, then both reach ctx.meta; the success status comes from the contract", async () => {
      const res = await http(`${api}/echo`, {
        method: "POST",
        json: { name: "ab" },
        headers: { "Idempotency-Key": "k-123", "User-Agent": "lingomesh-test/1.0" },
      });
      expect(res.status).toBe(201);
      const meta = (res.body as { meta: Meta }).meta;
      expect(meta).toMatchObject({
        idempotencyKey: "k-123",
        userAgent: "lingomesh-test/1.0",
        clientIp: "127.0.0.1",
      });
      expect(meta.user ?? null).toBeNull();
    });

    it("when a route's contract status is 204, then the answer has no body", async () => {
      const res = await http(`${api}/things/t1`, { method: "DELETE", token: await token() });
      expect(res.status).toBe(204);
      expect(res.text).toBe("");
    });

    it("when a page size over 100 is asked for, then the service sees 100 (security.md 22)", async () => {
      const res = await http(`${api}/users?pageSize=100000`, { token: await token(["admin"]) });
      expect(res.status).toBe(200);
      expect((res.body as { pageSize: number }).pageSize).toBe(100);
    });
  });

  describe("HTTP behaviour", () => {
    it("when a public content read is repeated with If-None-Match, then 304; it carries ETag and public Cache-Control", async () => {
      const first = await http(`${api}/things`);
      expect(first.status).toBe(200);
      const etag = first.headers.get("etag") as string;
      expect(etag).toBeTruthy();
      expect(first.headers.get("cache-control")).toMatch(/public/);
      // node:http, not fetch: fetch adds "Cache-Control: no-cache" to conditional requests.
      const second = await rawGet(`${api}/things`, { "If-None-Match": etag });
      expect(second.status).toBe(304);
      expect(second.body).toBe("");
      const changed = await rawGet(`${api}/things`, { "If-None-Match": 'W/"other"' });
      expect(changed.status).toBe(200);
    });

    it("when a signed-in user reads public content or anything private, then it is not publicly cacheable", async () => {
      const mine = await http(`${api}/things`, { token: await token(["author"]) });
      expect(mine.headers.get("cache-control")).toBe("private, no-cache");
      const who = await http(`${api}/whoami`, { token: await token() });
      expect(who.headers.get("cache-control")).toBe("no-store");
    });

    it("when the client accepts gzip, then a large answer is compressed", async () => {
      const res = await fetch(`${gateway.origin}/api/openapi.json`, {
        headers: { "Accept-Encoding": "gzip" },
      });
      expect(res.headers.get("content-encoding")).toBe("gzip");
      expect(((await res.json()) as { openapi: string }).openapi).toBe("3.1.0");
    });

    it("when a configured origin preflights, then CORS allows it; another origin is refused", async () => {
      const ok = await fetch(`${api}/echo`, {
        method: "OPTIONS",
        headers: {
          Origin: "https://app.example.com",
          "Access-Control-Request-Method": "POST",
          "Access-Control-Request-Headers": "content-type,authorization",
        },
      });
      expect(ok.status).toBe(204);
      expect(ok.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
      expect(ok.headers.get("access-control-allow-headers")).toMatch(/Authorization/);
      const bad = await http(`${api}/things`, { headers: { Origin: "https://evil.example" } });
      expect(bad.status).toBe(403);
      expect(bad.headers.get("access-control-allow-origin")).toBeNull();
    });

    it("when the gateway runs behind a load balancer, then keep-alive outlasts the balancer's idle timeout", () => {
      const server = (
        gateway.broker.getLocalService("api") as unknown as { server: import("node:http").Server }
      ).server;
      expect(server.keepAliveTimeout).toBeGreaterThan(90_000);
      expect(server.headersTimeout).toBeLessThanOrEqual(30_000);
    });

    it("when health is asked for, then it answers on the gateway port; metrics answer on METRICS_PORT only", async () => {
      expect((await http(`${gateway.origin}/health/live`)).status).toBe(200);
      const ready = await http(`${gateway.origin}/health/ready`);
      expect(ready.status).toBe(200);
      expect(ready.body).toMatchObject({
        status: "ok",
        checks: { transporter: { status: "ok" }, "redis:gateway": { status: "ok" } },
      });
      const publicPort = await http(`${gateway.origin}/metrics`);
      expect(publicPort.status).toBe(404);
      expect(publicPort.body).toMatchObject({ code: 404, type: "NOT_FOUND" });
      expect(publicPort.text).not.toContain("lingomesh_gateway_requests_total");
      const metrics = await http(`http://127.0.0.1:${metricsPort}/metrics`);
      expect(metrics.status).toBe(200);
      expect(metrics.text).toContain("lingomesh_gateway_requests_total");
      expect(metrics.text).toMatch(/route="\/api\/v1\/things"/);
    });

    it("when anything is answered on the public port, then it carries nosniff, Referrer-Policy and Cross-Origin-Resource-Policy", async () => {
      const learner = await token();
      const answers = {
        json: await http(`${api}/things`),
        created: await http(`${api}/echo`, { method: "POST", json: { name: "ab" } }),
        noContent: await http(`${api}/things/t1`, { method: "DELETE", token: learner }),
        unauthenticated: await http(`${api}/whoami`),
        validation: await http(`${api}/echo`, { method: "POST", json: { name: "a" } }),
        crash: await http(`${api}/boom`),
        unrouted: await http(`${gateway.origin}/nowhere`),
        unsupported: await http(`${api}/echo`, {
          method: "POST",
          headers: { "Content-Type": "text/plain" },
          body: "x",
        }),
        health: await http(`${gateway.origin}/health/live`),
        openapi: await http(`${gateway.origin}/api/openapi.json`),
        docs: await http(`${gateway.origin}/api/docs`),
        docsMissing: await http(`${gateway.origin}/api/docs/nothing.js`),
        preflight: await http(`${api}/echo`, {
          method: "OPTIONS",
          headers: {
            Origin: "https://app.example.com",
            "Access-Control-Request-Method": "POST",
          },
        }),
        binary: await http(`${api}/pixel/abc.gif`),
      };
      const seen = Object.entries(answers).map(([label, res]) => [
        label,
        res.headers.get("x-content-type-options"),
        res.headers.get("referrer-policy"),
        res.headers.get("cross-origin-resource-policy"),
      ]);
      expect(seen).toEqual(
        Object.keys(answers).map(label => [
          label,
          "nosniff",
          "no-referrer",
          // Made to be embedded by other origins (media in the app, the pixel in mail clients).
          label === "binary" ? "cross-origin" : "same-origin",
        ]),
      );
      expect(answers.binary.status).toBe(200);
    });
  });

  describe("media uploads", () => {
    const form = (size: number) => {
      const data = new FormData();
      data.append("file", new Blob([Buffer.alloc(size, 1)], { type: "image/png" }), "pic.png");
      return data;
    };

    it("when an author uploads a file, then the multipart route streams it to the action", async () => {
      const res = await http(`${api}/media`, {
        method: "POST",
        body: form(2 * 1024 * 1024),
        token: await token(["author"]),
      });
      expect(res.status).toBe(201);
      expect(res.body).toEqual({ size: 2 * 1024 * 1024, contentType: "image/png" });
    });

    it("when the upload is over 20 MiB, then 413; when it is not multipart, then 415", async () => {
      const big = await http(`${api}/media`, {
        method: "POST",
        body: form(21 * 1024 * 1024),
        token: await token(["author"]),
      });
      expect(big.status).toBe(413);
      expect(big.body).toMatchObject({ code: 413, type: "PAYLOAD_TOO_LARGE" });
      const json = await http(`${api}/media`, {
        method: "POST",
        json: { a: 1 },
        token: await token(["author"]),
      });
      expect(json.status).toBe(415);
    });
  });
});
