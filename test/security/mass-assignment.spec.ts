import type { Errors } from "moleculer";
import { routeKey } from "../../services/api/all-routes";
import type { RouteSpec } from "../../services/api/route-table";
import {
  authorFixtures,
  learnerFixtures,
  fill,
  hasJsonBody,
  PASSWORD,
  QUIZ,
  routesWithDeclarations,
  startSecurityCluster,
  waitFor,
  type AuthorFixtures,
  type Declaration,
  type SecurityCluster,
  type Session,
} from "./security-kit";

/**
 * security.md line 21 (mass assignment) and line 22 (resource consumption) on the real
 * services through the gateway. Every route with a JSON body is enumerated from the routes
 * files; a new one without a base body below fails the completeness test.
 */

const PROTECTED = [
  "roles",
  "emailVerified",
  "mfaEnabled",
  "ownerId",
  "status",
  "xp",
  "id",
  "version",
  "isAdmin",
];

const MiB = 1024 * 1024;

interface Target {
  /** Who sends the request (the subject, or the admin for admin routes). */
  as: "subject" | "admin";
  params?: Record<string, string>;
  body: Record<string, unknown>;
}

describe("mass assignment and resource limits (security.md 21, 22)", () => {
  let c: SecurityCluster;
  let subject: Session;
  let admin: Session;
  let fx: AuthorFixtures;
  let notificationId: string;
  let card: { lessonId: string; cardId: string };
  let routes: Array<{ route: RouteSpec; decl: Declaration }>;
  let placement: { id: string; questionId: string };

  beforeAll(async () => {
    c = await startSecurityCluster("massassign");
    routes = routesWithDeclarations(c.gateway.broker);
    admin = await c.admin();
    // One subject who is author and learner: every route below acts on its own objects.
    subject = await c.withRoles(await c.register("subject"), ["learner", "author"]);
    fx = await authorFixtures(c, subject);
    const mine = await learnerFixtures(c, subject, fx);
    notificationId = mine.notificationId;
    card = { lessonId: mine.card.lessonId, cardId: mine.card.cardId };
    const started = await c.call<{ id: string; question: { id: string } }>("POST", "/placement", {
      token: subject.accessToken,
    });
    expect(started.status).toBe(201);
    placement = { id: started.body.id, questionId: started.body.question.id };
  }, 90_000);

  afterAll(async () => {
    await c?.stop();
  });

  /** A body each route accepts as it is: the only fault of a probe is the field it adds. */
  const targets = (): Record<string, Target> => ({
    "POST /auth/register": {
      as: "subject",
      body: { email: `new.${c.namespace}@example.com`, password: PASSWORD, name: "New" },
    },
    "POST /auth/login": { as: "subject", body: { email: subject.email, password: PASSWORD } },
    "POST /auth/refresh": { as: "subject", body: { refreshToken: subject.refreshToken } },
    "POST /auth/logout": { as: "subject", body: { refreshToken: subject.refreshToken } },
    "POST /auth/mfa/setup": { as: "subject", body: {} },
    "POST /auth/mfa/enable": { as: "subject", body: { otp: "123456" } },
    "POST /auth/mfa/disable": { as: "subject", body: { otp: "123456" } },
    "POST /auth/verify-email": { as: "subject", body: { token: "x".repeat(43) } },
    "POST /auth/password/forgot": { as: "subject", body: { email: subject.email } },
    "POST /auth/password/reset": {
      as: "subject",
      body: { token: "x".repeat(43), password: "a brand new passphrase" },
    },
    "POST /auth/password/change": {
      as: "subject",
      body: { currentPassword: PASSWORD, newPassword: "a brand new passphrase" },
    },
    "PATCH /me": { as: "subject", body: { name: "Changed" } },
    "POST /auth/oidc/:provider/start": {
      as: "subject",
      params: { provider: "school" },
      body: { redirectUri: "http://localhost:3000/auth/done" },
    },
    "POST /auth/oidc/exchange": { as: "subject", body: { code: "x".repeat(43) } },
    "POST /auth/oidc/:provider/id-token": {
      as: "subject",
      params: { provider: "school" },
      body: { idToken: "x.y.z", nonce: "n" },
    },
    "POST /me/identities/:provider/start": {
      as: "subject",
      params: { provider: "school" },
      body: { redirectUri: "http://localhost:3000/auth/done" },
    },
    "POST /auth/verify-email/resend": { as: "subject", body: {} },
    "POST /auth/mfa/recovery-codes": { as: "subject", body: { otp: "123456" } },
    "POST /me/email": {
      as: "subject",
      body: { newEmail: `moved.${c.namespace}@example.com`, password: PASSWORD },
    },
    "POST /users/:id/suspend": { as: "admin", params: { id: subject.id }, body: { reason: "x" } },
    "POST /users/:id/unsuspend": { as: "admin", params: { id: subject.id }, body: {} },
    "PUT /me/following/:userId": { as: "subject", params: { userId: admin.id }, body: {} },
    "POST /placement": { as: "subject", body: {} },
    "POST /placement/:id/answers": {
      as: "subject",
      params: { id: placement.id },
      body: { questionId: placement.questionId, value: "x" },
    },
    "PUT /me/blocked/:userId": { as: "subject", params: { userId: admin.id }, body: {} },
    "PUT /users/:id/roles": {
      as: "admin",
      params: { id: subject.id },
      body: { roles: ["learner", "author"] },
    },
    "POST /courses": {
      as: "subject",
      body: { title: "Injected", description: "x", level: "A1", topics: [], language: "en" },
    },
    "PATCH /courses/:id": {
      as: "subject",
      params: { id: fx.draftCourse },
      body: { title: "Changed" },
    },
    "POST /courses/:id/publish": { as: "subject", params: { id: fx.draftCourse }, body: {} },
    "POST /courses/:id/lessons": {
      as: "subject",
      params: { id: fx.draftCourse },
      body: { title: "Injected", kind: "lesson", order: 5, body: "x" },
    },
    "POST /courses/:id/units": {
      as: "subject",
      params: { id: fx.draftCourse },
      body: { title: "Injected unit", order: 1 },
    },
    "PATCH /lessons/:id": {
      as: "subject",
      params: { id: fx.draftLesson },
      body: { title: "Changed" },
    },
    "POST /courses/:id/enroll": {
      as: "subject",
      params: { id: fx.publishedCourse },
      body: {},
    },
    "POST /lessons/:id/attempts": {
      as: "subject",
      params: { id: fx.quizLesson },
      body: { answers: [] },
    },
    "POST /lessons/:id/complete": {
      as: "subject",
      params: { id: fx.readingLesson },
      body: {},
    },
    "POST /me/reviews": { as: "subject", body: { ...card, rating: "easy" } },
    "POST /me/practice": { as: "subject", body: { skill: "greetings" } },
    "POST /me/notifications/:id/read": {
      as: "subject",
      params: { id: notificationId },
      body: {},
    },
    "PUT /me/notification-preferences": {
      as: "subject",
      body: { email: { marketing: true } },
    },
    "POST /billing/checkout": {
      as: "subject",
      body: {
        planId: "premium-monthly",
        successUrl: "http://lingomesh.test/billing/done",
        cancelUrl: "http://lingomesh.test/billing",
      },
    },
    "POST /billing/portal": { as: "subject", body: {} },
    "POST /me/subscription/cancel": { as: "subject", body: {} },
    "POST /me/subscription/resume": { as: "subject", body: {} },
    "POST /admin/coupons": {
      as: "admin",
      body: { code: "INJECTED", percentOff: 10, duration: "once" },
    },
    "POST /admin/refunds": { as: "admin", body: { invoiceId: "in_injected" } },
    "POST /certificates/:id/revoke": {
      as: "admin",
      params: { id: "0190a4f6-0000-7000-8000-000000000000" },
      body: { reason: "Issued by mistake" },
    },
    "POST /me/notifications/read-all": { as: "subject", body: {} },
    "POST /live/ticket": { as: "subject", body: {} },
    "POST /me/push-subscriptions": {
      as: "subject",
      body: {
        endpoint: "https://push.invalid/subscription",
        keys: {
          p256dh: Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 1)]).toString("base64url"),
          auth: Buffer.alloc(16, 2).toString("base64url"),
        },
      },
    },
    "POST /me/phone": { as: "subject", body: { phone: "+14155550123" } },
    "POST /me/phone/verify": { as: "subject", body: { code: "123456" } },
  });

  /** Fields inside a body's objects: validators must be strict all the way down. */
  const nested = (): Array<{ key: string; body: Record<string, unknown>; field: string }> => [
    {
      key: "PUT /me/notification-preferences",
      body: { email: { marketing: true, roles: ["admin"] } },
      field: "roles",
    },
    {
      key: "POST /courses/:id/lessons",
      body: { ...QUIZ, questions: [{ ...QUIZ.questions[0], ownerId: admin.id }] },
      field: "ownerId",
    },
    {
      key: "POST /lessons/:id/attempts",
      body: { answers: [{ questionId: "q", value: "Hello", xp: 1000 }] },
      field: "xp",
    },
  ];

  /** Everything a changed request could have touched, read back over HTTP. */
  async function snapshot(): Promise<unknown> {
    const token = subject.accessToken;
    const get = async (path: string, as = token) => {
      const res = await c.call("GET", path, { token: as });
      return { status: res.status, body: res.body };
    };
    const sessions = (await c.call<Array<{ id: string }>>("GET", "/auth/sessions", { token })).body;
    return {
      me: await get("/me"),
      sessions: sessions.map(s => s.id).sort(),
      users: await get(`/users?pageSize=100`, admin.accessToken),
      draft: await get(`/courses/${fx.draftCourse}`),
      lesson: await get(`/lessons/${fx.draftLesson}`),
      mine: await get("/courses?mine=true&pageSize=100"),
      catalogue: await get("/courses?pageSize=100"),
      myCourses: await get("/me/courses"),
      progress: await get("/me/progress"),
      due: await get("/me/reviews/due"),
      notifications: await get("/me/notifications"),
      subscription: await get("/me/subscription"),
      coupons: await get("/admin/coupons", admin.accessToken),
      preferences: await get("/me/notification-preferences"),
      resetMails: await get(
        `/emails?to=${encodeURIComponent(subject.email)}&template=password-reset`,
        admin.accessToken,
      ),
    };
  }

  /**
   * The snapshot once earlier requests' durable events (in-app notifications, XP) have landed:
   * two reads half a second apart agree. Otherwise an event of the setup arriving during the
   * probes would look like a change a probe made.
   */
  async function settledSnapshot(): Promise<unknown> {
    let previous = await snapshot();
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      await new Promise(resolve => setTimeout(resolve, 500));
      const next = await snapshot();
      if (JSON.stringify(next) === JSON.stringify(previous)) return next;
      previous = next;
    }
    throw new Error("the system never settled: its state kept changing for 20 s without requests");
  }

  const jsonRoutes = () => routes.filter(({ route }) => hasJsonBody(route));

  it("when the routes files are enumerated, then every route with a JSON body has a row here", () => {
    const keys = jsonRoutes().map(({ route }) => routeKey(route));
    expect(keys.length).toBeGreaterThanOrEqual(24);
    expect(keys.filter(key => !(key in targets()))).toEqual([]);
  });

  it("when unknown or protected fields ride along in any body, then 422 names each one and nothing changed", async () => {
    const before = await settledSnapshot();
    const table = targets();
    const failures: string[] = [];
    const probes: Array<{
      key: string;
      route: RouteSpec;
      target: Target;
      body: object;
      raw?: string;
      field: string;
    }> = [];
    for (const { route, decl } of jsonRoutes()) {
      const target = table[routeKey(route)];
      if (!target) continue;
      const declared = Object.keys(decl.params ?? {}).filter(
        name => !route.path.includes(`:${name}`),
      );
      for (const field of [...PROTECTED, "somethingUnknown"]) {
        if (declared.includes(field)) continue; // the route's own field (roles on PUT /users/:id/roles)
        probes.push({
          key: routeKey(route),
          route,
          target,
          body: { ...target.body, [field]: field === "roles" ? ["admin"] : 1 },
          field,
        });
      }
    }
    // `__proto__` would become the merged params' prototype: fields no strict validator sees.
    for (const { route } of jsonRoutes()) {
      const target = table[routeKey(route)];
      if (!target) continue;
      const own = JSON.stringify(target.body).slice(1, -1);
      const raw = `{${own}${own ? "," : ""}"__proto__":{"roles":["admin"],"ownerId":"x","xp":1000}}`;
      probes.push({
        key: routeKey(route),
        route,
        target,
        body: JSON.parse(raw),
        raw,
        field: "__proto__",
      });
    }
    for (const n of nested()) {
      const found = jsonRoutes().find(({ route }) => routeKey(route) === n.key)!;
      probes.push({
        key: n.key,
        route: found.route,
        target: table[n.key],
        body: n.body,
        field: n.field,
      });
    }
    for (const probe of probes) {
      const res = await c.call<Errors.MoleculerError>(
        probe.route.method,
        fill(probe.route.path, probe.target.params ?? {}),
        {
          token: probe.target.as === "admin" ? admin.accessToken : subject.accessToken,
          ...(probe.raw
            ? { body: probe.raw, headers: { "Content-Type": "application/json" } }
            : { json: probe.body }),
        },
      );
      const items = JSON.stringify(res.body?.data ?? null);
      if (
        res.status !== 422 ||
        res.body.type !== "VALIDATION_ERROR" ||
        !items.includes(probe.field)
      ) {
        failures.push(`${probe.key} with ${probe.field}: ${res.status} ${res.text.slice(0, 160)}`);
      }
    }
    expect(failures).toEqual([]);
    expect(probes.length).toBeGreaterThan(200);
    expect(await snapshot()).toEqual(before);
    // The credentials the probes carried still work as they did.
    expect((await c.login(subject.email, PASSWORD)).id).toBe(subject.id);
    const refreshed = await c.call("POST", "/auth/refresh", {
      json: { refreshToken: subject.refreshToken },
    });
    expect(refreshed.status).toBe(200);
    expect(await c.login(`new.${c.namespace}@example.com`, PASSWORD).catch(() => null)).toBeNull();
  });

  describe("line 22: resource consumption", () => {
    const bodyRoutes = () =>
      routes.filter(
        ({ route }) =>
          route.method !== "GET" && route.kind !== "multipart" && route.kind !== "binary",
      );

    it("when a body over the limit is sent to every route that takes one (declared or chunked), then 413", async () => {
      const failures: string[] = [];
      const big = `{"pad":"${"a".repeat(MiB)}"}`;
      let checked = 0;
      for (const { route } of bodyRoutes()) {
        const values = Object.fromEntries(
          [...route.path.matchAll(/:([A-Za-z0-9_]+)/g)].map(m => [m[1], "x"]),
        );
        const url = fill(route.path, values);
        const type =
          route.kind === "form" ? "application/x-www-form-urlencoded" : "application/json";
        const declared = await c.call(route.method, url, {
          token: subject.accessToken,
          body: big,
          headers: { "Content-Type": type },
        });
        if (declared.status !== 413)
          failures.push(`${routeKey(route)} declared: ${declared.status}`);
        const chunked = await fetch(`${c.api}${url}`, {
          method: route.method,
          headers: { "Content-Type": type, Authorization: `Bearer ${subject.accessToken}` },
          body: new Blob([big]).stream(),
          duplex: "half",
        } as RequestInit).then(
          res => res.status,
          (err: Error) => `error ${err.message}`,
        );
        if (chunked !== 413) failures.push(`${routeKey(route)} chunked: ${chunked}`);
        checked++;
      }
      expect(failures).toEqual([]);
      expect(checked).toBeGreaterThanOrEqual(25);
      // Just under the limit is still parsed (the 413s above are about size).
      const small = await c.call("PATCH", "/me", {
        token: subject.accessToken,
        json: { name: "a".repeat(10) },
      });
      expect(small.status).toBe(200);
    });

    it("when a body under the limit nests very deep, then it is refused and every node keeps answering", async () => {
      const depth = 250_000;
      for (const raw of [
        `{"name":${"[".repeat(depth)}${"]".repeat(depth)}}`,
        `{"email":${'{"a":'.repeat(depth / 5)}1${"}".repeat(depth / 5)}}`,
      ]) {
        expect(raw.length).toBeLessThan(MiB);
        const res = await c.call("PUT", "/me/notification-preferences", {
          token: subject.accessToken,
          body: raw,
          headers: { "Content-Type": "application/json" },
        });
        expect(res.status).toBe(400);
        expect(res.body).toMatchObject({ type: "JSON_TOO_DEEP" });
      }
      expect((await c.call("GET", "/me", { token: subject.accessToken })).status).toBe(200);
    });

    it("when every list route is asked for a huge page, then the gateway caps it at 100 and the services refuse more themselves", async () => {
      const lists = routes.filter(
        ({ route, decl }) =>
          route.method === "GET" &&
          Object.keys(decl.params ?? {}).some(name => ["pageSize", "limit"].includes(name)),
      );
      expect(lists.map(({ route }) => routeKey(route))).toEqual(
        expect.arrayContaining([
          "GET /courses",
          "GET /users",
          "GET /emails",
          "GET /me/notifications",
          "GET /leaderboard",
          "GET /me/reviews/due",
        ]),
      );
      const failures: string[] = [];
      for (const { route, decl } of lists) {
        const name = "pageSize" in (decl.params ?? {}) ? "pageSize" : "limit";
        const res = await c.call<{ pageSize?: number; rows?: unknown[] } | unknown[]>(
          "GET",
          `${route.path}?${name}=100000`,
          { token: admin.accessToken },
        );
        const body = res.body as { pageSize?: number; rows?: unknown[] };
        const rows = Array.isArray(res.body) ? res.body : body.rows;
        if (res.status !== 200) failures.push(`${routeKey(route)}: ${res.status}`);
        else if (body.pageSize !== undefined && body.pageSize !== 100)
          failures.push(`${routeKey(route)}: pageSize ${body.pageSize}`);
        else if (rows && rows.length > 100)
          failures.push(`${routeKey(route)}: ${rows.length} rows`);
        // Behind the gateway too: the action's own validator refuses an oversized page.
        const direct = await c.gateway.broker
          .call(
            route.action,
            { [name]: 100_000 },
            { meta: { user: { id: admin.id, roles: ["admin"] } } },
          )
          .then(
            () => "accepted",
            (err: Errors.MoleculerError) => err.type,
          );
        if (direct !== "VALIDATION_ERROR") failures.push(`${route.action} direct: ${direct}`);
      }
      expect(failures).toEqual([]);
    });

    it("when reset mails are requested many times for one address, then at most 3 an hour are sent", async () => {
      const victim = await c.register("mailbomb");
      for (let i = 0; i < 6; i++) {
        const res = await c.call("POST", "/auth/password/forgot", {
          json: { email: victim.email.toUpperCase() },
        });
        expect(res.status).toBe(202);
      }
      const resetMails = async () =>
        (
          await c.call<{ total: number }>(
            "GET",
            `/emails?to=${encodeURIComponent(victim.email)}&template=password-reset`,
            { token: admin.accessToken },
          )
        ).body.total;
      await waitFor("reset mails", async () => (await resetMails()) >= 3);
      await new Promise(resolve => setTimeout(resolve, 1500));
      expect(await resetMails()).toBe(3);
    });

    it("when an address registers again in any spelling, then 409 and still one verification mail", async () => {
      const first = await c.register("verifybomb");
      for (const email of [first.email, first.email.toUpperCase(), ` ${first.email}`]) {
        const res = await c.call("POST", "/auth/register", {
          json: { email, password: PASSWORD, name: "Again" },
        });
        expect([email, res.status]).toEqual([email, email.startsWith(" ") ? 422 : 409]);
      }
      const welcome = async () =>
        (
          await c.call<{ total: number }>(
            "GET",
            `/emails?to=${encodeURIComponent(first.email)}&template=welcome`,
            { token: admin.accessToken },
          )
        ).body.total;
      await waitFor("the welcome mail", async () => (await welcome()) >= 1);
      await new Promise(resolve => setTimeout(resolve, 1000));
      expect(await welcome()).toBe(1);
    });
  });
});
