import type { Context, ServiceBroker, ServiceSchema } from "moleculer";
import Redis from "ioredis";
import { startTestNode, type TestNode } from "../support/cluster";
import { requireServers, SERVERS } from "../support/servers";
import { uniqueName } from "../support/isolation";
import { fakeUsersService, http, natsEnv, startServiceNode } from "./api-kit";

jest.mock("../../services/api/routes/identity.routes", () => ({
  identityRoutes: jest.requireActual("./api-fixture-routes").fixtureRoutes,
}));
jest.mock("../../services/api/routes/content.routes", () => ({ contentRoutes: [] }));
jest.mock("../../services/api/routes/learning.routes", () => ({ learningRoutes: [] }));
jest.mock("../../services/api/routes/notifications.routes", () => ({ notificationsRoutes: [] }));

const testService = {
  name: "test",
  actions: {
    list: {
      handler: (ctx: Context<unknown, { clientIp?: string }>) => ({ clientIp: ctx.meta.clientIp }),
    },
    echo: { handler: () => ({ ok: true }) },
  },
};

/**
 * RATE_LIMIT_RPM=6: six requests a minute per client, register 3 a minute (the strict
 * per-route budget scales with it). Two gateways trust the loopback as their proxy; a
 * third trusts nobody, like a gateway reached directly.
 */
describe("rate limits shared by every gateway node (real NATS + Redis)", () => {
  const namespace = uniqueName("apirl");
  const ring = { keys: [], jwksCalls: 0 };
  let g1: TestNode;
  let g2: TestNode;
  let direct: TestNode;
  let services: ServiceBroker;
  let redis: Redis;

  beforeAll(async () => {
    await requireServers("nats", "redis");
    const env = natsEnv(namespace, { RATE_LIMIT_RPM: "6" });
    services = await startServiceNode(env, `${namespace}-svc`, [
      fakeUsersService(ring),
      testService as unknown as ServiceSchema,
    ]);
    g1 = await startTestNode(["api"], {
      ...env,
      NODE_ID: `${namespace}-g1`,
      TRUSTED_PROXIES: "127.0.0.1,::1",
    });
    g2 = await startTestNode(["api"], {
      ...env,
      NODE_ID: `${namespace}-g2`,
      TRUSTED_PROXIES: "10.0.0.0/8,127.0.0.0/8",
    });
    direct = await startTestNode(["api"], { ...env, NODE_ID: `${namespace}-g3` });
    for (const node of [g1, g2, direct]) await node.broker.waitForServices(["test"], 10_000);
    redis = new Redis(SERVERS.redis.url);
  });

  afterAll(async () => {
    for (const node of [g1, g2, direct]) await node?.stop();
    await services?.stop();
    const keys = await redis.keys(`${namespace}:*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis?.quit();
  });

  it("when one client spreads requests over two gateways, then they share one budget and the 7th is 429 with Retry-After", async () => {
    const client = { "X-Forwarded-For": "198.51.100.1" };
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const node = i % 2 === 0 ? g1 : g2;
      statuses.push((await http(`${node.apiUrl}/things`, { headers: client })).status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200]);
    for (const node of [g1, g2]) {
      const res = await http(`${node.apiUrl}/things`, { headers: client });
      expect(res.status).toBe(429);
      expect(res.body).toEqual({
        name: "RateLimitedError",
        message: "Too many requests",
        code: 429,
        type: "RATE_LIMITED",
        data: { retryAfter: expect.any(Number) },
      });
      const retryAfter = Number(res.headers.get("retry-after"));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
    }
    // Another client behind the same proxy is not affected.
    expect(
      (await http(`${g1.apiUrl}/things`, { headers: { "X-Forwarded-For": "198.51.100.2" } }))
        .status,
    ).toBe(200);
    // The counters live under this namespace's prefix, nowhere else.
    const keys = await redis.keys(`${namespace}:ratelimit*`);
    expect(keys.length).toBeGreaterThan(0);
  });

  it("when the peer is a trusted proxy, then ctx.meta.clientIp is the client it reports", async () => {
    const res = await http(`${g2.apiUrl}/things`, {
      headers: { "X-Forwarded-For": "203.0.113.50, 10.1.2.3" },
    });
    expect(res.status).toBe(200);
    expect((res.body as { clientIp: string }).clientIp).toBe("203.0.113.50");
  });

  it("when a client reaching a gateway directly rotates X-Forwarded-For, then its counter is not reset (security.md 3, 22)", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const res = await http(`${direct.apiUrl}/things`, {
        headers: { "X-Forwarded-For": `192.0.2.${i + 1}` },
      });
      statuses.push(res.status);
      if (res.status === 200) expect((res.body as { clientIp: string }).clientIp).toBe("127.0.0.1");
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 429, 429]);
  });

  it("when a client behind the trusted proxy prepends spoofed hops, then the hop our proxy saw keeps counting", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) {
      const res = await http(`${g1.apiUrl}/things`, {
        headers: { "X-Forwarded-For": `10.9.9.${i}, 203.0.113.9` },
      });
      statuses.push(res.status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 429]);
  });

  it("when a client registers repeatedly, then the stricter register budget (3 a minute at 6 rpm) answers 429 first", async () => {
    const client = { "X-Forwarded-For": "198.51.100.77" };
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      statuses.push(
        (await http(`${g1.apiUrl}/auth/register`, { method: "POST", json: {}, headers: client }))
          .status,
      );
    }
    expect(statuses).toEqual([201, 201, 201, 429]);
    // The general budget of that client still has room.
    expect((await http(`${g2.apiUrl}/things`, { headers: client })).status).toBe(200);
  });
});
