import Redis from "ioredis";
import { createRedis } from "../../lib/redis";
import { RedisSentinelGroup } from "../support/clustered-servers";
import { uniqueName } from "../support/isolation";

/**
 * Found by `npm run chaos` drill 14 (kill -9 of the primary behind three Sentinels): with
 * ioredis's failoverDetector, a client whose +switch-master arrived while it was still looking
 * for the primary ended for good — every command "Connection is closed." — and a client that
 * quit kept its subscriptions on the Sentinels, so the seed script never exited.
 */

const CLIENTS = 10;

const waitUntil = async (check: () => Promise<boolean>, ms = 30_000): Promise<boolean> => {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return true;
    await new Promise(resolve => setTimeout(resolve, 100));
  }
  return check().catch(() => false);
};

describe("clients of Redis through Sentinel", () => {
  const sentinel = new RedisSentinelGroup();
  const namespace = uniqueName("sentinelfollow");

  /** Connections subscribed to a channel on the Sentinels (the Sentinels hold none there). */
  async function subscriptionsOnSentinels(): Promise<number> {
    let total = 0;
    for (const node of sentinel.sentinels) {
      const probe = new Redis({
        host: "127.0.0.1",
        port: node.port,
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      await probe.connect();
      try {
        const clients = String(await probe.call("CLIENT", "LIST")).split("\n");
        total += clients.filter(line => /\bsub=[1-9]/.test(line)).length;
      } finally {
        probe.disconnect();
      }
    }
    return total;
  }

  beforeAll(async () => {
    await sentinel.start();
  }, 150_000);

  afterAll(async () => {
    await sentinel.stop();
  });

  test("when a client quits, then it leaves no subscription on the Sentinels", async () => {
    const redis = createRedis(sentinel.url);
    await redis.set(`${namespace}:quit`, "value");
    await redis.quit();

    expect(await subscriptionsOnSentinels()).toBe(0);
  }, 30_000);

  test(`when the primary is killed, then each of ${CLIENTS} clients writes to the promoted replica`, async () => {
    const clients = Array.from({ length: CLIENTS }, () => createRedis(sentinel.url));
    try {
      await Promise.all(clients.map((redis, i) => redis.set(`${namespace}:${i}`, "before")));
      await sentinel.killPrimary();

      const followed = await Promise.all(
        clients.map((redis, i) =>
          waitUntil(async () => (await redis.set(`${namespace}:${i}`, "after")) === "OK"),
        ),
      );
      expect(followed).toEqual(clients.map(() => true));
      expect(clients.map(redis => redis.status)).toEqual(clients.map(() => "ready"));
    } finally {
      for (const redis of clients) redis.disconnect();
    }
  }, 150_000);
});
