import type Redis from "ioredis";
import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
} from "rate-limiter-flexible";
import { rateLimited } from "./errors";

/**
 * Per-client request budgets at the gateway. With REDIS_URL the counters live in Redis
 * under the namespace's prefix, so every gateway node draws from the same budget (a
 * client cannot multiply it by reaching another node). Without Redis (single node) they
 * live in memory. If Redis stops answering, each node falls back to an in-memory
 * limiter of the same size rather than letting traffic through unlimited.
 */

export interface LimitSpec {
  points: number;
  durationSeconds: number;
}

/** The stricter per-route budgets (account creation and mail-sending routes), keyed by "METHOD /path". */
export function strictRouteLimits(rpm: number): Record<string, LimitSpec> {
  // 1 % of the general budget per minute, at least 3: 600 rpm -> 6 registrations a minute per client.
  const perMinute = Math.max(3, Math.floor(rpm / 100));
  return {
    "POST /auth/register": { points: perMinute, durationSeconds: 60 },
    "POST /auth/password/forgot": { points: perMinute, durationSeconds: 60 },
  };
}

export interface RateLimiterSet {
  /** Spends one point of `key`'s budget for `bucket` ("global" or a route key); throws 429 when spent. */
  consume(bucket: string, key: string): Promise<void>;
  readonly routeBuckets: string[];
}

function limiter(
  spec: LimitSpec,
  keyPrefix: string,
  redis: Redis | undefined,
): RateLimiterAbstract {
  const memory = new RateLimiterMemory({
    points: spec.points,
    duration: spec.durationSeconds,
    keyPrefix,
  });
  if (!redis) return memory;
  return new RateLimiterRedis({
    storeClient: redis,
    points: spec.points,
    duration: spec.durationSeconds,
    keyPrefix,
    // Redis down: the same budget per node instead of no limit at all.
    insuranceLimiter: memory,
  });
}

export function createRateLimiters(opts: {
  rpm: number;
  redis?: Redis;
  /** The namespace's Redis prefix (per-namespace isolation of keys). */
  prefix: string;
}): RateLimiterSet {
  const limiters = new Map<string, RateLimiterAbstract>();
  limiters.set(
    "global",
    limiter(
      { points: opts.rpm, durationSeconds: 60 },
      `${opts.prefix}ratelimit:global`,
      opts.redis,
    ),
  );
  for (const [route, spec] of Object.entries(strictRouteLimits(opts.rpm))) {
    limiters.set(
      route,
      limiter(spec, `${opts.prefix}ratelimit:${route.replace(/[^A-Za-z0-9]+/g, "_")}`, opts.redis),
    );
  }
  return {
    routeBuckets: [...limiters.keys()].filter(key => key !== "global"),
    async consume(bucket, key) {
      const rl = limiters.get(bucket);
      if (!rl) return;
      try {
        await rl.consume(key, 1);
      } catch (err) {
        if (err instanceof RateLimiterRes) {
          throw rateLimited(Math.max(1, Math.ceil(err.msBeforeNext / 1000)));
        }
        throw err;
      }
    },
  };
}
