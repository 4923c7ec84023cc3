import Redis from "ioredis";
import { SERVERS } from "../../../test/support/servers";
import { check, type Drill } from "../drill";
import { call, learnerEmail, PASSWORD, register } from "../http";
import { runLoad, summarize } from "../load";
import { round, sleep, waitFor } from "../util";

const OUTAGE_MS = 15_000;

async function cacheKeys(redis: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await redis.scan(cursor, "MATCH", `${prefix}cache*`, "COUNT", 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== "0");
  return keys;
}

/**
 * Drill 5: Redis unreachable. Reads must still be served (the cache is skipped), logins
 * must still be limited (each users node falls back to its own in-memory counts, as
 * services/users/limits.ts documents), no process may exit, and everything must use
 * Redis again once it is back, without a restart.
 */
export const redisOutageDrill: Drill = {
  id: 5,
  name: "Redis unreachable for 15 s",
  async run({ cluster, log }) {
    const proxy = cluster.proxies.redis;
    if (!proxy) throw new Error("no Redis proxy");
    const prefix = `${cluster.namespace}:`;
    const direct = new Redis(SERVERS.redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await direct.connect();
    try {
      const learnerMail = learnerEmail(`redis-${cluster.namespace}`, 0);
      const victimMail = learnerEmail(`redis-${cluster.namespace}`, 1);
      const learner = await register(cluster.apiUrl, learnerMail);
      await register(cluster.apiUrl, victimMail);
      const token = (learner.body as { accessToken: string }).accessToken;
      // Warm the cache so the outage hits a cluster that relies on it.
      const reads = [
        "/courses?level=A1",
        "/courses?level=A2",
        "/topics",
        "/leaderboard?period=weekly",
      ];
      for (const path of reads) await call(cluster.apiUrl, "GET", path, { token });
      const warmKeys = (await cacheKeys(direct, prefix)).length;

      log(
        `cutting Redis for ${OUTAGE_MS / 1000} s (cache had ${warmKeys} keys); reads with 8 connections`,
      );
      proxy.cut();
      const cutAt = performance.now();
      const readRun = runLoad({
        durationMs: OUTAGE_MS - 1000,
        concurrency: 8,
        send: i =>
          call(cluster.apiUrl, "GET", reads[i % reads.length], { token, timeoutMs: 15_000 }),
        ok: reply => reply.status === 200,
      });
      // Logins during the outage: the right password works, wrong ones end in 429.
      await sleep(1000);
      const goodLogin = await call(cluster.apiUrl, "POST", "/auth/login", {
        body: { email: learnerMail, password: PASSWORD },
        timeoutMs: 15_000,
      });
      const wrong: number[] = [];
      const wrongMs: number[] = [];
      for (let i = 0; i < 14; i++) {
        const reply = await call(cluster.apiUrl, "POST", "/auth/login", {
          body: { email: victimMail, password: `wrong password ${i}` },
          timeoutMs: 15_000,
        });
        wrong.push(reply.status);
        wrongMs.push(reply.ms);
      }
      const reads1 = summarize((await readRun).samples);
      const firstLimited = wrong.indexOf(429);
      const rest = Math.max(0, OUTAGE_MS - (performance.now() - cutAt));
      await sleep(rest);
      const crashedDuring = cluster.crashed();

      log(`restoring Redis`);
      proxy.restore();
      const restoredAt = performance.now();
      const recovered = await waitFor(() => cluster.allReady(), 30_000, 250);
      const readySeconds = round((performance.now() - restoredAt) / 1000);
      // The cache is used again: a fresh read leaves its key in Redis.
      for (const key of await cacheKeys(direct, prefix)) await direct.del(key);
      let cacheBack = false;
      const cacheDeadline = performance.now() + 15_000;
      while (!cacheBack && performance.now() < cacheDeadline) {
        await call(cluster.apiUrl, "GET", "/courses?level=A1", { token });
        cacheBack = (await cacheKeys(direct, prefix)).length > 0;
        if (!cacheBack) await sleep(250);
      }
      const cacheSeconds = round((performance.now() - restoredAt) / 1000);
      const after = await call(cluster.apiUrl, "POST", "/auth/login", {
        body: { email: learnerMail, password: PASSWORD },
      });
      const readShare = reads1.requests ? (reads1.requests - reads1.failed) / reads1.requests : 0;
      return {
        checks: [
          check("reads during the outage", reads1.requests),
          check(
            "reads served (200)",
            `${round(readShare * 100, 2)} %`,
            "100 %",
            reads1.failed === 0,
          ),
          check("read p99 during the outage", reads1.p99, "≤ 1000 ms", reads1.p99 <= 1000, "ms"),
          check("read max during the outage", reads1.max, undefined, undefined, "ms"),
          check("login with the right password", goodLogin.status, "200", goodLogin.status === 200),
          check(
            "wrong passwords until 429",
            firstLimited >= 0 ? firstLimited : "never limited",
            "LOGIN_FAILURES_MAX (10)",
            firstLimited === 10,
          ),
          check(
            "slowest login answer during the outage",
            round(Math.max(goodLogin.ms, ...wrongMs), 0),
            "≤ 2000 ms",
            Math.max(goodLogin.ms, ...wrongMs) <= 2000,
            "ms",
          ),
          check("processes exited", crashedDuring.length, "0", crashedDuring.length === 0),
          check(
            "seconds until every node is ready again",
            recovered ? readySeconds : "never",
            "≤ 10 s",
            recovered && readySeconds <= 10,
            "s",
          ),
          check(
            "seconds until the cache is written again",
            cacheBack ? cacheSeconds : "never",
            "≤ 15 s",
            cacheBack,
            "s",
          ),
          check("login after recovery", after.status, "200", after.status === 200),
        ],
        notes: [
          "Redis is shared with other users of this machine, so it is not stopped: a TCP proxy in front of it (used by CACHER and REDIS_URL of every node) is cut.",
          "While Redis is down each node limits logins with its own in-memory counts (rate-limiter-flexible's insurance limiter): limited per node, not cluster-wide.",
        ],
        details: { reads: reads1, wrongPasswordStatuses: wrong, warmKeys },
      };
    } finally {
      direct.disconnect();
    }
  },
};
