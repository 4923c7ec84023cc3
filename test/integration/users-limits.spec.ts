import { ServiceBroker } from "moleculer";
import Redis from "ioredis";
import { brokerOptions } from "../../moleculer.config";
import { serviceFile } from "../../server";
import { startTestNode, type TestNode } from "../support/cluster";
import {
  clusterEnv,
  createTestDatabase,
  testConfig,
  uniqueName,
  type TestDatabase,
} from "../support/isolation";
import { SERVERS } from "../support/servers";
import {
  api,
  newEmail,
  outboxEvents,
  PASSWORD,
  sql,
  waitFor,
  type AuthBody,
} from "./users.support";

/**
 * Brute-force limits and shared state across two users nodes (gateway+users, users alone)
 * on the real NATS, Redis, RabbitMQ and PostgreSQL; the bootstrap admin on both at once;
 * a cluster node without a JWT key refusing to start.
 */

jest.setTimeout(60_000);

let db: TestDatabase;
let ns: string;
let gateway: TestNode;
let second: TestNode;
let redis: Redis;
let http: ReturnType<typeof api>;
const ADMIN_EMAIL = "boss@example.com";
const ADMIN_PASSWORD = "shared bootstrap passphrase";

beforeAll(async () => {
  db = await createTestDatabase("lm_users_limits");
  ns = uniqueName("ulim");
  const env = {
    ...clusterEnv(ns, db.url),
    LOGIN_FAILURES_MAX: "3",
    RATE_LIMIT_RPM: "1000000",
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
  };
  // Both nodes bootstrap the admin at the same moment.
  [gateway, second] = await Promise.all([
    startTestNode(["api", "users"], { ...env, NODE_ID: `${ns}-gateway` }),
    startTestNode(["users"], { ...env, NODE_ID: `${ns}-users-2` }),
  ]);
  http = api(gateway.apiUrl as string);
  const secondId = second.broker.nodeID;
  await waitFor(
    async () =>
      gateway.broker.registry
        .getServiceList({ onlyAvailable: true })
        .some(svc => svc.name === "users" && svc.nodeID === secondId),
    15_000,
  );
  redis = new Redis(SERVERS.redis.url);
});

afterAll(async () => {
  await second?.stop();
  await gateway?.stop();
  redis?.disconnect();
  await db?.drop();
});

async function register(tag: string): Promise<AuthBody> {
  const res = await http.post<AuthBody>("/auth/register", {
    email: newEmail(tag),
    password: PASSWORD,
    name: tag,
  });
  expect(res.status).toBe(201);
  return res.body;
}

const login = (email: string, password = PASSWORD) =>
  http.post<{ type?: string }>("/auth/login", { email, password });

function loginAtSecondNode(email: string, password = PASSWORD) {
  return gateway.broker.call(
    "users.login",
    { email, password },
    { nodeID: second.broker.nodeID, meta: { clientIp: "10.9.9.9" } },
  );
}

test("when two nodes bootstrap the same admin at once, then exactly one admin account exists", async () => {
  const rows = await sql<{ roles: string[] }>(
    db.url,
    "SELECT roles FROM users.users WHERE email = $1",
    [ADMIN_EMAIL],
  );
  expect(rows).toEqual([{ roles: ["admin"] }]);
  expect((await login(ADMIN_EMAIL, ADMIN_PASSWORD)).status).toBe(200);
});

test("when an account fails LOGIN_FAILURES_MAX times, then the next login answers 429 with Retry-After, on every node, even with the right password", async () => {
  const body = await register("lock");
  for (let i = 0; i < 3; i++)
    expect((await login(body.user.email, "wrong password 1")).status).toBe(401);
  const locked = await login(body.user.email);
  expect(locked.status).toBe(429);
  expect(locked.body.type).toBe("TOO_MANY_ATTEMPTS");
  const retryAfter = Number(locked.headers.get("retry-after"));
  expect(retryAfter).toBeGreaterThan(0);
  expect(retryAfter).toBeLessThanOrEqual(900);
  await expect(loginAtSecondNode(body.user.email)).rejects.toMatchObject({ code: 429 });
});

test("when the owner logs in between failures, then the account's count starts again", async () => {
  const body = await register("recount");
  // Its own client IP: the failures of the other tests here count against the test client's.
  const attempt = (password: string) =>
    gateway.broker
      .call("users.login", { email: body.user.email, password }, { meta: { clientIp: "10.8.8.8" } })
      .then(
        () => 200,
        (err: { code?: number }) => err.code,
      );
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < 2; i++) expect(await attempt("wrong password 4")).toBe(401);
    expect(await attempt(PASSWORD)).toBe(200);
  }
});

test("when an unknown email fails as often, then it is limited the same way (no enumeration through the limit)", async () => {
  const ghost = newEmail("ghost");
  for (let i = 0; i < 3; i++) expect((await login(ghost, "wrong password 1")).status).toBe(401);
  const locked = await login(ghost, "wrong password 1");
  expect(locked.status).toBe(429);
  expect(locked.body.type).toBe("TOO_MANY_ATTEMPTS");
});

test("when the lock's window passes, then the owner logs in again (the key expires; nothing is locked for good)", async () => {
  const body = await register("expiry");
  for (let i = 0; i < 3; i++) await login(body.user.email, "wrong password 2");
  expect((await login(body.user.email)).status).toBe(429);
  const keys = await redis.keys(`${ns}:users:login-account*`);
  expect(keys.length).toBeGreaterThan(0);
  for (const key of keys) {
    const ttl = await redis.pttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(15 * 60 * 1000);
    // Fast-forward: the fixed window ends now.
    await redis.pexpire(key, 1);
  }
  await new Promise(resolve => setTimeout(resolve, 20));
  expect((await login(body.user.email)).status).toBe(200);
});

test("when a locked-out owner resets the password, then the lock is lifted at once", async () => {
  const body = await register("unlock");
  for (let i = 0; i < 3; i++) await login(body.user.email, "wrong password 3");
  expect((await login(body.user.email)).status).toBe(429);
  await http.post("/auth/password/forgot", { email: body.user.email });
  const event = await waitFor(
    async () => (await outboxEvents(db.url, "user.password_reset_requested", body.user.id))[0],
  );
  expect(
    (
      await http.post("/auth/password/reset", {
        token: event.data.resetToken,
        password: "unlocked passphrase",
      })
    ).status,
  ).toBe(204);
  expect((await login(body.user.email, "unlocked passphrase")).status).toBe(200);
});

test("when a refresh token issued by one node is rotated at the other, then the sessions are shared and reuse is caught anywhere", async () => {
  const body = await register("shared");
  const rotated = (await gateway.broker.call(
    "users.refresh",
    { refreshToken: body.refreshToken },
    { nodeID: second.broker.nodeID },
  )) as { refreshToken: string };
  expect(rotated.refreshToken).toEqual(expect.any(String));
  expect((await http.post("/auth/refresh", { refreshToken: body.refreshToken })).status).toBe(401);
  await expect(
    gateway.broker.call(
      "users.refresh",
      { refreshToken: rotated.refreshToken },
      { nodeID: second.broker.nodeID },
    ),
  ).rejects.toMatchObject({ code: 401 });
});

test("when a cluster node has no JWT key pair, then it refuses to start", async () => {
  const env = { ...clusterEnv(ns, db.url), JWT_PRIVATE_KEY: undefined, JWT_PUBLIC_KEY: undefined };
  const broker = new ServiceBroker({
    ...brokerOptions(testConfig({ ...env, SERVICES: "users" })),
    nodeID: uniqueName("nokey"),
  });
  broker.loadService(serviceFile("users"));
  await expect(broker.start()).rejects.toThrow(
    /JWT_PRIVATE_KEY and JWT_PUBLIC_KEY are required in cluster mode/,
  );
  await broker.stop().catch(() => undefined);
});

// Last: it blocks this client IP for the rest of the window.
test("when one client IP fails across many accounts, then it is limited, and rotating X-Forwarded-For does not reset the count", async () => {
  const body = await register("victim");
  // Start from a clean count for this IP (the tests above failed logins from it too).
  for (const key of await redis.keys(`${ns}:users:login-ip*`)) await redis.del(key);
  // LOGIN_FAILURES_MAX 3 → 15 failures per IP; each account fails once (below its own limit).
  for (let i = 0; i < 15; i++) {
    const res = await http.call("POST", "/auth/login", {
      body: { email: newEmail(`spray${i}`), password: "wrong password 4" },
      headers: { "x-forwarded-for": `203.0.113.${i + 1}` },
    });
    expect(res.status).toBe(401);
  }
  const blocked = await http.call<{ type: string }>("POST", "/auth/login", {
    body: { email: body.user.email, password: PASSWORD },
    headers: { "x-forwarded-for": "198.51.100.77" },
  });
  expect(blocked.status).toBe(429);
  expect(blocked.body.type).toBe("TOO_MANY_ATTEMPTS");
  // Another client (as the gateway sees it) is not affected.
  const elsewhere = (await gateway.broker.call(
    "users.login",
    { email: body.user.email, password: PASSWORD },
    { meta: { clientIp: "192.0.2.10" } },
  )) as AuthBody;
  expect(elsewhere.user.id).toBe(body.user.id);
});
