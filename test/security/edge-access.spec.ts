import crypto from "node:crypto";
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { SignJWT } from "jose";
import { openApiPath } from "../../services/api/openapi";
import { routeKey } from "../../services/api/all-routes";
import type { RouteSpec } from "../../services/api/route-table";
import { testKeyPair } from "../support/isolation";
import {
  declarations,
  fill,
  needsUser,
  PNG,
  PUBLIC_URL,
  routesWithDeclarations,
  startSecurityCluster,
  type CallOptions,
  type Declaration,
  type SecurityCluster,
  type Session,
} from "./security-kit";

/**
 * security.md line 20 (broken authentication) and line 23 (BFLA, internal actions), and
 * the OpenAPI document of the real services. Every route and action is enumerated from the
 * routes files and the service registry, so a new route or action is covered without
 * touching this file.
 */

const ANY_ID = "0190a4f6-0000-7000-8000-000000000000";
const run = promisify(execFile);

const b64 = (value: object): string => Buffer.from(JSON.stringify(value)).toString("base64url");

/** A request a route accepts in shape (so only the token decides), for any route. */
function requestFor(route: RouteSpec): { path: string; opts: CallOptions } {
  const values = Object.fromEntries(
    [...route.path.matchAll(/:([A-Za-z0-9_]+)/g)].map(m => [m[1], ANY_ID]),
  );
  const urlPath = fill(route.path, values);
  if (route.kind === "multipart") {
    const form = new FormData();
    form.append("file", new Blob([PNG], { type: "image/png" }), "pixel.png");
    return { path: urlPath, opts: { body: form } };
  }
  if (["POST", "PUT", "PATCH"].includes(route.method) && (route.kind ?? "json") === "json") {
    return { path: urlPath, opts: { json: {} } };
  }
  return { path: urlPath, opts: {} };
}

describe("the API edge: authentication, function-level authorization, internal actions, OpenAPI", () => {
  let c: SecurityCluster;
  let learner: Session;
  let author: Session;
  let admin: Session;
  let routes: Array<{ route: RouteSpec; decl: Declaration }>;
  let kid: string;
  const signingKey = crypto.createPrivateKey(testKeyPair().privateKey);

  /** An access token signed with the cluster's real key: only the claims named differ. */
  async function realKeyToken(
    claims: { sub: string; roles: string[]; aud?: string; iss?: string },
    opts: { exp?: number; nbf?: number; typ?: string; header?: Record<string, unknown> } = {},
  ): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ roles: claims.roles, sid: crypto.randomUUID() })
      .setProtectedHeader({ alg: "EdDSA", typ: opts.typ ?? "at+jwt", kid, ...opts.header })
      .setIssuer(claims.iss ?? PUBLIC_URL)
      .setAudience(claims.aud ?? "lingomesh-api")
      .setSubject(claims.sub)
      .setIssuedAt(now - 30)
      .setNotBefore(opts.nbf ?? now - 30)
      .setExpirationTime(opts.exp ?? now + 600)
      .setJti(crypto.randomUUID())
      .sign(signingKey);
  }

  beforeAll(async () => {
    c = await startSecurityCluster("edge");
    routes = routesWithDeclarations(c.gateway.broker);
    learner = await c.register("learner");
    author = await c.withRoles(await c.register("author"), ["learner", "author"]);
    admin = await c.admin();
    const jwks = await c.call<{ keys: Array<{ kid: string }> }>("GET", "/auth/jwks");
    kid = jwks.body.keys[0].kid;
  }, 90_000);

  afterAll(async () => {
    await c?.stop();
  });

  describe("line 20: bad tokens on every protected route", () => {
    it("when a token is forged here with the real key and valid claims, then it is accepted (the control for the cases below)", async () => {
      const token = await realKeyToken({ sub: admin.id, roles: ["admin"] });
      expect((await c.call("GET", "/me", { token })).status).toBe(200);
      expect((await c.call("GET", "/users", { token })).status).toBe(200);
    });

    it("when unsigned, alg none, HS-with-public-key, expired, not yet valid, wrong audience or issuer, wrong type, key-bearing, or refresh tokens are sent, then every protected route answers 401", async () => {
      const now = Math.floor(Date.now() / 1000);
      const claims = {
        iss: PUBLIC_URL,
        aud: "lingomesh-api",
        sub: admin.id,
        roles: ["admin"],
        sid: "s",
        iat: now,
        nbf: now,
        exp: now + 600,
      };
      const valid = await realKeyToken({ sub: admin.id, roles: ["admin"] });
      const [head, payload] = valid.split(".");
      const attackerKey = crypto.generateKeyPairSync("ed25519");
      const attackerJwk = attackerKey.publicKey.export({ format: "jwk" });
      const forgedWithOwnKey = await new SignJWT({ roles: ["admin"] })
        .setProtectedHeader({ alg: "EdDSA", typ: "at+jwt", jwk: { ...attackerJwk } })
        .setIssuer(PUBLIC_URL)
        .setAudience("lingomesh-api")
        .setSubject(admin.id)
        .setIssuedAt()
        .setExpirationTime("10m")
        .sign(attackerKey.privateKey);
      const publicPem = testKeyPair().publicKey;
      const hsHead = b64({ alg: "HS256", typ: "at+jwt", kid });
      const hsBody = b64(claims);
      const hs = `${hsHead}.${hsBody}.${crypto
        .createHmac("sha256", publicPem)
        .update(`${hsHead}.${hsBody}`)
        .digest("base64url")}`;
      const bad: Record<string, string> = {
        "unsigned (signature stripped)": `${head}.${payload}.`,
        "alg none": `${b64({ alg: "none", typ: "at+jwt" })}.${b64(claims)}.`,
        "HS256 with the public key": hs,
        "signature of another token": `${head}.${b64({ ...claims, sub: learner.id })}.${valid.split(".")[2]}`,
        expired: await realKeyToken(
          { sub: admin.id, roles: ["admin"] },
          { exp: now - 120, nbf: now - 1000 },
        ),
        "not yet valid": await realKeyToken(
          { sub: admin.id, roles: ["admin"] },
          { nbf: now + 600, exp: now + 1200 },
        ),
        "wrong audience": await realKeyToken({
          sub: admin.id,
          roles: ["admin"],
          aud: "another-api",
        }),
        "wrong issuer": await realKeyToken({
          sub: admin.id,
          roles: ["admin"],
          iss: "http://evil.test",
        }),
        "another token type (typ)": await realKeyToken(
          { sub: admin.id, roles: ["admin"] },
          { typ: "refresh+jwt" },
        ),
        "own key in the jwk header": forgedWithOwnKey,
        "refresh token": admin.refreshToken,
        "not a JWT": "abc.def",
      };
      const protectedRoutes = routes.filter(({ decl }) => needsUser(decl));
      expect(protectedRoutes.length).toBeGreaterThanOrEqual(30);
      const failures: string[] = [];
      for (const { route } of protectedRoutes) {
        const { path: urlPath, opts } = requestFor(route);
        const none = await c.call(route.method, urlPath, { ...opts });
        if (none.status !== 401)
          failures.push(`${routeKey(route)} without a token: ${none.status}`);
        for (const [name, token] of Object.entries(bad)) {
          const res = await c.call(route.method, urlPath, { ...requestFor(route).opts, token });
          if (res.status !== 401 || (res.body as { type?: string })?.type !== "UNAUTHORIZED") {
            failures.push(`${routeKey(route)} with ${name}: ${res.status}`);
          }
        }
      }
      expect(failures).toEqual([]);
    });
  });

  describe("line 23: function-level authorization", () => {
    it("when a learner calls every author or admin route, or an author every admin route, then 403; an admin is admitted", async () => {
      const gated = routes.filter(({ decl }) => (decl.roles?.length ?? 0) > 0);
      expect(gated.map(({ route }) => routeKey(route))).toEqual(
        expect.arrayContaining(["POST /courses", "GET /users", "GET /emails", "POST /media"]),
      );
      const failures: string[] = [];
      for (const { route, decl } of gated) {
        for (const who of [learner, author]) {
          if (decl.roles!.some(role => who.roles.includes(role))) continue;
          const { path: urlPath, opts } = requestFor(route);
          const res = await c.call(route.method, urlPath, { ...opts, token: who.accessToken });
          if (res.status !== 403 || (res.body as { type?: string })?.type !== "FORBIDDEN") {
            failures.push(`${routeKey(route)} as ${who.roles.join("+")}: ${res.status}`);
          }
        }
        const res = await c.call(route.method, requestFor(route).path, {
          ...requestFor(route).opts,
          token: admin.accessToken,
        });
        if ([401, 403].includes(res.status))
          failures.push(`${routeKey(route)} as admin: ${res.status}`);
      }
      expect(failures).toEqual([]);
    });

    it("when the routes files are compared with the registry, then no route maps an internal or $node action", () => {
      const decls = declarations(c.gateway.broker);
      const internal = [...decls.values()].filter(d => d.internal === true);
      expect(internal.length).toBeGreaterThanOrEqual(5);
      for (const { route, decl } of routes) {
        expect([routeKey(route), decl.internal === true, decl.name.startsWith("$")]).toEqual([
          routeKey(route),
          false,
          false,
        ]);
      }
    });

    it("when every internal, $node or unrouted action is asked for over HTTP by any path, then 404 and it never runs", async () => {
      const routed = new Set(routes.map(({ route }) => route.action));
      const unreachable = [...declarations(c.gateway.broker).values()]
        .map(d => d.name)
        .filter(name => !routed.has(name) && name !== "api.rest");
      expect(unreachable).toEqual(
        expect.arrayContaining([
          "$node.list",
          "$node.actions",
          "$node.health",
          "users.profiles",
          "users.remove",
          "content.lessonForGrading",
          "content.seedStarter",
          "notify.preview",
        ]),
      );
      const failures: string[] = [];
      const origin = c.origin;
      for (const name of unreachable) {
        const dot = name.lastIndexOf(".");
        const [svc, action] = [name.slice(0, dot), name.slice(dot + 1)];
        const variants = new Set(
          [svc, svc.replace(/^\$/, "~")].flatMap(s => [
            `/api/v1/${s}/${action}`,
            `/api/v1/${s}.${action}`,
            `/api/v1/${name}`,
            `/api/${s}/${action}`,
            `/${s}/${action}`,
            `/${s}.${action}`,
          ]),
        );
        for (const variant of variants) {
          for (const method of ["GET", "POST"]) {
            const res = await c.call(method, `${origin}${variant}`, {
              token: admin.accessToken,
              ...(method === "POST"
                ? { json: { id: ANY_ID, ids: [admin.id], template: "welcome" } }
                : {}),
            });
            if (res.status !== 404) failures.push(`${method} ${variant}: ${res.status}`);
          }
        }
      }
      expect(failures).toEqual([]);
      // Nothing above ran: the admin still exists and no starter course was seeded.
      expect((await c.call("GET", "/me", { token: admin.accessToken })).status).toBe(200);
      const courses = await c.call<{ total: number }>("GET", "/courses");
      expect(courses.body.total).toBe(0);
    });
  });

  describe("the OpenAPI document of the real services", () => {
    type Operation = { security?: unknown[]; responses: Record<string, unknown> };
    let doc: { openapi: string; paths: Record<string, Record<string, Operation>> };

    beforeAll(async () => {
      const res = await c.call<typeof doc>("GET", `${c.origin}/api/openapi.json`);
      expect(res.status).toBe(200);
      doc = res.body;
    });

    it("when validated with @seriousme/openapi-schema-validator, then it is a valid OpenAPI 3.1 document", async () => {
      expect(doc.openapi).toBe("3.1.0");
      const file = path.join(c.dataDir, "openapi.json");
      fs.writeFileSync(file, JSON.stringify(doc));
      const cli = require.resolve("@seriousme/openapi-schema-validator/bin/validate-api-cli.js");
      const out = await run(process.execPath, [cli, file]).catch((err: { stdout: string }) => ({
        stdout: err.stdout,
      }));
      const result = JSON.parse(out.stdout) as { valid: boolean; errors?: unknown };
      expect(result.errors).toBeUndefined();
      expect(result.valid).toBe(true);
    });

    it("when compared with the routes files and the actions' declarations, then every route is documented with its auth and role answers", () => {
      const documented = new Set<string>();
      for (const { route, decl } of routes) {
        const op = doc.paths[openApiPath(route.path)]?.[route.method.toLowerCase()];
        expect([routeKey(route), Boolean(op)]).toEqual([routeKey(route), true]);
        documented.add(`${route.method} ${openApiPath(route.path)}`);
        const secured = needsUser(decl);
        expect([routeKey(route), op.security]).toEqual([
          routeKey(route),
          secured ? [{ bearerAuth: [] }] : [],
        ]);
        expect([routeKey(route), "401" in op.responses]).toEqual([routeKey(route), secured]);
        if (decl.roles?.length)
          expect([routeKey(route), "403" in op.responses]).toEqual([routeKey(route), true]);
      }
      const extra = Object.entries(doc.paths)
        .flatMap(([p, item]) =>
          Object.keys(item)
            .filter(m => ["get", "post", "put", "patch", "delete"].includes(m))
            .map(m => `${m.toUpperCase()} ${p}`),
        )
        .filter(key => !documented.has(key) && !/^GET \/(health|metrics|api\/)/.test(key));
      expect(extra).toEqual([]);
    });
  });

  describe("line 30: text input, one rule for query parameters, headers on every answer", () => {
    it("when NUL or a lone surrogate rides in a name, a lesson body or an attempt value, then 422 names the field, never a 500", async () => {
      const course = await c.call<{ id: string }>("POST", "/courses", {
        token: author.accessToken,
        json: { title: "Text input", description: "d", level: "A1", topics: ["travel"] },
      });
      expect(course.status).toBe(201);
      const nameBefore = await c.call<{ name: string }>("GET", "/me", {
        token: learner.accessToken,
      });
      const cases: Array<[string, string, Session, unknown, string]> = [
        ["PATCH", "/me", learner, { name: "Bo\u0000b" }, "name"],
        ["PATCH", "/me", learner, { name: "Bob\uD800" }, "name"],
        [
          "POST",
          `/courses/${course.body.id}/lessons`,
          author,
          { title: "Reading", kind: "lesson", order: 1, body: "Hello\u0000world" },
          "body",
        ],
        [
          "POST",
          `/lessons/${ANY_ID}/attempts`,
          learner,
          { answers: [{ questionId: "q1", value: "I\u0000m" }] },
          "answers[0].value",
        ],
        [
          "POST",
          `/lessons/${ANY_ID}/attempts`,
          learner,
          { answers: [{ questionId: "q1", value: ["a", "b\uDFFF"] }] },
          "answers[0].value[1]",
        ],
      ];
      for (const [method, path, who, json, field] of cases) {
        const res = await c.call<{ type?: string; data?: Array<{ field: string }> }>(method, path, {
          token: who.accessToken,
          json,
        });
        expect([method, path, res.status, res.body.type, res.body.data?.map(d => d.field)]).toEqual(
          [method, path, 422, "VALIDATION_ERROR", [field]],
        );
      }
      const lessons = await c.call<{ lessons: unknown[] }>("GET", `/courses/${course.body.id}`, {
        token: author.accessToken,
      });
      expect(lessons.body.lessons).toEqual([]);
      const me = await c.call<{ name: string }>("GET", "/me", { token: learner.accessToken });
      expect(me.body.name).toBe(nameBefore.body.name);
    });

    it("when a query parameter no route declares is sent to every route, or NUL in a path id, then 422 before any action runs", async () => {
      const failures: string[] = [];
      for (const { route } of routes) {
        const { path, opts } = requestFor(route);
        const unknown = await c.call<{ type?: string; data?: Array<{ type: string }> }>(
          route.method,
          `${path}?somethingUnknown=1`,
          { token: admin.accessToken, ...opts },
        );
        // A HEAD answer carries no body: its status is all there is to check.
        const unknownType = route.method === "HEAD" ? "objectStrict" : unknown.body.data?.[0]?.type;
        if (unknown.status !== 422 || unknownType !== "objectStrict") {
          failures.push(`${routeKey(route)}?somethingUnknown: ${unknown.status}`);
        }
        if (!/:[A-Za-z]/.test(route.path)) continue;
        const nul = await c.call<{ data?: Array<{ type: string }> }>(
          route.method,
          path.replace(ANY_ID, "x%00y"),
          { token: admin.accessToken, ...opts },
        );
        const nulType = route.method === "HEAD" ? "textNul" : nul.body.data?.[0]?.type;
        if (nul.status !== 422 || nulType !== "textNul") {
          failures.push(`${routeKey(route)} with %00: ${nul.status}`);
        }
      }
      expect(failures).toEqual([]);
      // The routes that used to drop unknown parameters silently (issue 12, §4).
      for (const path of [
        "/me/progress",
        "/me/courses",
        "/me/achievements",
        "/me/dashboard",
        "/me/notification-preferences",
      ]) {
        const res = await c.call("GET", `${path}?verbose=true`, { token: learner.accessToken });
        expect([path, res.status]).toEqual([path, 422]);
        expect((await c.call("GET", path, { token: learner.accessToken })).status).toBe(200);
      }
    });

    it("when the real services answer (JSON, errors, docs, media), then nosniff, Referrer-Policy and Cross-Origin-Resource-Policy are on each", async () => {
      const form = new FormData();
      form.append("file", new Blob([PNG], { type: "image/png" }), "pixel.png");
      const upload = await c.call<{ id: string }>("POST", "/media", {
        token: author.accessToken,
        body: form,
      });
      expect(upload.status).toBe(201);
      const answers = {
        me: await c.call("GET", "/me", { token: learner.accessToken }),
        courses: await c.call("GET", "/courses"),
        created: upload,
        unauthenticated: await c.call("GET", "/me"),
        notFound: await c.call("GET", `/lessons/${ANY_ID}`, { token: learner.accessToken }),
        docs: await c.call("GET", `${c.origin}/api/docs`),
        media: await c.call("GET", `/media/${upload.body.id}`),
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
          label === "media" ? "cross-origin" : "same-origin",
        ]),
      );
      expect(answers.media.status).toBe(200);
      expect((await fetch(`${c.origin}/metrics`)).status).toBe(404);
    });
  });
});
