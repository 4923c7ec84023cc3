import Redis, { type RedisOptions } from "ioredis";
import { parseRedisSentinelUrl } from "./config";

/**
 * ioredis options from a redis:// URL or the redis-sentinel:// form (lib/config.ts). Never
 * give up reconnecting (a Redis restart must not end the node), but never make a caller wait
 * on a Redis that is gone either: every command fails after `commandTimeout` at the latest,
 * and once the client has been ready (see failFastWhenDown) commands issued while it is
 * disconnected fail at once, so the cache, the limiters and the leaderboards take their
 * documented fallback immediately.
 */
export function redisOptions(url: string): RedisOptions {
  const common: RedisOptions = {
    maxRetriesPerRequest: 1,
    // Queue commands until the first connection (a node's start), not during an outage.
    enableOfflineQueue: true,
    // Loopback/LAN Redis answers in well under a millisecond; a second means it is gone.
    commandTimeout: 1000,
    connectTimeout: 2000,
    // Back within a second of Redis's return.
    retryStrategy: attempt => Math.min(attempt * 200, 1000),
  };
  if (url.startsWith("redis-sentinel:")) return { ...common, ...sentinelOptions(url) };
  const parsed = new URL(url);
  return {
    ...common,
    host: parsed.hostname,
    port: Number(parsed.port || 6379),
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    db: parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : 0,
    tls: parsed.protocol === "rediss:" ? {} : undefined,
  };
}

/**
 * Through Sentinel, ioredis asks the Sentinels for the primary on every (re)connect. After a
 * failover it follows the new primary: the old one's connection drops when it dies (and
 * Sentinel disconnects the clients of the promoted and the demoted node), and a primary
 * demoted to a replica behind our back answers READONLY, which makes the client reconnect
 * and ask again.
 *
 * Not ioredis's failoverDetector (off by default): a +switch-master that reaches the client
 * while it is still looking for the primary (the old one was killed) ends the client for good
 * ("Connection is closed." on every command; drill 14 of `npm run chaos` saw a progress node
 * serve its leaderboards from PostgreSQL for the rest of the run), and its subscriptions to
 * the Sentinels outlive QUIT, so a process whose clients had all quit never exited.
 */
function sentinelOptions(url: string): RedisOptions {
  const target = parseRedisSentinelUrl(url);
  return {
    sentinels: target.sentinels,
    name: target.name,
    db: target.db,
    username: target.username,
    password: target.password,
    role: "master",
    sentinelRetryStrategy: attempt => Math.min(attempt * 200, 1000),
    reconnectOnError: err => err.message.startsWith("READONLY"),
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
