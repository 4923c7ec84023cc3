import crypto from "node:crypto";
import type Redis from "ioredis";
import {
  RateLimiterMemory,
  RateLimiterRedis,
  type IRateLimiterOptions,
  type RateLimiterAbstract,
} from "rate-limiter-flexible";
import type { AppConfig } from "../../lib/config";

/**
 * Brute-force limits (security.md lines 3 and 14), kept in Redis so every users node
 * counts the same failures; in-process when REDIS_URL is unset (one node). Windows are
 * fixed: a blocked account is free again at most `duration` after its first failure, so
 * an attacker slows the owner down but cannot lock them out for good — and a password
 * reset clears the account's counter at once.
 */

const LOGIN_WINDOW_SECONDS = 15 * 60;
/** One client IP may fail this many times the per-account limit (NAT'd offices share an IP). */
const IP_FACTOR = 5;
const MFA_GUESSES_MAX = 5;
/** Reset and verification mails per address per hour (security.md line 22). */
const MAILS_PER_HOUR = 3;

interface Limiter {
  readonly name: string;
  readonly points: number;
  /** Milliseconds until `key` may try again; 0 when it is not blocked. */
  blockedFor(key: string): Promise<number>;
  /** `blockedFor` and the failures counted in `key`'s window, from one read. */
  state(key: string): Promise<{ failures: number; waitMs: number }>;
  /** Counts one failure. */
  fail(key: string): Promise<void>;
  /** Counts one use and tells whether it was within the limit. */
  take(key: string): Promise<boolean>;
  reset(key: string): Promise<void>;
}

export interface AuthLimits {
  loginAccount: Limiter;
  loginIp: Limiter;
  mfa: Limiter;
  mail: Limiter;
}

/** Limiter keys carry no email address (PII stays out of Redis). */
export function limitKey(value: string): string {
  return crypto.createHash("sha256").update(value).digest("hex").slice(0, 32);
}

function limiter(name: string, opts: IRateLimiterOptions, cfg: AppConfig, redis?: Redis): Limiter {
  const keyPrefix = `${cfg.redisPrefix}users:${name}`;
  const memory = new RateLimiterMemory({ ...opts, keyPrefix });
  // Redis down: fall back to this node's own counts instead of refusing every login.
  const store: RateLimiterAbstract = redis
    ? new RateLimiterRedis({
        ...opts,
        keyPrefix,
        storeClient: redis,
        insuranceLimiter: memory,
        // Not connected: use the node's own counts at once instead of waiting for Redis.
        rejectIfRedisNotReady: true,
      })
    : memory;
  const points = opts.points as number;
  return {
    name,
    points,
    async blockedFor(key) {
      return (await this.state(key)).waitMs;
    },
    async state(key) {
      const res = await store.get(key);
      const failures = res?.consumedPoints ?? 0;
      return { failures, waitMs: res && failures >= points ? Math.max(res.msBeforeNext, 1) : 0 };
    },
    async fail(key) {
      await store.penalty(key, 1);
    },
    async take(key) {
      try {
        await store.consume(key, 1);
        return true;
      } catch (err) {
        if (err instanceof Error) throw err;
        return false;
      }
    },
    async reset(key) {
      await store.delete(key);
    },
  };
}

export function createAuthLimits(cfg: AppConfig, redis?: Redis): AuthLimits {
  return {
    loginAccount: limiter(
      "login-account",
      { points: cfg.loginFailuresMax, duration: LOGIN_WINDOW_SECONDS },
      cfg,
      redis,
    ),
    loginIp: limiter(
      "login-ip",
      { points: cfg.loginFailuresMax * IP_FACTOR, duration: LOGIN_WINDOW_SECONDS },
      cfg,
      redis,
    ),
    mfa: limiter("mfa", { points: MFA_GUESSES_MAX, duration: LOGIN_WINDOW_SECONDS }, cfg, redis),
    mail: limiter("mail", { points: MAILS_PER_HOUR, duration: 3600 }, cfg, redis),
  };
}
