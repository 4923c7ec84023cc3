import Redis from "ioredis";
import { createRateLimiters } from "../../services/api/rate-limits";
import { uniqueName } from "../support/isolation";
import { requireServers, SERVERS } from "../support/servers";

/**
 * A busy client's points are drawn from the shared Redis budget several at a time and spent
 * at the gateway (services/api/rate-limits.ts): these tests hold two gateways drawing on one
 * budget to the limit itself — never more admitted, at most one reservation per node less.
 */

let redis: Redis;

beforeAll(async () => {
  await requireServers("redis");
  redis = new Redis(SERVERS.redis.url, { maxRetriesPerRequest: 1 });
  // Before "ready" the limiters answer from their per-node insurance limiter by design.
  await redis.ping();
});

afterAll(async () => {
  await redis?.quit();
});

async function flood(
  rpm: number,
  requests: number,
): Promise<{ admitted: number; refused: number }> {
  const prefix = `${uniqueName("rl").toLowerCase()}:`;
  const gateways = [
    createRateLimiters({ rpm, redis, prefix }),
    createRateLimiters({ rpm, redis, prefix }),
  ];
  let admitted = 0;
  let refused = 0;
  // Waves of concurrent requests spread over both gateways, like a client behind a balancer.
  for (let sent = 0; sent < requests; sent += 50) {
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        gateways[(sent + i) % 2].consume("global", "203.0.113.7").then(
          () => admitted++,
          (err: { code?: number }) => {
            if (err.code !== 429) throw err;
            refused++;
          },
        ),
      ),
    );
  }
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  return { admitted, refused };
}

test("when one client floods two gateways past a large budget, then together they admit at most the budget and at most a reservation per node less", async () => {
  // 2000 a minute: reservations of up to 20 points.
  const { admitted, refused } = await flood(2000, 2600);
  expect(admitted).toBeLessThanOrEqual(2000);
  expect(admitted).toBeGreaterThanOrEqual(2000 - 2 * 20);
  expect(admitted + refused).toBe(2600);
});

test("when the budget is small, then every request is counted on its own: exactly the budget is admitted", async () => {
  const { admitted, refused } = await flood(60, 100);
  expect(admitted).toBe(60);
  expect(refused).toBe(40);
});
