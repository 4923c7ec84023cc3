import { ConfigError, loadConfig, natsServers } from "../../lib/config";
import { redisOptions } from "../../lib/redis";

/** TRANSPORTER naming a NATS cluster, REDIS_URL / CACHER naming Redis behind Sentinel. */

function refusal(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe("clustered servers in the environment contract", () => {
  it("when TRANSPORTER lists three NATS servers, then the node is in cluster mode and each server is host:port", () => {
    const value = "nats://nats-1:4222, nats://nats-2:4223,nats://10.0.0.3";
    const cfg = loadConfig({ TRANSPORTER: value });
    expect(cfg.clusterMode).toBe(true);
    expect(natsServers(cfg.transporter ?? "")).toEqual([
      "nats-1:4222",
      "nats-2:4223",
      "10.0.0.3:4222",
    ]);
  });

  it.each([
    ["nats://nats-1:4222,redis://redis:6379", "each must be nats://host:port"],
    ["nats://nats-1:4222,nats-2:4222", "each must be nats://host:port"],
    ["nats://nats-1:4222,not a url", "not a valid URL"],
  ])("when TRANSPORTER is %s, then start-up stops naming TRANSPORTER", (value, fragment) => {
    const error = refusal({ TRANSPORTER: value });
    expect(error.variable).toBe("TRANSPORTER");
    expect(error.message).toContain(fragment);
  });

  it("when REDIS_URL and CACHER use the Sentinel form, then ioredis gets the Sentinels, the primary's name, the db and the servers' credentials", () => {
    const value = "redis-sentinel://app:p%40ss@s1:26379,s2:26380,[::1]:26381/lingomesh/2";
    const cfg = loadConfig({ REDIS_URL: value, CACHER: value });
    expect(cfg.redisUrl).toBe(value);
    expect(cfg.cacher).toBe(value);
    const options = redisOptions(value);
    expect(options).toMatchObject({
      sentinels: [
        { host: "s1", port: 26379 },
        { host: "s2", port: 26380 },
        { host: "::1", port: 26381 },
      ],
      name: "lingomesh",
      db: 2,
      username: "app",
      password: "p@ss",
      role: "master",
    });
    // Off: it can end a client for good during a failover (lib/redis.ts).
    expect(options.failoverDetector).toBeUndefined();
    expect(options.host).toBeUndefined();
    expect(
      options.reconnectOnError?.(
        new Error("READONLY You can't write against a read only replica."),
      ),
    ).toBe(true);
    expect(options.reconnectOnError?.(new Error("WRONGTYPE"))).toBe(false);
  });

  it("when the Sentinel form has no credentials or db, then db 0 and no password", () => {
    expect(redisOptions("redis-sentinel://127.0.0.1:26379/main")).toMatchObject({
      sentinels: [{ host: "127.0.0.1", port: 26379 }],
      name: "main",
      db: 0,
      password: undefined,
    });
  });

  it.each([
    ["REDIS_URL", "redis-sentinel://s1:26379", "must have the form redis-sentinel://"],
    ["REDIS_URL", "redis-sentinel://s1,s2:26379/main", 'lists "s1" as a Sentinel'],
    ["CACHER", "redis-sentinel://s1:26379/main/x", "must have the form"],
    ["CACHER", "sentinel://s1:26379/main", "must use redis: or rediss:"],
  ])("when %s is %s, then start-up stops naming it", (variable, value, fragment) => {
    const error = refusal({ [variable]: value });
    expect(error.variable).toBe(variable);
    expect(error.message).toContain(fragment);
  });

  it("when a plain redis:// URL is given, then it still connects to that one server", () => {
    expect(redisOptions("redis://:secret@127.0.0.1:6390/3")).toMatchObject({
      host: "127.0.0.1",
      port: 6390,
      db: 3,
      password: "secret",
    });
  });
});
