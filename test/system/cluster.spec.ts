import crypto from "node:crypto";
import { Client } from "pg";
import { requireServers } from "../support/servers";
import { createTestDatabase, uniqueName, type TestDatabase } from "../support/isolation";
import { startProcessCluster, type ProcessCluster } from "./support/cluster";
import {
  ApiClient,
  expectErrorShape,
  expectListShape,
  expectStatus,
  type Json,
} from "./support/http";
import { learnerJourney, PASSWORD, uniqueEmail } from "./support/journey";
import { startSmtpCatcher, type SmtpCatcher } from "./support/mail";
import { runScript } from "../support/node-process";
import { startupLock, waitFor } from "./support/nodes";

/**
 * The whole system as operators run it: every node its own `server.ts` process — two
 * gateways, two users, two content, two progress nodes and one notify node — over the real
 * NATS, Redis, RabbitMQ and PostgreSQL, with mail going to an SMTP server on loopback.
 */

const PUBLIC_URL = "https://learn.example.test";
const namespace = uniqueName("sys");
const admin = { email: `admin.${namespace}@example.com`, password: "admin passphrase 42" };

let db: TestDatabase;
let smtp: SmtpCatcher;
let cluster: ProcessCluster;
let gatewayA: string;
let gatewayB: string;

/** Each test is its own client (the gateways trust loopback as their proxy). */
const clientIp = () => `198.51.100.${crypto.randomInt(1, 254)}`;

beforeAll(async () => {
  await requireServers("postgres", "redis", "rabbitmq", "nats");
  db = await createTestDatabase("lm_sys");
  smtp = await startSmtpCatcher();
  cluster = await startProcessCluster({
    namespace,
    databaseUrl: db.url,
    env: {
      SMTP_URL: smtp.url,
      PUBLIC_URL,
      ADMIN_EMAIL: admin.email,
      ADMIN_PASSWORD: admin.password,
      TRUSTED_PROXIES: "127.0.0.1",
    },
    specs: [
      { name: "api-1", services: "api", gateway: true },
      { name: "api-2", services: "api", gateway: true },
      { name: "users-1", services: "users" },
      { name: "users-2", services: "users" },
      { name: "content-1", services: "content" },
      { name: "content-2", services: "content" },
      { name: "progress-1", services: "progress" },
      { name: "progress-2", services: "progress" },
      { name: "notify-1", services: "notify" },
    ],
  });
  [gatewayA, gatewayB] = cluster.gateways();
  // `npm run seed` against the running cluster (as docs/authoring.md says): the starter course.
  // Every consumer has declared its queue by now, so its events reach them all.
  const seed = await startupLock(() =>
    runScript("scripts/seed.ts", { ...cluster.env, SERVICES: "content" }),
  );
  expect(seed.output).toMatch(/created and published: Greetings and introductions/);
  expect(seed.code).toBe(0);
  for (const origin of [gatewayA, gatewayB]) {
    const api = new ApiClient(origin, clientIp());
    await waitFor("the seeded course through every gateway", async () => {
      const res = await api.get("/courses?level=A1");
      return res.status === 200 && res.body.total === 1 ? true : undefined;
    });
  }
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
  await smtp?.close();
  await db?.drop();
}, 30_000);

describe("the learner journey on the cluster (HTTP only)", () => {
  const ip = clientIp();
  learnerJourney(
    () => ({ api: new ApiClient(gatewayA, ip), mailbox: smtp, publicUrl: PUBLIC_URL }),
    "cluster",
  );

  it("when the journey has run, then both users nodes and both progress nodes served part of it", async () => {
    for (const service of ["users", "progress"]) {
      for (const name of [`${service}-1`, `${service}-2`]) {
        const metrics = await (await fetch(`${cluster.node(name).metricsUrl}/metrics`)).text();
        const handled = metrics
          .split("\n")
          .filter(
            l => l.startsWith("moleculer_request_total{") && l.includes(`action="${service}.`),
          )
          .reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);
        expect({ name, handled: handled > 0 }).toEqual({ name, handled: true });
      }
    }
  });
});

describe("the author journey on the cluster", () => {
  const ip = clientIp();
  const learnerApi = () => new ApiClient(gatewayA, ip);
  const authorApi = () => new ApiClient(gatewayB, ip);
  const word = Array.from(
    { length: 10 },
    () => "abcdefghijklmnopqrstuvwxyz"[crypto.randomInt(26)],
  ).join("");
  const s = {} as {
    adminToken: string;
    authorToken: string;
    authorRefresh: string;
    authorId: string;
    learnerToken: string;
    courseId: string;
    quizId: string;
  };
  const v1 = `Small talk at the airport ${word}`;
  const v2 = `Small talk on the plane ${word}`;

  it("when the bootstrap admin grants the author role, then the user may create courses", async () => {
    const login = expectStatus(
      await learnerApi().post("/auth/login", { email: admin.email, password: admin.password }),
      200,
      "admin login",
    );
    s.adminToken = login.body.accessToken;
    expect(login.body.user.roles).toContain("admin");
    // Two users nodes started with the same ADMIN_EMAIL: still one admin account.
    const admins = expectStatus(
      await learnerApi().get(`/users?q=${encodeURIComponent(admin.email)}`, {
        token: s.adminToken,
      }),
      200,
    );
    expectListShape(admins.body);
    expect(admins.body.total).toBe(1);

    const email = uniqueEmail("author");
    const reg = expectStatus(
      await authorApi().post("/auth/register", { email, password: PASSWORD, name: "Ann Author" }),
      201,
    );
    s.authorId = reg.body.user.id;
    const denied = await authorApi().post(
      "/courses",
      { title: v1, description: "d", level: "B1", topics: [], language: "en" },
      { token: reg.body.accessToken },
    );
    expectErrorShape(denied, 403);

    const found = expectStatus(
      await learnerApi().get(`/users?q=${encodeURIComponent(email.toLowerCase())}`, {
        token: s.adminToken,
      }),
      200,
    );
    expect(found.body.rows.map((u: Json) => u.id)).toEqual([s.authorId]);
    const granted = expectStatus(
      await learnerApi().put(
        `/users/${s.authorId}/roles`,
        { roles: ["learner", "author"] },
        { token: s.adminToken },
      ),
      200,
    );
    expect(granted.body.roles).toEqual(expect.arrayContaining(["learner", "author"]));
    // The new role reaches the next access token.
    const refreshed = expectStatus(
      await authorApi().post("/auth/refresh", { refreshToken: reg.body.refreshToken }),
      200,
    );
    s.authorToken = refreshed.body.accessToken;
    s.authorRefresh = refreshed.body.refreshToken;

    const learner = expectStatus(
      await learnerApi().post("/auth/register", {
        email: uniqueEmail("reader"),
        password: PASSWORD,
        name: "Rita Reader",
      }),
      201,
    );
    s.learnerToken = learner.body.accessToken;
  });

  it("when the author creates a course with a quiz and publishes it, then a learner finds it by level and search without answer keys", async () => {
    const api = authorApi();
    const created = expectStatus(
      await api.post(
        "/courses",
        {
          title: v1,
          description: `Chat with strangers while you wait for your flight (${word}).`,
          level: "B1",
          topics: ["Small talk", "Travel"],
          language: "en",
        },
        { token: s.authorToken },
      ),
      201,
    );
    expect(created.body).toMatchObject({ status: "draft", title: v1, level: "B1" });
    s.courseId = created.body.id;
    const quiz = expectStatus(
      await api.post(
        `/courses/${s.courseId}/lessons`,
        {
          title: "Quiz: small talk",
          kind: "quiz",
          order: 1,
          questions: [
            {
              type: "single",
              prompt: "A polite opener?",
              options: ["Nice weather today, isn't it?", "Give me your seat."],
              answer: "Nice weather today, isn't it?",
            },
            {
              type: "multiple",
              prompt: "Safe small-talk topics?",
              options: ["the weather", "salary", "travel plans"],
              answer: ["the weather", "travel plans"],
            },
            { type: "text", prompt: "Opposite of 'arrival'?", answer: "departure" },
            {
              type: "order",
              prompt: "Make a question.",
              options: ["you", "Where", "are", "going?"],
              answer: ["Where", "are", "you", "going?"],
            },
          ],
        },
        { token: s.authorToken },
      ),
      201,
    );
    s.quizId = quiz.body.id;

    // Drafts are invisible to learners.
    expectErrorShape(
      await learnerApi().get(`/courses/${s.courseId}`, { token: s.learnerToken }),
      404,
    );
    expect((await learnerApi().get(`/courses?q=${word}`)).body.total).toBe(0);

    const published = expectStatus(
      await api.post(`/courses/${s.courseId}/publish`, undefined, { token: s.authorToken }),
      200,
    );
    expect(published.body).toMatchObject({ status: "published", version: 1 });

    const byLevel = expectStatus(await learnerApi().get("/courses?level=B1"), 200);
    expect(byLevel.body.rows.map((c: Json) => c.id)).toContain(s.courseId);
    const search = expectStatus(await learnerApi().get(`/courses?q=${word}`), 200);
    expectListShape(search.body);
    expect(search.body.rows.map((c: Json) => [c.id, c.title])).toEqual([[s.courseId, v1]]);
    const lesson = expectStatus(
      await learnerApi().get(`/lessons/${s.quizId}`, { token: s.learnerToken }),
      200,
    );
    expect(lesson.body.questions).toHaveLength(4);
    for (const q of lesson.body.questions) expect(q).not.toHaveProperty("answer");
    expect(lesson.text).not.toContain("departure");
  });

  it("when the author edits the draft, then learners on every gateway and content node still see version 1", async () => {
    expectStatus(
      await authorApi().patch(`/courses/${s.courseId}`, { title: v2 }, { token: s.authorToken }),
      200,
    );
    const owner = expectStatus(
      await authorApi().get(`/courses/${s.courseId}`, { token: s.authorToken }),
      200,
    );
    expect(owner.body.title).toBe(v2);
    // Enough reads through both gateways to reach both content nodes (round robin).
    for (let i = 0; i < 8; i++) {
      const api = i % 2 ? learnerApi() : learnerApi().via(gatewayB);
      const seen = expectStatus(
        await api.get(`/courses/${s.courseId}`, { token: s.learnerToken }),
        200,
      );
      expect([seen.body.title, seen.body.version]).toEqual([v1, 1]);
    }
    const search = expectStatus(await learnerApi().get(`/courses?q=${word}`), 200);
    expect(search.body.rows.map((c: Json) => c.title)).toEqual([v1]);
  });

  it("when the author republishes, then every read on every node shows version 2 at once", async () => {
    const republished = expectStatus(
      await authorApi().post(`/courses/${s.courseId}/publish`, undefined, {
        token: s.authorToken,
      }),
      200,
    );
    expect(republished.body).toMatchObject({ status: "published", version: 2, title: v2 });
    for (let i = 0; i < 8; i++) {
      const api = i % 2 ? learnerApi() : learnerApi().via(gatewayB);
      const seen = expectStatus(await api.get(`/courses/${s.courseId}`), 200);
      expect([seen.body.title, seen.body.version]).toEqual([v2, 2]);
    }
    const search = expectStatus(await learnerApi().get(`/courses?q=${word}`), 200);
    expect(search.body.rows.map((c: Json) => [c.title, c.version])).toEqual([[v2, 2]]);
  });
});

describe("cluster behaviour", () => {
  it("when one client spreads requests over two gateway nodes, then they draw on one shared rate limit", async () => {
    const ip = clientIp();
    const a = new ApiClient(gatewayA, ip);
    const b = a.via(gatewayB);
    // POST /auth/password/forgot: 1 % of RATE_LIMIT_RPM (600) a minute per client = 6.
    for (let i = 0; i < 6; i++) {
      const api = i % 2 ? b : a;
      expectStatus(
        await api.post("/auth/password/forgot", { email: `nobody${i}@example.com` }),
        202,
      );
    }
    for (const api of [a, b]) {
      const limited = await api.post("/auth/password/forgot", { email: "nobody@example.com" });
      expectErrorShape(limited, 429);
      expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    }
    // Another client is not affected.
    expectStatus(
      await new ApiClient(gatewayB, clientIp().replace("198.51", "192.0")).post(
        "/auth/password/forgot",
        { email: "nobody@example.com" },
      ),
      202,
    );
  });

  it("when the notify node is killed and restarted, then the mail of events in between arrives exactly once and nothing is sent twice", async () => {
    const api = new ApiClient(gatewayA, clientIp());
    const before = (await smtp.all()).map(m => `${m.to.join(",")} ${m.subject}`).sort();
    await cluster.node("notify-1").kill();

    const email = uniqueEmail("offline");
    const reg = expectStatus(
      await api.post("/auth/register", { email, password: PASSWORD, name: "Olga Offline" }),
      201,
    );
    expectStatus(await api.post("/auth/password/forgot", { email }), 202);
    // Meanwhile the dashboard still answers, without its notifications part.
    const started = Date.now();
    const board = expectStatus(
      await api.get("/me/dashboard", { token: reg.body.accessToken }),
      200,
    );
    expect(Date.now() - started).toBeLessThan(2000);
    expect(board.body.degraded).toEqual(["notifications"]);
    expect(board.body.notifications).toBeNull();
    expect(board.body.user).toMatchObject({ id: reg.body.user.id });
    // The outbox relay has handed both events to RabbitMQ (confirmed) while no consumer was there.
    await waitFor("the users outbox to be relayed", async () => {
      const pg = new Client({ connectionString: db.url });
      await pg.connect();
      try {
        const { rows } = await pg.query(
          `SELECT count(*)::int AS n FROM users.outbox WHERE sent_at IS NULL`,
        );
        return rows[0].n === 0 ? true : undefined;
      } finally {
        await pg.end();
      }
    });
    expect((await smtp.all()).some(m => m.to.includes(email.toLowerCase()))).toBe(false);

    await cluster.restart("notify-1");
    const [welcome] = await smtp.waitFor(email, /^Welcome to Lingomesh/);
    const [reset] = await smtp.waitFor(email, /^Reset your Lingomesh password$/);
    expect(reset.text).toContain(`${PUBLIC_URL}/reset-password?token=`);
    expect(welcome.messageId).not.toBe(reset.messageId);

    // The mail record agrees: one welcome and one reset mail for this address, both sent, so no
    // sender round has anything of them left to send.
    // (The sender records "sent" just after the SMTP server's answer, so poll briefly.)
    const adminLogin = expectStatus(await api.post("/auth/login", admin), 200);
    const statusesOf = async () => {
      const records = expectStatus(
        await api.get(`/emails?to=${encodeURIComponent(email.toLowerCase())}`, {
          token: adminLogin.body.accessToken,
        }),
        200,
      );
      const byTemplate = (name: string) =>
        records.body.rows.filter((r: Json) => r.template === name).map((r: Json) => r.status);
      return { welcome: byTemplate("welcome"), reset: byTemplate("password-reset") };
    };
    const sent = { welcome: ["sent"], reset: ["sent"] };
    const statuses = await waitFor("both mails recorded as sent", async () => {
      const now = await statusesOf();
      return JSON.stringify(now) === JSON.stringify(sent) ? now : undefined;
    }).catch(async () => statusesOf());
    expect(statuses).toEqual(sent);
    const after = await smtp.all();
    const mine = after.filter(m => m.to.includes(email.toLowerCase())).map(m => m.subject);
    expect(mine.sort()).toEqual([reset.subject, welcome.subject].sort());
    // Exactly once across the whole run: no recipient got any mail (same subject) twice.
    const keys = after.map(m => `${m.to.join(",")} ${m.subject}`);
    expect(keys.filter((k, i) => keys.indexOf(k) !== i)).toEqual([]);
    expect(keys).toEqual(expect.arrayContaining(before));
    const ids = after.map(m => m.messageId);
    expect(new Set(ids).size).toBe(ids.length);
  }, 90_000);

  // Last: it takes the content service away for good.
  it("when every content node is gone, then content routes answer 503 (not 404) and the dashboard still answers", async () => {
    const api = new ApiClient(gatewayA, clientIp());
    const email = uniqueEmail("outage");
    const reg = expectStatus(
      await api.post("/auth/register", { email, password: PASSWORD, name: "Una Outage" }),
      201,
    );
    const token = { token: reg.body.accessToken };
    const courses = expectStatus(await api.get("/courses?level=A1"), 200);
    const courseId = courses.body.rows[0].id;

    await Promise.all([cluster.node("content-1").kill(), cluster.node("content-2").kill()]);
    // The gateways notice within the heartbeat timeout (4 s).
    await waitFor(
      "the gateway to notice content is gone",
      async () => ((await api.get("/topics")).status === 503 ? true : undefined),
      10_000,
      200,
    );
    expectErrorShape(await api.get(`/courses/${courseId}`), 503);
    // Enrolling needs the course from content: the learner must hear "unavailable", not "no such course".
    await waitFor(
      "progress to notice content is gone",
      async () => {
        const res = await api.post(`/courses/${courseId}/enroll`, undefined, token);
        // 504 while a call still goes to a node that just died; then a definite answer.
        return [201, 404, 503].includes(res.status) ? res : undefined;
      },
      10_000,
      200,
    ).then(res => expectErrorShape(res, 503));
    const board = expectStatus(await api.get("/me/dashboard", token), 200);
    expect(board.body.user).toMatchObject({ email: email.toLowerCase() });
  }, 45_000);
});
