import { startTestNode, type TestNode } from "../support/cluster";
import {
  clusterEnv,
  createTestDatabase,
  uniqueName,
  type TestDatabase,
} from "../support/isolation";
import { requireServers } from "../support/servers";
import { STRIPE_TEST_KEY, STRIPE_WEBHOOK_SECRET, StripeDouble } from "./stripe-double";
import { api, newEmail, PASSWORD, waitFor, type AuthBody } from "./users.support";

/**
 * Premium courses (api.md, Billing): a course an author marks `access: "premium"` answers
 * 402 PAYMENT_REQUIRED to enrol, attempt and review without the premium entitlement, which
 * progress keeps from billing.subscription.changed (over RabbitMQ); what was learned stays
 * when premium ends. Real services on NATS, PostgreSQL and RabbitMQ; Stripe a double.
 */

const PUBLIC_URL = "https://learn.example.test";
const namespace = uniqueName("premium");
const ADMIN = { email: `admin.${namespace}@example.com`, password: "admin passphrase 42" };
const QUIZ = [{ type: "single", prompt: "Pick 'tea'.", options: ["tea", "toast"], answer: "tea" }];

type Json = Record<string, unknown>;

let db: TestDatabase;
let stripe: StripeDouble;
let nodes: TestNode[];
let client: ReturnType<typeof api>;
let webhookUrl: string;
let courseId: string;
let quizId: string;
let authorToken: string;

async function learner(tag: string): Promise<{ id: string; token: string; email: string }> {
  const email = newEmail(tag);
  const res = await client.post<AuthBody>("/auth/register", {
    email,
    password: PASSWORD,
    name: `Learner ${tag}`,
  });
  expect(res.status).toBe(201);
  return { id: res.body.user.id, token: res.body.accessToken, email };
}

async function answers(token: string): Promise<Json> {
  const view = await client.get<{ questions: Array<{ id: string }> }>(`/lessons/${quizId}`, token);
  return { answers: view.body.questions.map(q => ({ questionId: q.id, value: "tea" })) };
}

const enrol = (token: string) => client.post<Json>(`/courses/${courseId}/enroll`, undefined, token);
const attempt = async (token: string) =>
  client.post<Json>(`/lessons/${quizId}/attempts`, await answers(token), token);

async function subscribe(token: string): Promise<string> {
  const checkout = await client.post<{ sessionId: string }>(
    "/billing/checkout",
    { planId: "premium-monthly", successUrl: `${PUBLIC_URL}/ok`, cancelUrl: `${PUBLIC_URL}/no` },
    token,
  );
  expect(checkout.status).toBe(201);
  const { subscriptionId, events } = stripe.completeCheckout(checkout.body.sessionId);
  for (const event of events) expect((await stripe.deliver(webhookUrl, event)).status).toBe(200);
  return subscriptionId;
}

beforeAll(async () => {
  await requireServers("postgres", "redis", "rabbitmq", "nats");
  db = await createTestDatabase("lm_premium");
  stripe = await new StripeDouble().start();
  const env = {
    ...clusterEnv(namespace, db.url),
    PUBLIC_URL,
    RATE_LIMIT_RPM: "100000",
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    STRIPE_SECRET_KEY: STRIPE_TEST_KEY,
    STRIPE_WEBHOOK_SECRET,
    STRIPE_API_URL: stripe.url,
  };
  nodes = await Promise.all([
    startTestNode(["api", "users", "content"], { ...env, NODE_ID: `${namespace}-edge` }),
    startTestNode(["progress"], { ...env, NODE_ID: `${namespace}-progress` }),
    startTestNode(["billing"], { ...env, NODE_ID: `${namespace}-billing` }),
  ]);
  await nodes[0].broker.waitForServices(["users", "content", "progress", "billing"], 20_000);
  client = api(nodes[0].apiUrl!);
  webhookUrl = `${nodes[0].apiUrl}/billing/webhooks/stripe`;

  const admin = await client.post<AuthBody>("/auth/login", ADMIN);
  const author = await learner("author");
  const granted = await client.call("PUT", `/users/${author.id}/roles`, {
    body: { roles: ["learner", "author"] },
    token: admin.body.accessToken,
  });
  expect(granted.status).toBe(200);
  const as = (
    await client.post<AuthBody>("/auth/login", { email: author.email, password: PASSWORD })
  ).body.accessToken;
  const course = await client.post<{ id: string }>(
    "/courses",
    {
      title: "Tea time premium",
      description: "Premium tea.",
      level: "A2",
      topics: [],
      language: "en",
    },
    as,
  );
  courseId = course.body.id;
  const quiz = await client.post<{ id: string }>(
    `/courses/${courseId}/lessons`,
    { title: "Quiz", kind: "quiz", order: 1, questions: QUIZ },
    as,
  );
  quizId = quiz.body.id;
  const deck = await client.post<{ id: string }>(
    `/courses/${courseId}/lessons`,
    { title: "Words", kind: "flashcards", order: 2, cards: [{ front: "tea", back: "a drink" }] },
    as,
  );
  expect(deck.status).toBe(201);
  expect((await client.post(`/courses/${courseId}/publish`, undefined, as)).status).toBe(200);
  authorToken = as;
}, 90_000);

afterAll(async () => {
  await Promise.all((nodes ?? []).map(node => node.stop()));
  await stripe?.stop();
  await db?.drop();
}, 30_000);

const setAccess = (access: "free" | "premium") =>
  client.call<Json>("PATCH", `/courses/${courseId}`, { body: { access }, token: authorToken });

describe("premium courses", () => {
  it("when an author marks a course premium, then its draft says so and the published version stays current", async () => {
    const res = await setAccess("premium");
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ access: "premium", hasUnpublishedChanges: false });
    const bad = await client.call<Json>("PATCH", `/courses/${courseId}`, {
      body: { access: "gold" },
      token: authorToken,
    });
    expect(bad.status).toBe(422);
  });

  it("when a learner without premium enrols or attempts, then 402 PAYMENT_REQUIRED; after subscribing, both work", async () => {
    const me = await learner("subscriber");
    const refused = await enrol(me.token);
    expect(refused.status).toBe(402);
    expect(refused.body).toMatchObject({ code: 402, type: "PAYMENT_REQUIRED" });
    expect((await attempt(me.token)).status).toBe(402);

    await subscribe(me.token);
    // progress learns of it from billing.subscription.changed (RabbitMQ), moments later.
    const enrolled = await waitFor(async () => {
      const res = await enrol(me.token);
      return res.status === 201 ? res : undefined;
    }, 15_000);
    expect(enrolled.body.courseId).toBe(courseId);
    const passed = await attempt(me.token);
    expect(passed.status).toBe(201);
    expect(passed.body).toMatchObject({ passed: true });
    const [card] = (
      await client.get<Array<{ lessonId: string; cardId: string }>>("/me/reviews/due", me.token)
    ).body;
    const review = await client.post<Json>(
      "/me/reviews",
      { lessonId: card.lessonId, cardId: card.cardId, rating: "good" },
      me.token,
    );
    expect(review.status).toBe(200);
  });

  it("when premium ends, then attempts and reviews answer 402 again and what was learned stays", async () => {
    const me = await learner("lapsed");
    const subscriptionId = await subscribe(me.token);
    await waitFor(async () => (await enrol(me.token)).status === 201, 15_000);
    expect((await attempt(me.token)).status).toBe(201);
    const [card] = (
      await client.get<Array<{ lessonId: string; cardId: string }>>("/me/reviews/due", me.token)
    ).body;

    for (const event of stripe.end(subscriptionId))
      expect((await stripe.deliver(webhookUrl, event)).status).toBe(200);
    const refused = await waitFor(async () => {
      const res = await attempt(me.token);
      return res.status === 402 ? res : undefined;
    }, 15_000);
    expect(refused.body.type).toBe("PAYMENT_REQUIRED");
    // Attempts made before progress heard of the end still counted; from here nothing moves.
    const before = (await client.get<{ xp: number }>("/me/progress", me.token)).body;
    expect(before.xp).toBeGreaterThan(0);
    const review = await client.post<Json>(
      "/me/reviews",
      { lessonId: card.lessonId, cardId: card.cardId, rating: "good" },
      me.token,
    );
    expect(review.status).toBe(402);
    expect((await client.get<Json>("/me/progress", me.token)).body).toEqual(before);
    const courses = await client.get<Array<{ course: { id: string }; completedLessons: number }>>(
      "/me/courses",
      me.token,
    );
    expect(courses.body).toEqual([
      expect.objectContaining({
        course: expect.objectContaining({ id: courseId }),
        completedLessons: 1,
      }),
    ]);
  });

  it("when the course is free again, then anyone enrols without a subscription", async () => {
    expect((await setAccess("free")).status).toBe(200);
    const me = await learner("free");
    expect((await enrol(me.token)).status).toBe(201);
    expect((await attempt(me.token)).status).toBe(201);
  });
});
