import Redis from "ioredis";
import { Errors, ServiceBroker, type Context } from "moleculer";
import { toPublicError } from "../../services/api/errors";
import { createRedis } from "../../lib/redis";
import { brokerOptions } from "../../moleculer.config";
import { testConfig, uniqueName } from "../support/isolation";
import { SERVERS, requireServers } from "../support/servers";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy";

/**
 * What a node does while Redis or NATS is unreachable (the chaos drills, `npm run chaos`,
 * measure how fast; these prove the behaviour): the cache fails open, Redis commands fail
 * instead of waiting for the outage to end, and a node cut off from NATS refuses calls
 * with BrokerDisconnectedError (503 at the gateway) and serves again once NATS is back.
 */

const waitUntil = async (check: () => Promise<boolean> | boolean, ms = 15_000) => {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise(resolve => setTimeout(resolve, 100));
  }
  return false;
};

describe("a node while Redis is unreachable", () => {
  const namespace = uniqueName("redisdown");
  let proxy: TcpProxy;
  let broker: ServiceBroker;
  let handled = 0;

  beforeAll(async () => {
    await requireServers("redis");
    proxy = await startTcpProxy({ port: Number(new URL(SERVERS.redis.url).port) || 6379 });
    broker = new ServiceBroker({
      ...brokerOptions(
        testConfig({
          NAMESPACE: namespace,
          CACHER: proxy.urlFor(SERVERS.redis.url),
          SERVICES: "",
        }),
      ),
      nodeID: `${namespace}-node`,
    });
    broker.createService({
      name: "catalogue",
      actions: {
        read: {
          cache: { keys: ["id"] },
          handler(ctx: Context<{ id: string }>) {
            handled++;
            return { id: ctx.params.id, title: "Greetings" };
          },
        },
      },
    });
    await broker.start();
    await waitUntil(() => (broker.cacher as unknown as { connected: boolean }).connected);
  });

  afterAll(async () => {
    await broker?.stop();
    await proxy?.close();
    const direct = new Redis(SERVERS.redis.url);
    const keys = await direct.keys(`${namespace}:*`);
    if (keys.length > 0) await direct.del(...keys);
    direct.disconnect();
  });

  test("when Redis is cut, then a cached action is answered by its handler, and cached again once Redis is back", async () => {
    await broker.call("catalogue.read", { id: "a" });
    expect(await broker.call("catalogue.read", { id: "a" })).toEqual({
      id: "a",
      title: "Greetings",
    });
    expect(handled).toBe(1);

    proxy.cut();
    const during = await Promise.all(
      ["a", "b", "c"].map(id => broker.call("catalogue.read", { id })),
    );
    expect(during.map(r => (r as { id: string }).id)).toEqual(["a", "b", "c"]);
    expect(handled).toBe(4);

    proxy.restore();
    expect(
      await waitUntil(() => (broker.cacher as unknown as { connected: boolean }).connected),
    ).toBe(true);
    await broker.call("catalogue.read", { id: "d" });
    await broker.call("catalogue.read", { id: "d" });
    expect(handled).toBe(5);
  });

  test("when a node stops while Redis is cut, then its cacher gives up the connection instead of reconnecting for ever", async () => {
    const own = await startTcpProxy({ port: Number(new URL(SERVERS.redis.url).port) || 6379 });
    const stopping = new ServiceBroker({
      ...brokerOptions(
        testConfig({ NAMESPACE: namespace, CACHER: own.urlFor(SERVERS.redis.url), SERVICES: "" }),
      ),
      nodeID: `${namespace}-stopping`,
    });
    await stopping.start();
    const client = (stopping.cacher as unknown as { client: Redis }).client;
    try {
      expect(await waitUntil(() => client.status === "ready")).toBe(true);
      own.cut();
      expect(await waitUntil(() => client.status === "reconnecting")).toBe(true);
      await stopping.stop();
      own.restore();
      // A client still reconnecting is back within its 1 s backoff once Redis answers again.
      await new Promise(resolve => setTimeout(resolve, 2500));
      expect(own.connections).toBe(0);
      expect(client.status).not.toBe("ready");
    } finally {
      client.disconnect();
      await own.close();
    }
  });

  test("when Redis is cut after the client was ready, then a command is rejected instead of queued for the outage", async () => {
    const redis = createRedis(proxy.urlFor(SERVERS.redis.url));
    try {
      await redis.ping();
      proxy.cut();
      await expect(redis.get(`${namespace}:x`)).rejects.toThrow();
    } finally {
      proxy.restore();
      redis.disconnect();
    }
  });
});

describe("a node while NATS is unreachable", () => {
  const namespace = uniqueName("natsdown");
  let proxy: TcpProxy;
  let caller: ServiceBroker;
  let server: ServiceBroker;

  beforeAll(async () => {
    await requireServers("nats");
    proxy = await startTcpProxy({ port: Number(new URL(SERVERS.nats.url).port) || 4222 });
    caller = new ServiceBroker({
      ...brokerOptions(
        testConfig({
          NAMESPACE: namespace,
          TRANSPORTER: proxy.urlFor(SERVERS.nats.url),
          SERVICES: "",
        }),
      ),
      nodeID: `${namespace}-caller`,
    });
    server = new ServiceBroker({
      ...brokerOptions(
        testConfig({ NAMESPACE: namespace, TRANSPORTER: SERVERS.nats.url, SERVICES: "" }),
      ),
      nodeID: `${namespace}-server`,
    });
    server.createService({ name: "echo", actions: { hi: () => "hi" } });
    await server.start();
    await caller.start();
    await caller.waitForServices("echo", 10_000);
  });

  afterAll(async () => {
    proxy?.restore();
    await caller?.stop();
    await server?.stop();
    await proxy?.close();
  });

  test("when its NATS connection is cut, then calls are refused at once (503 at the gateway), and served again once NATS is back", async () => {
    expect(await caller.call("echo.hi")).toBe("hi");
    proxy.cut();
    expect(await waitUntil(() => caller.transit?.connected === false)).toBe(true);
    const err = await caller.call("echo.hi").catch((e: unknown) => e);
    // Refused at once — transporter down, the other nodes forgotten until they are back —
    // never left waiting for an answer that cannot come (a 504 after the request timeout).
    expect(
      err instanceof Errors.BrokerDisconnectedError ||
        err instanceof Errors.ServiceNotAvailableError,
    ).toBe(true);
    expect(toPublicError(err)).toMatchObject({ code: 503, type: "SERVICE_UNAVAILABLE" });

    proxy.restore();
    const back = await waitUntil(async () => {
      try {
        return (await caller.call("echo.hi")) === "hi";
      } catch {
        return false;
      }
    }, 20_000);
    expect(back).toBe(true);
  });
});
