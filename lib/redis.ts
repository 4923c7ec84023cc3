import Redis, { type RedisOptions } from "ioredis";

/** ioredis options from a redis:// URL; never give up reconnecting (a Redis restart must not end the node). */
export function redisOptions(url: string): RedisOptions {
  const parsed = new URL(url);
  return {
    host: parsed.hostname,
    port: Number(parsed.port || 6379),
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    db: parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : 0,
    tls: parsed.protocol === "rediss:" ? {} : undefined,
    maxRetriesPerRequest: 2,
    enableOfflineQueue: true,
    retryStrategy: attempt => Math.min(attempt * 200, 2000),
  };
}

export function createRedis(url: string): Redis {
  return new Redis(redisOptions(url));
}
