import crypto from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { generateVAPIDKeys } from "web-push";
import { publicRoutes, routeKey } from "../../services/api/all-routes";
import type { RouteSpec } from "../../services/api/route-table";
import { requireServers } from "../support/servers";
import { createTestDatabase, uniqueName, type TestDatabase } from "../support/isolation";
import { startProcessCluster, type ProcessCluster } from "./support/cluster";
import {
  ApiClient,
  expectErrorShape,
  expectListShape,
  expectStatus,
  type Answer,
  type Json,
} from "./support/http";
import { PASSWORD, uniqueEmail } from "./support/journey";
import { startSmtpCatcher, type Mail, type SmtpCatcher } from "./support/mail";
import { waitFor } from "./support/nodes";
import { totp } from "./support/totp";
import { STRIPE_TEST_KEY, STRIPE_WEBHOOK_SECRET, StripeDouble } from "../integration/stripe-double";
import {
  Browser,
  nativeIdToken,
  startTestProvider,
  type TestProvider,
} from "../integration/oidc.support";

/**
 * Every route of the routes files, called on real services (a gateway+users+content node and a
 * progress+notify node over NATS, Redis, RabbitMQ and PostgreSQL) the way the contract
 * (shared/design/api.md) says, with real ids: each answers its success status, lists have the
 * list shape, and failures (401, 403, 404, 422, 400, 413, 415) have the error shape.
 */

const PUBLIC_URL = "https://learn.example.test";
const APP_REDIRECT = `${PUBLIC_URL}/auth/done`;
const CALLBACK = `${PUBLIC_URL}/api/v1/auth/oidc/school/callback`;
const namespace = uniqueName("sysc");
const admin = { email: `admin.${namespace}@example.com`, password: "admin passphrase 42" };
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
  "base64",
);

let db: TestDatabase;
let smtp: SmtpCatcher;
let school: TestProvider;
let cluster: ProcessCluster;
let origin: string;
let stripe: StripeDouble;
/** A local server speaking Twilio's Messages API: the bodies of the SMS it was sent. */
let smsServer: http.Server;
const smsBodies: string[] = [];

interface Account {
  email: string;
  id: string;
  token: string;
  refresh: string;
  api: ApiClient;
}

/** Everything the cases need, made through the API in beforeAll. */
const f = {} as {
  admin: Account;
  author: Account;
  learner: Account; // verify, sessions, MFA, learning routes
  resetter: Account; // forgot, reset, change password, profile
  reader: Account; // notifications: has achievement mail and notifications
  extra: Account;
  courseId: string;
  readingId: string;
  quizId: string;
  spareCourseId: string;
  spareLessonId: string;
  spareUnitId: string;
  mediaId: string;
  notificationId: string;
  achievementMail: Mail;
  verifyToken: string;
  spareRefresh: string;
  mfaSecret: string;
  card: { lessonId: string; cardId: string };
  newPassword: string;
  checkoutSession: string;
  pendingEvents: ReturnType<StripeDouble["renew"]>;
  invoiceId: string;
  doomed: Account; // DELETE /me
  spare: Account; // suspended, unsuspended, then erased by the admin
  providerSub: string;
  authorizationUrl: string;
  oidcCode: string;
  oidcToken: string;
  certificateId: string;
  pushSubscriptionId: string;
  placement: { id: string; questionId: string };
};

const VAPID = generateVAPIDKeys();

const ip = () => `203.0.113.${crypto.randomInt(1, 254)}`;

async function register(label: string): Promise<Account> {
  const api = new ApiClient(origin, ip());
  const email = uniqueEmail(label).toLowerCase();
  const res = expectStatus(
    await api.post("/auth/register", { email, password: PASSWORD, name: `User ${label}` }),
    201,
    `register ${label}`,
  );
  return {
    email,
    id: res.body.user.id,
    token: res.body.accessToken,
    refresh: res.body.refreshToken,
    api,
  };
}

function tokenLink(mail: Mail, kind: "open" | "click" | "unsubscribe"): string {
  const all = `${mail.html}\n${mail.header("list-unsubscribe") ?? ""}`.replace(/&amp;/g, "&");
  const match = all.match(new RegExp(`/api/v1(/notifications/${kind}/[^"'\\s<>]+)`));
  if (!match) throw new Error(`no ${kind} link in "${mail.subject}"`);
  return match[1];
}

const QUIZ = [
  {
    type: "single",
    prompt: "Pick 'tea'.",
    options: ["tea", "toast"],
    answer: "tea",
    skills: ["food-vocabulary"],
  },
  { type: "text", prompt: "Opposite of hot?", answer: "cold" },
];

beforeAll(async () => {
  await requireServers("postgres", "redis", "rabbitmq", "nats");
  db = await createTestDatabase("lm_sysc");
  smtp = await startSmtpCatcher();
  stripe = await new StripeDouble().start();
  smsServer = http.createServer((req, res) => {
    let raw = "";
    req.on("data", (chunk: Buffer) => (raw += chunk.toString()));
    req.on("end", () => {
      smsBodies.push(new URLSearchParams(raw).get("Body") ?? "");
      res.writeHead(201, { "content-type": "application/json" });
      res.end("{}");
    });
  });
  await new Promise<void>(resolve => smsServer.listen(0, "127.0.0.1", resolve));
  const smsPort = (smsServer.address() as AddressInfo).port;
  school = await startTestProvider({ clientId: "lingomesh-contract", redirectUris: [CALLBACK] });
  f.providerSub = crypto.randomUUID();
  school.accounts.set(f.providerSub, {
    email: `sso.${namespace}@example.com`,
    emailVerified: true,
    name: "Sam School",
  });
  cluster = await startProcessCluster({
    namespace,
    databaseUrl: db.url,
    env: {
      SMTP_URL: smtp.url,
      PUBLIC_URL,
      ADMIN_EMAIL: admin.email,
      ADMIN_PASSWORD: admin.password,
      TRUSTED_PROXIES: "127.0.0.1",
      STRIPE_SECRET_KEY: STRIPE_TEST_KEY,
      STRIPE_WEBHOOK_SECRET,
      STRIPE_API_URL: stripe.url,
      SMS_URL: `http://AC1:token@127.0.0.1:${smsPort}/2010-04-01/Accounts/AC1/Messages.json`,
      VAPID_PUBLIC_KEY: VAPID.publicKey,
      VAPID_PRIVATE_KEY: VAPID.privateKey,
      AUTH_REDIRECT_URIS: APP_REDIRECT,
      OIDC_SCHOOL_ISSUER: school.issuer,
      OIDC_SCHOOL_CLIENT_ID: school.clientId,
      OIDC_SCHOOL_CLIENT_SECRET: school.clientSecret,
      OIDC_SCHOOL_NAME: "Northside School",
    },
    specs: [
      { name: "edge", services: "api,users,content", gateway: true },
      { name: "work", services: "progress,notify,billing" },
    ],
  });
  [origin] = cluster.gateways();

  const adminApi = new ApiClient(origin, ip());
  const login = expectStatus(await adminApi.post("/auth/login", admin), 200, "admin login");
  f.admin = {
    email: admin.email,
    id: login.body.user.id,
    token: login.body.accessToken,
    refresh: login.body.refreshToken,
    api: adminApi,
  };
  [f.author, f.learner, f.resetter, f.reader, f.extra, f.doomed, f.spare] = await Promise.all(
    ["author", "learner", "resetter", "reader", "extra", "doomed", "spare"].map(register),
  );
  expectStatus(
    await adminApi.put(
      `/users/${f.author.id}/roles`,
      { roles: ["learner", "author"] },
      { token: f.admin.token },
    ),
    200,
  );
  const renewed = expectStatus(
    await f.author.api.post("/auth/refresh", { refreshToken: f.author.refresh }),
    200,
  );
  f.author.token = renewed.body.accessToken;
  const as = { token: f.author.token };

  const course = expectStatus(
    await f.author.api.post(
      "/courses",
      {
        title: "At the café",
        description: "Order drinks and snacks politely.",
        level: "A2",
        topics: ["Food and drink"],
        language: "en",
      },
      as,
    ),
    201,
  );
  f.courseId = course.body.id;
  const lesson = (body: Json) =>
    f.author.api.post(`/courses/${f.courseId}/lessons`, body, as).then(r => expectStatus(r, 201));
  f.readingId = (
    await lesson({ title: "Ordering", kind: "lesson", order: 1, body: "Hi!" })
  ).body.id;
  f.quizId = (
    await lesson({ title: "Quiz", kind: "quiz", order: 2, questions: QUIZ, skills: ["adjectives"] })
  ).body.id;
  await lesson({
    title: "Words",
    kind: "flashcards",
    order: 3,
    cards: [
      { front: "the bill", back: "the paper that says how much to pay" },
      { front: "a menu", back: "the list of food and drinks" },
    ],
  });
  expectStatus(await f.author.api.post(`/courses/${f.courseId}/publish`, undefined, as), 200);

  // The reader earns an achievement: a non-transactional mail (tracking, unsubscribe) and notifications.
  const rd = { token: f.reader.token };
  expectStatus(await f.reader.api.post(`/courses/${f.courseId}/enroll`, undefined, rd), 201);
  expectStatus(await f.reader.api.post(`/lessons/${f.readingId}/complete`, undefined, rd), 201);
  [f.achievementMail] = await smtp.waitFor(f.reader.email, /^Achievement unlocked/);
  f.notificationId = await waitFor("the reader's notification", async () => {
    const res = await f.reader.api.get("/me/notifications", rd);
    return res.body.rows?.[0]?.id as string | undefined;
  });
  const [welcome] = await smtp.waitFor(f.learner.email, /^Welcome/);
  f.verifyToken = welcome.text.match(/verify-email\?token=([A-Za-z0-9_-]+)/)![1];
  const spare = expectStatus(
    await f.learner.api.post("/auth/login", { email: f.learner.email, password: PASSWORD }),
    200,
  );
  f.spareRefresh = spare.body.refreshToken;
  expectStatus(
    await f.learner.api.post("/auth/login", { email: f.learner.email, password: PASSWORD }),
    200,
  );
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
  await school?.close();
  await smtp?.close();
  await stripe?.stop();
  await new Promise(resolve => smsServer?.close(resolve));
  await db?.drop();
}, 30_000);

type Who = "public" | "user" | "author" | "admin";

interface Case {
  key: string;
  who: Who;
  /** Values of the path's parameters. */
  params?: () => Record<string, string>;
  body?: () => unknown | Promise<unknown>;
  token?: () => string;
  headers?: () => Record<string, string>;
  /** The query string (without `?`). */
  query?: () => string | Promise<string>;
  status: number;
  list?: boolean;
  check?: (answer: Answer) => void | Promise<void>;
  /** What must be true before the call: a read model that follows durable events caught up. */
  ready?: () => Promise<void>;
}

const learner = () => f.learner.token;
const reader = () => f.reader.token;

/** In the order they run: what later cases need is made by earlier ones; deletions come last. */
const CASES: Case[] = [
  {
    key: "GET /auth/jwks",
    who: "public",
    status: 200,
    check: a =>
      expect(a.body.keys[0]).toEqual(expect.objectContaining({ kid: expect.any(String) })),
  },
  {
    key: "POST /auth/register",
    who: "public",
    status: 201,
    body: () => ({ email: uniqueEmail("case").toLowerCase(), password: PASSWORD, name: "Casey" }),
    check: a => expect(a.body.user.roles).toEqual(["learner"]),
  },
  {
    key: "POST /auth/login",
    who: "public",
    status: 200,
    body: () => ({ email: f.extra.email, password: PASSWORD }),
    check: a => {
      f.extra.refresh = a.body.refreshToken;
    },
  },
  {
    key: "POST /auth/refresh",
    who: "public",
    status: 200,
    body: () => ({ refreshToken: f.extra.refresh }),
    check: a =>
      expect(Object.keys(a.body)).toEqual(
        expect.arrayContaining(["accessToken", "refreshToken", "expiresIn"]),
      ),
  },
  {
    key: "POST /auth/logout",
    who: "user",
    status: 204,
    token: learner,
    body: () => ({ refreshToken: f.spareRefresh }),
  },
  {
    key: "GET /auth/sessions",
    who: "user",
    status: 200,
    token: learner,
    check: a => {
      expect(a.body.filter((x: Json) => x.current)).toHaveLength(1);
      expect(a.body.length).toBe(2); // register + one login (the other logged out)
      for (const x of a.body) {
        expect(Object.keys(x).sort()).toEqual(
          ["createdAt", "current", "id", "ip", "lastUsedAt", "userAgent"].sort(),
        );
      }
    },
  },
  {
    key: "DELETE /auth/sessions/:id",
    who: "user",
    status: 204,
    token: learner,
    params: () => ({ id: "" }), // filled in below from the session list
  },
  {
    key: "POST /auth/verify-email",
    who: "public",
    status: 204,
    body: () => ({ token: f.verifyToken }),
  },
  {
    key: "POST /auth/mfa/setup",
    who: "user",
    status: 200,
    token: learner,
    check: a => {
      f.mfaSecret = a.body.secret;
      expect(a.body.otpauthUrl).toMatch(/^otpauth:\/\/totp\//);
    },
  },
  {
    key: "POST /auth/mfa/enable",
    who: "user",
    status: 204,
    token: learner,
    body: () => ({ otp: totp(f.mfaSecret, -1) }),
  },
  {
    key: "POST /auth/mfa/recovery-codes",
    who: "user",
    status: 200,
    token: learner,
    body: () => ({ otp: totp(f.mfaSecret) }),
    check: a => expect(a.body.recoveryCodes).toHaveLength(10),
  },
  {
    key: "POST /auth/mfa/disable",
    who: "user",
    status: 204,
    token: learner,
    body: () => ({ otp: totp(f.mfaSecret, 1) }),
  },
  {
    key: "POST /auth/password/forgot",
    who: "public",
    status: 202,
    body: () => ({ email: f.resetter.email }),
  },
  {
    key: "POST /auth/password/reset",
    who: "public",
    status: 204,
    body: async () => {
      const [mail] = await smtp.waitFor(f.resetter.email, /^Reset your Lingomesh password/);
      const token = mail.text.match(/reset-password\?token=([A-Za-z0-9_-]+)/)![1];
      f.newPassword = "a brand new passphrase";
      return { token, password: f.newPassword };
    },
    // A reset ends every access token issued before it: the next rows sign in anew.
    check: async () => {
      const login = expectStatus(
        await f.resetter.api.post("/auth/login", {
          email: f.resetter.email,
          password: f.newPassword,
        }),
        200,
        "login after reset",
      );
      f.resetter.token = login.body.accessToken;
    },
  },
  {
    key: "POST /auth/password/change",
    who: "user",
    status: 204,
    token: () => f.resetter.token,
    body: () => ({ currentPassword: f.newPassword, newPassword: "yet another passphrase" }),
  },
  {
    key: "GET /me",
    who: "user",
    status: 200,
    token: learner,
    check: a => {
      expect(Object.keys(a.body).sort()).toEqual(
        [
          "avatarUrl",
          "createdAt",
          "dailyGoalXp",
          "email",
          "emailVerified",
          "id",
          "mfaEnabled",
          "name",
          "nativeLanguage",
          "roles",
          "timezone",
          "locale",
          "profileVisibility",
          "newCardsPerDay",
          "quietHours",
          "level",
        ].sort(),
      );
      expect(a.body).toMatchObject({ emailVerified: true, mfaEnabled: false });
    },
  },
  {
    key: "PATCH /me",
    who: "user",
    status: 200,
    token: () => f.extra.token,
    body: () => ({ timezone: "Europe/Paris", dailyGoalXp: 30 }),
    check: a => expect(a.body).toMatchObject({ timezone: "Europe/Paris", dailyGoalXp: 30 }),
  },
  { key: "GET /users", who: "admin", status: 200, list: true },
  {
    key: "PUT /users/:id/roles",
    who: "admin",
    status: 200,
    params: () => ({ id: f.extra.id }),
    body: () => ({ roles: ["learner"] }),
    check: a => expect(a.body.id).toBe(f.extra.id),
  },
  {
    key: "GET /admin/audit",
    who: "admin",
    status: 200,
    list: true,
    check: a => expect(a.body.rows.map((x: Json) => x.action)).toContain("roles.set"),
  },
  {
    key: "GET /users/:id",
    who: "admin",
    status: 200,
    params: () => ({ id: f.extra.id }),
    check: a => expect(a.body).toMatchObject({ id: f.extra.id, status: "active" }),
  },
  {
    key: "POST /users/:id/suspend",
    who: "admin",
    status: 200,
    params: () => ({ id: f.spare.id }),
    body: () => ({ reason: "contract check" }),
    check: a => expect(a.body.status).toBe("suspended"),
  },
  {
    key: "POST /users/:id/unsuspend",
    who: "admin",
    status: 200,
    params: () => ({ id: f.spare.id }),
    check: a => expect(a.body.status).toBe("active"),
  },
  {
    key: "GET /auth/providers",
    who: "public",
    status: 200,
    check: a => expect(a.body).toEqual([{ id: "school", name: "Northside School" }]),
  },
  {
    key: "POST /auth/oidc/:provider/start",
    who: "public",
    status: 200,
    params: () => ({ provider: "school" }),
    body: () => ({ redirectUri: APP_REDIRECT }),
    check: a => {
      f.authorizationUrl = a.body.authorizationUrl;
      expect(new URL(f.authorizationUrl).searchParams.get("code_challenge_method")).toBe("S256");
    },
  },
  {
    key: "GET /auth/oidc/:provider/callback",
    who: "public",
    status: 302,
    params: () => ({ provider: "school" }),
    // The browser walks the provider's sign-in; the provider sends it back to PUBLIC_URL's callback.
    query: async () =>
      (await new Browser().signIn(f.authorizationUrl, f.providerSub, CALLBACK)).search.slice(1),
    check: a => {
      const back = new URL(a.headers.get("location") as string);
      expect(back.origin + back.pathname).toBe(APP_REDIRECT);
      f.oidcCode = back.searchParams.get("code") as string;
      expect(f.oidcCode).toBeTruthy();
    },
  },
  {
    key: "POST /auth/oidc/exchange",
    who: "public",
    status: 200,
    body: () => ({ code: f.oidcCode }),
    check: a => {
      expect(a.body).toMatchObject({ created: true, user: { emailVerified: true } });
      f.oidcToken = a.body.accessToken;
    },
  },
  {
    key: "POST /auth/oidc/:provider/id-token",
    who: "public",
    status: 200,
    params: () => ({ provider: "school" }),
    body: async () => {
      const nonce = crypto.randomBytes(16).toString("base64url");
      return { idToken: await nativeIdToken(school, f.providerSub, nonce), nonce };
    },
    check: a => expect(a.body.created).toBe(false),
  },
  {
    key: "GET /me/identities",
    who: "user",
    status: 200,
    token: () => f.oidcToken,
    check: a => expect(a.body.map((x: Json) => x.provider)).toEqual(["school"]),
  },
  {
    key: "POST /me/identities/:provider/start",
    who: "user",
    status: 200,
    token: () => f.author.token,
    params: () => ({ provider: "school" }),
    body: () => ({ redirectUri: APP_REDIRECT }),
    check: async a => {
      // Linked to the author's account: a second provider account walks the sign-in.
      const sub = crypto.randomUUID();
      school.accounts.set(sub, {
        email: `link.${namespace}@example.com`,
        emailVerified: false,
        name: "L",
      });
      const back = await new Browser().signIn(a.body.authorizationUrl, sub, CALLBACK);
      const res = await fetch(`${origin}${back.pathname}${back.search}`, { redirect: "manual" });
      expect(new URL(res.headers.get("location") as string).searchParams.get("linked")).toBe(
        "school",
      );
    },
  },
  {
    key: "DELETE /me/identities/:id",
    who: "user",
    status: 204,
    token: () => f.author.token,
    params: () => ({ id: "" }), // filled in below from the identity list
  },
  {
    key: "POST /auth/verify-email/resend",
    who: "user",
    status: 202,
    token: reader,
  },
  {
    key: "POST /me/email",
    who: "user",
    status: 202,
    token: () => f.extra.token,
    body: () => ({ newEmail: `moved.${namespace}@example.com`, password: PASSWORD }),
  },
  {
    key: "GET /me/export",
    who: "user",
    status: 200,
    token: learner,
    check: a => {
      expect(a.headers.get("content-disposition")).toMatch(/^attachment/);
      expect(a.body.userId).toBe(f.learner.id);
      expect(Object.keys(a.body.services).sort()).toEqual(["notify", "progress"]);
    },
  },
  {
    key: "GET /users/search",
    who: "user",
    status: 200,
    token: learner,
    query: () => "q=User",
    check: a => expect(a.body.map((x: Json) => x.id)).toContain(f.reader.id),
  },
  {
    key: "PUT /me/following/:userId",
    who: "user",
    status: 204,
    token: learner,
    params: () => ({ userId: f.reader.id }),
  },
  {
    key: "GET /users/:id/profile",
    who: "user",
    status: 200,
    token: learner,
    params: () => ({ id: f.reader.id }),
    check: a =>
      expect(Object.keys(a.body).sort()).toEqual(
        ["achievements", "avatarUrl", "id", "name", "streak", "xp"].sort(),
      ),
  },
  {
    key: "GET /me/following",
    who: "user",
    status: 200,
    token: learner,
    check: a => expect(a.body).toEqual([{ id: f.reader.id, name: "User reader", avatarUrl: null }]),
  },
  {
    key: "GET /me/followers",
    who: "user",
    status: 200,
    token: reader,
    check: a => expect(a.body.map((x: Json) => x.id)).toEqual([f.learner.id]),
  },
  {
    key: "DELETE /me/following/:userId",
    who: "user",
    status: 204,
    token: learner,
    params: () => ({ userId: f.reader.id }),
  },
  {
    key: "PUT /me/blocked/:userId",
    who: "user",
    status: 204,
    token: learner,
    params: () => ({ userId: f.spare.id }),
  },
  {
    key: "GET /me/blocked",
    who: "user",
    status: 200,
    token: learner,
    check: a => expect(a.body.map((x: Json) => x.id)).toEqual([f.spare.id]),
  },
  {
    key: "DELETE /me/blocked/:userId",
    who: "user",
    status: 204,
    token: learner,
    params: () => ({ userId: f.spare.id }),
  },
  { key: "GET /courses", who: "public", status: 200, list: true },
  {
    key: "POST /courses",
    who: "author",
    status: 201,
    body: () => ({
      title: "Spare course",
      description: "To be deleted.",
      level: "B2",
      topics: [],
      language: "en",
    }),
    check: a => {
      f.spareCourseId = a.body.id;
    },
  },
  {
    key: "GET /courses/:id",
    who: "public",
    status: 200,
    params: () => ({ id: f.courseId }),
    check: a => expect(a.body.lessons.map((l: Json) => l.order)).toEqual([1, 2, 3]),
  },
  {
    key: "PATCH /courses/:id",
    who: "author",
    status: 200,
    params: () => ({ id: f.courseId }),
    body: () => ({ description: "Order drinks, snacks and the bill politely." }),
  },
  {
    key: "POST /courses/:id/lessons",
    who: "author",
    status: 201,
    params: () => ({ id: f.spareCourseId }),
    body: () => ({ title: "Spare", kind: "lesson", order: 1, body: "Text" }),
    check: a => {
      f.spareLessonId = a.body.id;
    },
  },
  {
    key: "POST /courses/:id/units",
    who: "author",
    status: 201,
    params: () => ({ id: f.spareCourseId }),
    body: () => ({ title: "Unit 1", order: 1 }),
    check: a => {
      expect(a.body).toMatchObject({ courseId: f.spareCourseId, title: "Unit 1", order: 1 });
      f.spareUnitId = a.body.id;
    },
  },
  {
    key: "POST /courses/:id/publish",
    who: "author",
    status: 200,
    params: () => ({ id: f.courseId }),
    check: a => expect(a.body).toMatchObject({ status: "published", version: 2 }),
  },
  {
    key: "GET /lessons/:id",
    who: "user",
    status: 200,
    token: learner,
    params: () => ({ id: f.quizId }),
    check: a => expect(a.body.questions.some((q: Json) => "answer" in q)).toBe(false),
  },
  {
    key: "PATCH /lessons/:id",
    who: "author",
    status: 200,
    params: () => ({ id: f.spareLessonId }),
    body: () => ({ title: "Spare, edited", unitId: f.spareUnitId, requires: [] }),
    check: a => expect(a.body).toMatchObject({ unitId: f.spareUnitId, requires: [] }),
  },
  {
    key: "POST /media",
    who: "author",
    status: 201,
    check: a => {
      expect(a.body).toMatchObject({ contentType: "image/png", size: PNG.length });
      f.mediaId = a.body.id;
    },
  },
  {
    key: "GET /media/:id",
    who: "public",
    status: 200,
    params: () => ({ id: f.mediaId }),
    check: a => expect(a.headers.get("content-type")).toMatch(/^image\/png/),
  },
  {
    key: "HEAD /media/:id",
    who: "public",
    status: 200,
    params: () => ({ id: f.mediaId }),
    check: a => {
      expect(a.headers.get("content-length")).toBe(String(PNG.length));
      expect(a.text).toBe("");
    },
  },
  {
    key: "GET /topics",
    who: "public",
    status: 200,
    check: a =>
      expect(a.body).toEqual(
        expect.arrayContaining([
          { slug: "food-and-drink", name: "Food and drink", courseCount: 1 },
        ]),
      ),
  },
  {
    key: "POST /courses/:id/enroll",
    who: "user",
    status: 201,
    token: learner,
    params: () => ({ id: f.courseId }),
  },
  { key: "GET /me/courses", who: "user", status: 200, token: learner },
  {
    key: "POST /lessons/:id/attempts",
    who: "user",
    status: 201,
    token: learner,
    params: () => ({ id: f.quizId }),
    body: async () => {
      const view = await f.learner.api.get(`/lessons/${f.quizId}`, { token: learner() });
      return {
        answers: view.body.questions.map((q: Json) => ({
          questionId: q.id,
          value: QUIZ.find(x => x.prompt === q.prompt)!.answer,
        })),
      };
    },
    check: a => expect(a.body).toMatchObject({ score: 20, maxScore: 20, passed: true }),
  },
  {
    key: "GET /me/skills",
    who: "user",
    status: 200,
    token: learner,
    check: a =>
      expect(a.body).toEqual([
        expect.objectContaining({ skill: "adjectives", attempts: 1 }),
        expect.objectContaining({ skill: "food-vocabulary", attempts: 1 }),
      ]),
  },
  {
    key: "GET /me/next",
    who: "user",
    status: 200,
    token: learner,
    check: a => {
      expect(a.body.length).toBeGreaterThan(0);
      expect(a.body.length).toBeLessThanOrEqual(10);
      for (const step of a.body) {
        expect(["review", "lesson", "practice", "course"]).toContain(step.kind);
        expect(typeof step.reason).toBe("string");
      }
      expect(a.body).toContainEqual(
        expect.objectContaining({ kind: "practice", skill: "adjectives" }),
      );
    },
  },
  {
    key: "POST /me/practice",
    who: "user",
    status: 201,
    token: learner,
    body: () => ({ skill: "food-vocabulary" }),
    check: a => {
      expect(a.body.questions).toEqual([
        expect.objectContaining({ id: "q1", type: "single", prompt: "Pick 'tea'." }),
      ]);
      expect(a.body.questions[0]).not.toHaveProperty("answer");
    },
  },
  {
    key: "POST /lessons/:id/complete",
    who: "user",
    status: 201,
    token: learner,
    params: () => ({ id: f.readingId }),
    check: a => expect(a.body.xpEarned).toBe(20),
  },
  { key: "GET /me/progress", who: "user", status: 200, token: learner },
  { key: "GET /me/achievements", who: "user", status: 200, token: learner },
  { key: "GET /leaderboard", who: "user", status: 200, token: learner },
  {
    key: "GET /me/reviews/due",
    who: "user",
    status: 200,
    token: learner,
    check: a => {
      expect(a.body).toHaveLength(2);
      f.card = { lessonId: a.body[0].lessonId, cardId: a.body[0].cardId };
    },
  },
  {
    key: "POST /me/reviews",
    who: "user",
    status: 200,
    token: learner,
    body: () => ({ ...f.card, rating: "easy" }),
  },
  { key: "GET /me/activity", who: "user", status: 200, token: learner },
  {
    key: "POST /placement",
    who: "user",
    status: 201,
    token: learner,
    check: a => {
      expect(Object.keys(a.body).sort()).toEqual(["id", "question"]);
      expect(a.body.question).not.toHaveProperty("answer");
      f.placement = { id: a.body.id, questionId: a.body.question.id };
    },
  },
  {
    key: "POST /placement/:id/answers",
    who: "user",
    status: 200,
    token: learner,
    params: () => ({ id: f.placement.id }),
    body: () => ({ questionId: f.placement.questionId, value: "not the answer" }),
    check: a => {
      expect(Object.keys(a.body)).toEqual(["question"]);
      expect(a.body.question.id).not.toBe(f.placement.questionId);
      expect(a.body.question).not.toHaveProperty("answer");
    },
  },
  {
    key: "GET /me/certificates",
    who: "user",
    status: 200,
    token: learner,
    // The learner's last lesson (the flashcards) completes the course: its certificate is issued.
    body: async () => {
      const course = await f.learner.api.get(`/courses/${f.courseId}`);
      const deck = course.body.lessons.find((l: Json) => l.kind === "flashcards");
      expectStatus(
        await f.learner.api.post(`/lessons/${deck.id}/complete`, undefined, { token: learner() }),
        201,
      );
      return undefined;
    },
    check: a => {
      expect(a.body).toEqual([
        expect.objectContaining({ courseId: f.courseId, courseTitle: "At the café", level: "A2" }),
      ]);
      f.certificateId = a.body[0].id;
    },
  },
  {
    key: "GET /certificates/:id",
    who: "public",
    status: 200,
    params: () => ({ id: f.certificateId }),
    check: a =>
      expect(a.body).toMatchObject({ learnerName: "User learner", level: "A2", status: "valid" }),
  },
  {
    key: "GET /certificates/:id/pdf",
    who: "public",
    status: 200,
    params: () => ({ id: f.certificateId }),
    check: a => {
      expect(a.headers.get("content-type")).toMatch(/^application\/pdf/);
      expect(a.text.startsWith("%PDF-")).toBe(true);
    },
  },
  {
    key: "GET /certificates/:id/credential",
    who: "public",
    status: 200,
    params: () => ({ id: f.certificateId }),
    check: a => {
      expect(a.headers.get("content-type")).toMatch(/^application\/vc\+jwt/);
      expect(a.text).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    },
  },
  {
    key: "GET /credentials/status/revocation",
    who: "public",
    status: 200,
    check: a => expect(a.headers.get("content-type")).toMatch(/^application\/vc\+jwt/),
  },
  {
    key: "GET /courses/:id/analytics",
    who: "author",
    status: 200,
    params: () => ({ id: f.courseId }),
    ready: async () => {
      await waitFor("the analytics read model to count both enrolments", async () => {
        const res = await f.author.api.get(`/courses/${f.courseId}/analytics`, {
          token: f.author.token,
        });
        return res.body.enrolments === 2 ? true : undefined;
      });
    },
    check: a => {
      expect(Object.keys(a.body).sort()).toEqual(
        ["activeLearners7d", "completionRate", "enrolments", "lessons", "questions"].sort(),
      );
      expect(a.body.enrolments).toBe(2); // the reader and the learner
      expect(a.body.lessons).toHaveLength(3);
    },
  },
  {
    key: "GET /admin/analytics",
    who: "admin",
    status: 200,
    ready: async () => {
      await waitFor("the analytics read model to count today's two learners", async () => {
        const res = await f.admin.api.get("/admin/analytics", { token: f.admin.token });
        return res.body.dau >= 2 ? true : undefined;
      });
    },
    check: a => {
      expect(Object.keys(a.body).sort()).toEqual(
        ["dau", "mail", "mau", "registrations", "retention", "wau"].sort(),
      );
      expect(a.body.registrations).toHaveLength(30);
      expect(a.body.dau).toBeGreaterThanOrEqual(2); // the learner and the reader learned today
    },
  },
  {
    key: "GET /me/xapi",
    who: "user",
    status: 200,
    token: learner,
    check: a => {
      const verbs = a.body.statements.map((st: Json) => st.verb.id.split("/").pop());
      expect(verbs).toEqual(expect.arrayContaining(["answered", "passed", "completed"]));
    },
  },
  {
    key: "POST /certificates/:id/revoke",
    who: "admin",
    status: 200,
    params: () => ({ id: f.certificateId }),
    body: () => ({ reason: "Contract check" }),
    check: a => expect(a.body).toMatchObject({ id: f.certificateId, status: "revoked" }),
  },
  { key: "GET /me/notifications", who: "user", status: 200, token: reader, list: true },
  {
    key: "POST /me/notifications/:id/read",
    who: "user",
    status: 204,
    token: reader,
    params: () => ({ id: f.notificationId }),
  },
  {
    key: "POST /me/notifications/read-all",
    who: "user",
    status: 204,
    token: reader,
  },
  {
    key: "GET /me/notification-preferences",
    who: "user",
    status: 200,
    token: reader,
    check: a => {
      expect(Object.keys(a.body).sort()).toEqual(["digest", "email", "inApp", "push", "sms"]);
      expect(Object.keys(a.body.email).sort()).toEqual(
        ["achievements", "marketing", "reminders", "security", "social"].sort(),
      );
    },
  },
  {
    key: "PUT /me/notification-preferences",
    who: "user",
    status: 200,
    token: reader,
    body: () => ({ email: { marketing: true } }),
    check: a => expect(a.body.email.marketing).toBe(true),
  },
  {
    key: "GET /notifications/open/:token.gif",
    who: "public",
    status: 200,
    check: a => expect(a.headers.get("content-type")).toMatch(/^image\/gif/),
  },
  {
    key: "GET /notifications/click/:token",
    who: "public",
    status: 302,
    check: a => expect(a.headers.get("location")).toMatch(new RegExp(`^${PUBLIC_URL}/`)),
  },
  {
    key: "GET /notifications/unsubscribe/:token",
    who: "public",
    status: 200,
    // A page that asks; the POST below is what unsubscribes.
    check: a => {
      expect(a.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(a.text).toContain("achievement emails");
    },
  },
  {
    key: "POST /notifications/unsubscribe/:token",
    who: "public",
    status: 200,
    check: a => expect(a.body).toEqual({ unsubscribed: true, category: "achievements" }),
  },
  {
    key: "GET /emails",
    who: "admin",
    status: 200,
    list: true,
    check: a => expect(a.body.rows.length).toBeGreaterThan(0),
  },
  {
    key: "GET /billing/plans",
    who: "public",
    status: 200,
    check: a => expect(a.body.map((p: Json) => p.interval)).toEqual(["month", "year"]),
  },
  {
    key: "POST /billing/checkout",
    who: "user",
    status: 201,
    token: learner,
    body: () => ({
      planId: "premium-monthly",
      successUrl: `${PUBLIC_URL}/billing/done`,
      cancelUrl: `${PUBLIC_URL}/billing`,
    }),
    check: a => {
      f.checkoutSession = a.body.sessionId;
      expect(a.body.checkoutUrl).toBe(`${stripe.url}/pay/${a.body.sessionId}`);
    },
  },
  {
    key: "POST /billing/webhooks/stripe",
    who: "public",
    status: 200,
    // Stripe completes the checkout: the first event comes through the case, the rest after it.
    body: () => {
      const { subscriptionId, events } = stripe.completeCheckout(f.checkoutSession);
      f.pendingEvents = [...events.slice(1), ...stripe.renew(subscriptionId)];
      return events[0];
    },
    check: async a => {
      expect(a.body).toEqual({ received: true });
      for (const event of f.pendingEvents) {
        const delivered = await stripe.deliver(`${origin}/api/v1/billing/webhooks/stripe`, event);
        expect(delivered.status).toBe(200);
      }
    },
  },
  {
    key: "GET /me/subscription",
    who: "user",
    status: 200,
    token: learner,
    check: a =>
      expect(a.body).toMatchObject({
        planId: "premium-monthly",
        status: "active",
        cancelAtPeriodEnd: false,
      }),
  },
  {
    key: "POST /me/subscription/cancel",
    who: "user",
    status: 200,
    token: learner,
    check: a => expect(a.body.cancelAtPeriodEnd).toBe(true),
  },
  {
    key: "POST /me/subscription/resume",
    who: "user",
    status: 200,
    token: learner,
    check: a => expect(a.body.cancelAtPeriodEnd).toBe(false),
  },
  {
    key: "POST /billing/portal",
    who: "user",
    status: 201,
    token: learner,
    check: a => expect(a.body.url).toMatch(new RegExp(`^${stripe.url}/portal/cus_`)),
  },
  {
    key: "GET /me/invoices",
    who: "user",
    status: 200,
    token: learner,
    check: a => {
      expect(a.body).toHaveLength(1);
      expect(a.body[0]).toMatchObject({ amount: 999, currency: "eur", status: "paid" });
      f.invoiceId = a.body[0].id;
    },
  },
  {
    key: "GET /me/entitlements",
    who: "user",
    status: 200,
    token: learner,
    check: a => expect(a.body).toEqual({ premium: true, features: ["premium"] }),
  },
  {
    key: "POST /admin/coupons",
    who: "admin",
    status: 201,
    body: () => ({ code: "SYSC10", percentOff: 10, duration: "once" }),
    check: a => expect(a.body).toMatchObject({ code: "SYSC10", percentOff: 10 }),
  },
  { key: "GET /admin/coupons", who: "admin", status: 200, list: true },
  {
    key: "POST /admin/refunds",
    who: "admin",
    status: 201,
    body: () => ({ invoiceId: f.invoiceId, amount: 100 }),
    check: a => expect(a.body).toMatchObject({ invoiceId: f.invoiceId, amount: 100 }),
  },
  {
    key: "POST /live/ticket",
    who: "user",
    status: 201,
    token: reader,
    check: a => expect(a.body.ticket).toMatch(/^[A-Za-z0-9_-]{43}$/),
  },
  {
    key: "GET /push/vapid-public-key",
    who: "public",
    status: 200,
    check: a => expect(a.body).toEqual({ publicKey: VAPID.publicKey }),
  },
  {
    key: "POST /me/push-subscriptions",
    who: "user",
    status: 201,
    token: reader,
    body: () => {
      const device = crypto.createECDH("prime256v1");
      device.generateKeys();
      return {
        // .invalid never resolves: the pushes queued for it are retried, then fail, harmlessly.
        endpoint: `https://push.invalid/${crypto.randomUUID()}`,
        expirationTime: null,
        keys: {
          p256dh: device.getPublicKey().toString("base64url"),
          auth: crypto.randomBytes(16).toString("base64url"),
        },
      };
    },
    check: a => {
      f.pushSubscriptionId = a.body.id;
    },
  },
  {
    key: "DELETE /me/push-subscriptions/:id",
    who: "user",
    status: 204,
    token: reader,
    params: () => ({ id: f.pushSubscriptionId }),
  },
  {
    key: "POST /me/phone",
    who: "user",
    status: 202,
    token: reader,
    body: () => ({ phone: "+14155550123" }),
    check: () => expect(smsBodies.at(-1)).toMatch(/\b\d{6}\b/),
  },
  {
    key: "POST /me/phone/verify",
    who: "user",
    status: 204,
    token: reader,
    body: () => ({ code: /\b(\d{6})\b/.exec(smsBodies.at(-1) ?? "")?.[1] }),
  },
  {
    key: "GET /me/dashboard",
    who: "user",
    status: 200,
    token: learner,
    check: a =>
      expect(Object.keys(a.body).sort()).toEqual(
        [
          "courses",
          "degraded",
          "dueReviews",
          "leaderboard",
          "notifications",
          "progress",
          "user",
        ].sort(),
      ),
  },
  {
    key: "DELETE /lessons/:id",
    who: "author",
    status: 204,
    params: () => ({ id: f.spareLessonId }),
  },
  {
    key: "DELETE /courses/:id",
    who: "author",
    status: 204,
    params: () => ({ id: f.spareCourseId }),
  },
  {
    key: "DELETE /me",
    who: "user",
    status: 202,
    token: () => f.doomed.token,
    body: () => ({ password: PASSWORD }),
  },
  {
    key: "DELETE /users/:id",
    who: "admin",
    status: 202,
    params: () => ({ id: f.spare.id }),
  },
];

const ROUTES = new Map(publicRoutes().map(r => [routeKey(r), r]));

function tokenOf(c: Case): string | undefined {
  if (c.token) return c.token();
  if (c.who === "author") return f.author.token;
  if (c.who === "admin") return f.admin.token;
  return undefined;
}

function pathOf(route: RouteSpec, params: Record<string, string>): string {
  return route.path.replace(/:([A-Za-z]+)/g, (_, name: string) => encodeURIComponent(params[name]));
}

/** Values of the token routes, taken from the achievement mail. */
function mailParams(route: RouteSpec): Record<string, string> {
  const kind = route.path.split("/")[2] as "open" | "click" | "unsubscribe";
  const link = tokenLink(f.achievementMail, kind);
  return { token: link.split("/")[3].replace(/\.gif$/, "") };
}

async function send(
  route: RouteSpec,
  opts: { params: Record<string, string>; token?: string; body?: unknown; query?: string },
): Promise<Answer> {
  const headers: Record<string, string> = { "x-forwarded-for": ip() };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: FormData | string | undefined;
  if (route.kind === "multipart") {
    const form = new FormData();
    form.append("file", new Blob([PNG], { type: "application/octet-stream" }), "photo.bin");
    body = form;
  } else if (route.kind === "form") {
    headers["content-type"] = "application/x-www-form-urlencoded";
    body = "List-Unsubscribe=One-Click";
  } else if (route.kind === "raw") {
    headers["content-type"] = "application/json";
    body = JSON.stringify(opts.body, null, 2);
    headers["stripe-signature"] = stripe.sign(body);
  } else if (opts.body !== undefined && route.method !== "GET") {
    headers["content-type"] = "application/json";
    body = JSON.stringify(opts.body);
  }
  const query = opts.query ? `?${opts.query}` : "";
  const res = await fetch(`${origin}/api/v1${pathOf(route, opts.params)}${query}`, {
    method: route.method,
    headers,
    body,
    redirect: "manual",
  });
  const text = await res.text();
  const json = (res.headers.get("content-type") ?? "").includes("json") && text !== "";
  return { status: res.status, headers: res.headers, text, body: json ? JSON.parse(text) : text };
}

async function paramsOf(c: Case, route: RouteSpec): Promise<Record<string, string>> {
  if (route.path.includes(":token")) return mailParams(route);
  if (c.key === "DELETE /me/identities/:id") {
    const list = await f.author.api.get("/me/identities", { token: f.author.token });
    return { id: list.body[0].id };
  }
  if (c.key === "DELETE /auth/sessions/:id") {
    const list = await f.learner.api.get("/auth/sessions", { token: learner() });
    return { id: list.body.find((x: Json) => !x.current).id };
  }
  return c.params?.() ?? {};
}

describe("the contract on real services", () => {
  it("when the routes files are read, then every routed path has a case below and every case is routed", () => {
    expect(CASES.map(c => c.key).sort()).toEqual([...ROUTES.keys()].sort());
  });

  for (const c of CASES) {
    it(`when ${c.key} is called as the contract says with real ids, then it answers ${c.status}`, async () => {
      const route = ROUTES.get(c.key)!;
      expect(route).toBeDefined();
      expect(route.status ?? 200).toBe(c.status);
      await c.ready?.();
      const answer = await send(route, {
        params: await paramsOf(c, route),
        token: tokenOf(c),
        body: await c.body?.(),
        query: await c.query?.(),
      });
      expectStatus(answer, c.status, c.key);
      if (c.status === 204) expect(answer.text).toBe("");
      if (route.kind !== "binary" && route.kind !== "html" && c.status < 300 && c.status !== 204) {
        expect(answer.headers.get("content-type")).toMatch(/^application\/json/);
      }
      if (c.list) expectListShape(answer.body);
      await c.check?.(answer);
    });
  }
});

describe("the error shape on real services", () => {
  const unknown = () => crypto.randomUUID();

  it("when a route that needs a user is called without a token, then 401 in the contract's shape", async () => {
    for (const c of CASES.filter(x => x.who !== "public")) {
      const route = ROUTES.get(c.key)!;
      const params = Object.fromEntries(
        [...route.path.matchAll(/:([A-Za-z]+)/g)].map(m => [m[1], unknown()]),
      );
      const answer = await send(route, { params, body: {} });
      expect({ key: c.key, status: answer.status }).toEqual({ key: c.key, status: 401 });
      expectErrorShape(answer, 401);
    }
  });

  it("when a learner calls an author or admin route, then 403 in the contract's shape", async () => {
    for (const c of CASES.filter(x => x.who === "author" || x.who === "admin")) {
      const route = ROUTES.get(c.key)!;
      const params = Object.fromEntries(
        [...route.path.matchAll(/:([A-Za-z]+)/g)].map(m => [m[1], unknown()]),
      );
      const answer = await send(route, { params, token: f.extra.token, body: {} });
      expect({ key: c.key, status: answer.status }).toEqual({ key: c.key, status: 403 });
      expectErrorShape(answer, 403);
    }
  });

  it("when a routed path names an id that does not exist, then 404 in the contract's shape", async () => {
    const cases = CASES.filter(x => ROUTES.get(x.key)!.path.includes(":id"));
    expect(cases.length).toBeGreaterThanOrEqual(10);
    for (const c of cases) {
      const route = ROUTES.get(c.key)!;
      const token = c.who === "user" ? learner() : c.who === "public" ? undefined : tokenOf(c);
      const answer = await send(route, {
        params: { id: unknown() },
        token,
        body: await c.body?.(),
      });
      expect({ key: c.key, status: answer.status }).toEqual({ key: c.key, status: 404 });
      // A HEAD answer has no body to shape.
      if (route.method !== "HEAD") expectErrorShape(answer, 404);
    }
  });

  it("when bodies are invalid, then 422 lists each field's problem in the contract's shape", async () => {
    const api = new ApiClient(origin, ip());
    const badEmail = await api.post("/auth/register", {
      email: "not-an-email",
      password: PASSWORD,
      name: "X",
    });
    expectErrorShape(badEmail, 422, "VALIDATION_ERROR");
    expect(badEmail.body.data.map((d: Json) => d.field)).toEqual(["email"]);
    const weak = await api.post("/auth/register", {
      email: uniqueEmail("weak"),
      password: "short",
      name: "X",
    });
    expectErrorShape(weak, 422);
    expect(weak.body.data.map((d: Json) => d.field)).toEqual(["password"]);
    const unknownField = await api.post("/auth/register", {
      email: uniqueEmail("odd"),
      password: PASSWORD,
      name: "X",
      roles: ["admin"],
    });
    expectErrorShape(unknownField, 422);
    const protectedField = await api.patch("/me", { roles: ["admin"] }, { token: f.extra.token });
    expectErrorShape(protectedField, 422);
    const badQuestion = await api.post(
      `/courses/${f.courseId}/lessons`,
      {
        title: "Bad",
        kind: "quiz",
        order: 9,
        questions: [{ type: "single", prompt: "?", options: ["a", "b"], answer: "c" }],
      },
      { token: f.author.token },
    );
    expectErrorShape(badQuestion, 422);
    expect(Array.isArray(badQuestion.body.data)).toBe(true);
  });

  it("when the request itself is wrong (malformed JSON, wrong type, too large), then 400, 415 and 413 in the contract's shape", async () => {
    const post = (body: string, type: string) =>
      fetch(`${origin}/api/v1/auth/login`, {
        method: "POST",
        headers: { "content-type": type, "x-forwarded-for": ip() },
        body,
      }).then(async res => {
        const text = await res.text();
        return { status: res.status, headers: res.headers, text, body: JSON.parse(text) } as Answer;
      });
    expectErrorShape(await post("{not json", "application/json"), 400);
    expectErrorShape(await post("email=a", "text/plain"), 415);
    expectErrorShape(
      await post(
        JSON.stringify({ email: "a@b.c", password: "x".repeat(1_100_000) }),
        "application/json",
      ),
      413,
    );
  });

  it("when a course list is paged, then the list shape follows the page asked for and pageSize is capped", async () => {
    const api = new ApiClient(origin, ip());
    const page2 = expectStatus(await api.get("/courses?page=2&pageSize=1"), 200);
    expectListShape(page2.body, 2);
    expect(page2.body.pageSize).toBe(1);
    const capped = await api.get("/courses?pageSize=1000");
    if (capped.status === 200) expect(capped.body.pageSize).toBeLessThanOrEqual(100);
    else expectErrorShape(capped, 422);
  });
});
