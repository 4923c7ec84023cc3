import Redis, { type RedisOptions } from "ioredis";

/**
 * ioredis options from a redis:// URL. Never give up reconnecting (a Redis restart must
 * not end the node), but never make a caller wait on a Redis that is gone either: every
 * command fails after `commandTimeout` at the latest, and once the client has been ready
 * (see failFastWhenDown) commands issued while it is disconnected fail at once, so the
 * cache, the limiters and the leaderboards take their documented fallback immediately.
 */
export function redisOptions(url: string): RedisOptions {
  const parsed = new URL(url);
  return {
    host: parsed.hostname,
    port: Number(parsed.port || 6379),
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    db: parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : 0,
    tls: parsed.protocol === "rediss:" ? {} : undefined,
    maxRetriesPerRequest: 1,
    // Queue commands until the first connection (a node's start), not during an outage.
    enableOfflineQueue: true,
    // Loopback/LAN Redis answers in well under a millisecond; a second means it is gone.
    commandTimeout: 1000,
    connectTimeout: 2000,
    // Back within a second of Redis's return.
    retryStrategy: attempt => Math.min(attempt * 200, 1000),
  };
}

/**
 * After the first `ready`, commands sent while the connection is down are rejected at
 * once instead of waiting in ioredis's offline queue (which would hold every request
 * that touches Redis for the whole outage). Startup keeps the queue, so commands issued
 * while the node is still connecting are not lost.
 */
export function failFastWhenDown(redis: Redis): void {
  redis.once("ready", () => {
    redis.options.enableOfflineQueue = false;
  });
}

export function createRedis(url: string): Redis {
  const redis = new Redis(redisOptions(url));
  failFastWhenDown(redis);
  // Callers log what matters to them; without a listener ioredis prints every reconnect error.
  redis.on("error", () => undefined);
  return redis;
}
