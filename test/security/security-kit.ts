import fs from "node:fs";
import type { ServiceBroker } from "moleculer";
import { startTestNode, type TestNode } from "../support/cluster";
import {
  clusterEnv,
  createTestDatabase,
  tempDataDir,
  uniqueName,
  type TestDatabase,
} from "../support/isolation";
import { requireServers } from "../support/servers";
import { generateVAPIDKeys } from "web-push";
import { publicRoutes } from "../../services/api/all-routes";
import type { RouteSpec } from "../../services/api/route-table";
import type { Role } from "../../models/auth.model";
import { STRIPE_TEST_KEY, STRIPE_WEBHOOK_SECRET, StripeDouble } from "../integration/stripe-double";

/**
 * The security suites (shared/design/security.md lines 18–23) run against the REAL services
 * through the REAL gateway: a gateway node and a node with users, content, progress, notify
 * and billing (its Stripe a double on loopback), over NATS, Redis, RabbitMQ and PostgreSQL,
 * isolated by namespace. Users are
 * registered over HTTP; authors and admins get their roles from the bootstrap admin.
 */

export const PUBLIC_URL = "http://lingomesh.test";
const VAPID = generateVAPIDKeys();
export const PASSWORD = "correct horse battery staple";
const ADMIN_PASSWORD = "admin horse battery staple 1";

export interface Answer<T = unknown> {
  method: string;
  path: string;
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface CallOptions {
  token?: string;
  json?: unknown;
  body?: RequestInit["body"];
  headers?: Record<string, string>;
}

export interface Session {
  id: string;
  email: string;
  password: string;
  roles: Role[];
  accessToken: string;
  refreshToken: string;
}

export interface SecurityCluster {
  namespace: string;
  db: TestDatabase;
  dataDir: string;
  gateway: TestNode;
  services: TestNode;
  api: string;
  origin: string;
  /** Every answer the suite received, in order (line 18 scans them). */
  answers: Answer[];
  /** Every line any node logged while the cluster ran. */
  logLines: string[];
  adminEmail: string;
  /** The Stripe the billing service talks to. */
  stripe: StripeDouble;
  call<T = unknown>(method: string, path: string, opts?: CallOptions): Promise<Answer<T>>;
  register(tag: string): Promise<Session>;
  login(email: string, password: string): Promise<Session>;
  /** The bootstrap admin grants `roles`; the answer is a fresh sign-in carrying them. */
  withRoles(session: Session, roles: Role[]): Promise<Session>;
  admin(): Promise<Session>;
  stop(): Promise<void>;
}

let counter = 0;

/** Console output of every node is captured (the JSON logger writes through console). */
function captureConsole(lines: string[]): () => void {
  const spies: jest.SpyInstance[] = [];
  for (const method of ["log", "info", "warn", "error", "debug", "trace"] as const) {
    spies.push(
      jest.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        const line = args
          .map(arg => (typeof arg === "string" ? arg : JSON.stringify(arg)))
          .join(" ");
        lines.push(line);
        // SECURITY_LOGS=1 shows the nodes' logs while debugging a suite.
        if (process.env.SECURITY_LOGS === "1") process.stderr.write(`${line}\n`);
      }),
    );
  }
  return () => {
    for (const spy of spies) spy.mockRestore();
  };
}

export async function startSecurityCluster(
  prefix: string,
  extraEnv: Record<string, string> = {},
): Promise<SecurityCluster> {
  await requireServers("postgres", "redis", "rabbitmq", "nats");
  const logLines: string[] = [];
  const restoreConsole = captureConsole(logLines);
  const namespace = uniqueName(prefix);
  const db = await createTestDatabase(`lm_${prefix}`);
  const dataDir = tempDataDir(`lm-${prefix}`);
  const adminEmail = `admin.${namespace}@example.com`.toLowerCase();
  const stripe = await new StripeDouble().start();
  const env = {
    ...clusterEnv(namespace, db.url),
    DATA_DIR: dataDir,
    PUBLIC_URL,
    RATE_LIMIT_RPM: "100000",
    LOGIN_FAILURES_MAX: "1000",
    ADMIN_EMAIL: adminEmail,
    ADMIN_PASSWORD,
    STRIPE_SECRET_KEY: STRIPE_TEST_KEY,
    STRIPE_WEBHOOK_SECRET,
    STRIPE_API_URL: stripe.url,
    // Web Push on, so its routes act on real subscriptions (cluster mode makes up no key).
    VAPID_PUBLIC_KEY: VAPID.publicKey,
    VAPID_PRIVATE_KEY: VAPID.privateKey,
    ...extraEnv,
  };
  const all = ["users", "content", "progress", "notify", "billing"] as const;
  const services = await startTestNode([...all], {
    ...env,
    NODE_ID: `${namespace}-services`,
  });
  const gateway = await startTestNode(["api"], { ...env, NODE_ID: `${namespace}-gateway` });
  await gateway.broker.waitForServices([...all], 20_000);
  const api = gateway.apiUrl as string;
  const answers: Answer[] = [];

  async function call<T = unknown>(
    method: string,
    path: string,
    opts: CallOptions = {},
  ): Promise<Answer<T>> {
    const headers = new Headers(opts.headers);
    if (opts.token) headers.set("Authorization", `Bearer ${opts.token}`);
    let body = opts.body;
    if (opts.json !== undefined) {
      headers.set("Content-Type", "application/json");
      body = JSON.stringify(opts.json);
    }
    const url = path.startsWith("http") ? path : `${api}${path}`;
    const res = await fetch(url, { method, headers, body, redirect: "manual" });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    const answer: Answer<T> = {
      method,
      path,
      status: res.status,
      headers: res.headers,
      body: parsed as T,
      text,
    };
    answers.push(answer as Answer);
    return answer;
  }

  const sessionOf = (
    body: {
      user: { id: string; email: string; roles: Role[] };
      accessToken: string;
      refreshToken: string;
    },
    password: string,
  ): Session => ({
    id: body.user.id,
    email: body.user.email,
    password,
    roles: body.user.roles,
    accessToken: body.accessToken,
    refreshToken: body.refreshToken,
  });

  async function login(email: string, password: string): Promise<Session> {
    const res = await call<Parameters<typeof sessionOf>[0]>("POST", "/auth/login", {
      json: { email, password },
    });
    if (res.status !== 200) throw new Error(`login of ${email}: ${res.status} ${res.text}`);
    return sessionOf(res.body, password);
  }

  let adminSession: Session | undefined;
  async function admin(): Promise<Session> {
    adminSession ??= await login(adminEmail, ADMIN_PASSWORD);
    return adminSession;
  }

  return {
    namespace,
    db,
    dataDir,
    gateway,
    services,
    api,
    origin: gateway.origin as string,
    answers,
    logLines,
    adminEmail,
    stripe,
    call,
    login,
    admin,
    async register(tag) {
      counter += 1;
      const email = `${tag}.${counter}.${namespace}@example.com`.toLowerCase();
      const res = await call<Parameters<typeof sessionOf>[0]>("POST", "/auth/register", {
        json: { email, password: PASSWORD, name: `${tag} ${counter}` },
      });
      if (res.status !== 201) throw new Error(`register ${tag}: ${res.status} ${res.text}`);
      return sessionOf(res.body, PASSWORD);
    },
    async withRoles(session, roles) {
      const res = await call("PUT", `/users/${session.id}/roles`, {
        token: (await admin()).accessToken,
        json: { roles },
      });
      if (res.status !== 200)
        throw new Error(`grant ${roles.join(",")}: ${res.status} ${res.text}`);
      return login(session.email, session.password);
    },
    async stop() {
      await gateway?.stop();
      await services?.stop();
      await stripe.stop();
      await db?.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
      restoreConsole();
    },
  };
}

/** What an action declares about its callers, as the gateway's service registry reports it. */
export interface Declaration {
  name: string;
  auth?: boolean;
  roles?: Role[];
  internal?: boolean;
  params?: Record<string, unknown>;
}

export function declarations(broker: ServiceBroker): Map<string, Declaration> {
  const out = new Map<string, Declaration>();
  for (const item of broker.registry.getActionList({ skipInternal: false })) {
    const info = item as unknown as { name: string; action?: Omit<Declaration, "name"> };
    if (info.action) out.set(info.name, { ...info.action, name: info.name });
  }
  return out;
}

export const needsUser = (d: Declaration | undefined): boolean =>
  d?.auth === true || (d?.roles?.length ?? 0) > 0;

/** Every row of the routes files, with the declaration of the action it maps. */
export function routesWithDeclarations(
  broker: ServiceBroker,
): Array<{ route: RouteSpec; decl: Declaration }> {
  const decls = declarations(broker);
  return publicRoutes().map(route => {
    const decl = decls.get(route.action);
    if (!decl) throw new Error(`${route.method} ${route.path}: ${route.action} is not registered`);
    return { route, decl };
  });
}

export const hasPathId = (route: RouteSpec): boolean => /:[A-Za-z]/.test(route.path);
export const hasJsonBody = (route: RouteSpec): boolean =>
  ["POST", "PUT", "PATCH"].includes(route.method) && (route.kind ?? "json") === "json";

/** "/courses/:id/lessons" with { id: "x" } → "/courses/x/lessons" (":token.gif" keeps its suffix). */
export function fill(path: string, values: Record<string, string>): string {
  return path.replace(/:([A-Za-z0-9_]+)/g, (_m, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`no value for :${name} in ${path}`);
    return encodeURIComponent(value);
  });
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | null | false>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not met in ${timeoutMs} ms`);
    await new Promise(resolve => setTimeout(resolve, 100));
  }
}

/** A small published course of `author` (reading, quiz, flashcards) and a draft one. */
export interface AuthorFixtures {
  publishedCourse: string;
  readingLesson: string;
  quizLesson: string;
  deckLesson: string;
  draftCourse: string;
  draftLesson: string;
  draftReading: string;
  media: string;
}

export const PNG = Buffer.from(
  "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082",
  "hex",
);

export const QUIZ = {
  title: "Checkpoint",
  kind: "quiz",
  questions: [
    { type: "single", prompt: "Greet someone", options: ["Hello", "Goodbye"], answer: "Hello" },
    { type: "text", prompt: "Say thanks", answer: "thank you" },
  ],
};

export async function authorFixtures(
  cluster: SecurityCluster,
  author: Session,
): Promise<AuthorFixtures> {
  const token = author.accessToken;
  const ok = <T>(res: Answer<T>, status: number, what: string): T => {
    if (res.status !== status) throw new Error(`${what}: ${res.status} ${res.text}`);
    return res.body;
  };
  const course = (title: string) =>
    cluster
      .call<{ id: string }>("POST", "/courses", {
        token,
        json: { title, description: "For the security suite", level: "A1", topics: ["travel"] },
      })
      .then(res => ok(res, 201, `course ${title}`).id);
  const lesson = (courseId: string, json: Record<string, unknown>) =>
    cluster
      .call<{ id: string }>("POST", `/courses/${courseId}/lessons`, { token, json })
      .then(res => ok(res, 201, `lesson ${String(json.title)}`).id);

  const form = new FormData();
  form.append("file", new Blob([PNG], { type: "image/png" }), "pixel.png");
  const media = ok(
    await cluster.call<{ id: string }>("POST", "/media", { token, body: form }),
    201,
    "media",
  ).id;

  const publishedCourse = await course("Published by the victim");
  const readingLesson = await lesson(publishedCourse, {
    title: "Reading",
    kind: "lesson",
    order: 1,
    body: "Hello, world.",
    media: [media],
  });
  const quizLesson = await lesson(publishedCourse, { ...QUIZ, order: 2 });
  const deckLesson = await lesson(publishedCourse, {
    title: "Words",
    kind: "flashcards",
    order: 3,
    cards: [
      { front: "apple", back: "a fruit" },
      { front: "pear", back: "another fruit" },
    ],
  });
  ok(await cluster.call("POST", `/courses/${publishedCourse}/publish`, { token }), 200, "publish");
  const draftCourse = await course("Draft of the victim");
  const draftLesson = await lesson(draftCourse, { ...QUIZ, order: 1 });
  const draftReading = await lesson(draftCourse, {
    title: "Draft reading",
    kind: "lesson",
    order: 2,
    body: "Not yet.",
  });
  return {
    publishedCourse,
    readingLesson,
    quizLesson,
    deckLesson,
    draftCourse,
    draftLesson,
    draftReading,
    media,
  };
}

export interface LearnerFixtures {
  notificationId: string;
  card: { lessonId: string; cardId: string; due: string };
}

/**
 * A learner's own objects: enrolled in the published course with its reading lesson completed,
 * so the learner has an in-app notification and flashcards due.
 */
export async function learnerFixtures(
  cluster: SecurityCluster,
  learner: Session,
  fx: AuthorFixtures,
): Promise<LearnerFixtures> {
  const token = learner.accessToken;
  const enrolled = await cluster.call("POST", `/courses/${fx.publishedCourse}/enroll`, { token });
  if (enrolled.status !== 201) throw new Error(`enroll answered ${enrolled.status}`);
  const completed = await cluster.call("POST", `/lessons/${fx.readingLesson}/complete`, { token });
  if (completed.status !== 201) throw new Error(`complete answered ${completed.status}`);
  const notificationId = await waitFor("the learner's notification", async () => {
    const res = await cluster.call<{ rows: Array<{ id: string }> }>("GET", "/me/notifications", {
      token,
    });
    return res.body.rows[0]?.id;
  });
  const due = await cluster.call<Array<{ lessonId: string; cardId: string; due: string }>>(
    "GET",
    "/me/reviews/due",
    { token },
  );
  if (due.body.length === 0) throw new Error("no flashcard is due after enrolling");
  const { lessonId, cardId, due: dueAt } = due.body[0];
  return { notificationId, card: { lessonId, cardId, due: dueAt } };
}
