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

interface LimitSpec {
  points: number;
  durationSeconds: number;
}

/** The stricter per-route budgets (account creation and mail-sending routes), keyed by "METHOD /path". */
function strictRouteLimits(rpm: number): Record<string, LimitSpec> {
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
  readonly routeBuckets: ReadonlySet<string>;
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
    // Redis down: the same budget per node instead of no limit at all — at once, without
    // waiting on a connection that is not there.
    insuranceLimiter: memory,
    rejectIfRedisNotReady: true,
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
  const reserved = new Map<string, Reservation>();
  return {
    routeBuckets: new Set([...limiters.keys()].filter(key => key !== "global")),
    async consume(bucket, key) {
      const rl = limiters.get(bucket);
      if (!rl) return;
      const id = `${bucket}\n${key}`;
      for (;;) {
        const held = reserved.get(id);
        const now = Date.now();
        if (held && held.left > 0 && now < held.until) {
          held.left -= 1;
          return;
        }
        if (held?.pending) {
          await held.pending;
          continue;
        }
        await reserve(rl, reserved, id, key, held, now);
        return;
      }
    },
  };
}

/**
 * A busy client's points are drawn from the shared (Redis) budget a few at a time and spent
 * here: one round trip per `size` requests instead of per request. Points are counted in
 * Redis before they are spent, so all nodes together never admit more than the budget;
 * points a node reserved and did not use only make the client's limit come a little early
 * (at most `size` − 1 per node, and `size` never exceeds 1 % of the budget — the strict
 * per-route budgets stay exact at one point per request).
 */
interface Reservation {
  left: number;
  /** Reserved points belong to the window they were counted in. */
  until: number;
  size: number;
  grantedAt: number;
  pending?: Promise<void>;
}

const MAX_RESERVATION = 64;
const MAX_RESERVED_KEYS = 10_000;

function reserve(
  rl: RateLimiterAbstract,
  reserved: Map<string, Reservation>,
  id: string,
  key: string,
  held: Reservation | undefined,
  now: number,
): Promise<void> {
  const cap = Math.min(MAX_RESERVATION, Math.max(1, Math.floor(rl.points / 100)));
  // Grow while the client spends its points quickly, shrink back when it slows down.
  let size = 1;
  if (held) size = now - held.grantedAt < 1000 && held.left === 0 ? held.size * 2 : held.size / 2;
  size = Math.max(1, Math.min(cap, Math.floor(size)));
  const entry: Reservation = held ?? { left: 0, until: 0, size, grantedAt: now };
  entry.left = 0;
  const pending = rl.consume(key, size).then(
    (res: RateLimiterRes) => {
      entry.size = size;
      entry.grantedAt = Date.now();
      entry.until = entry.grantedAt + res.msBeforeNext;
      entry.left = size - 1; // this request spends one
    },
    (err: unknown) => {
      entry.size = 1;
      entry.grantedAt = Date.now();
      if (err instanceof RateLimiterRes) {
        throw rateLimited(Math.max(1, Math.ceil(err.msBeforeNext / 1000)));
      }
      throw err;
    },
  );
  entry.pending = pending.then(
    () => undefined,
    () => undefined,
  );
  void entry.pending.then(() => {
    entry.pending = undefined;
  });
  if (!held) {
    if (reserved.size >= MAX_RESERVED_KEYS) reserved.delete(reserved.keys().next().value as string);
    reserved.set(id, entry);
  }
  return pending;
}
