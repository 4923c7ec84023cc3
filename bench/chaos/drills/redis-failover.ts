import Redis from "ioredis";
import { RedisSentinelGroup } from "../../../test/support/clustered-servers";
import type { Cluster } from "../cluster";
import { check, type OwnClusterDrill } from "../drill";
import { call, idempotencyKey, registerLearners, starterQuiz, type Learner } from "../http";
import { runLoad, summarize } from "../load";
import { mapLimit, round, waitFor } from "../util";
import { onOwnCluster } from "../own-cluster";

const LOAD_MS = 20_000;
const KILL_AT_MS = 5_000;
const LEARNERS = 12;

/**
 * Reads the nodes send: a replica runs none for clients (ioredis asks for the primary), and
 * replication carries only writes, so once these grow on the promoted node the nodes are on it.
 */
const READ_COMMANDS = new Set([
  "get",
  "mget",
  "exists",
  "zrevrange",
  "zrevrank",
  "zscore",
  "zrange",
  "hget",
  "hmget",
]);

/** Reads a Redis server has run for its clients so far (0 while it cannot be asked). */
async function readCalls(redis: Redis): Promise<number> {
  try {
    let total = 0;
    for (const match of (await redis.info("commandstats")).matchAll(
      /^cmdstat_([^:]+):calls=(\d+)/gm,
    )) {
      if (READ_COMMANDS.has(match[1])) total += Number(match[2]);
    }
    return total;
  } catch {
    return 0;
  }
}

interface BoardRow {
  userId: string;
  xp: number;
}

/** The all-time board as PostgreSQL has it (the truth the Redis board is built from). */
async function truth(cluster: Cluster): Promise<BoardRow[]> {
  const rows = await cluster.sql<{ user_id: string; xp: string }>(
    `SELECT user_id, xp FROM progress.learners WHERE xp > 0 ORDER BY xp DESC, user_id DESC LIMIT 10`,
  );
  return rows.map(row => ({ userId: row.user_id, xp: Number(row.xp) }));
}

async function board(cluster: Cluster, learner: Learner): Promise<BoardRow[] | string> {
  const reply = await call(cluster.apiUrl, "GET", "/leaderboard?period=all&limit=10", {
    token: learner.accessToken,
  });
  if (reply.status !== 200) return `status ${reply.status}`;
  const body = reply.body as { top: Array<{ userId: string; xp: number }> };
  return body.top.map(entry => ({ userId: entry.userId, xp: entry.xp }));
}

/** Same learners with the same XP (ties may be listed in either order). */
function sameBoard(a: BoardRow[] | string, b: BoardRow[]): boolean {
  if (typeof a === "string" || a.length !== b.length) return false;
  const key = (rows: BoardRow[]) =>
    rows
      .map(row => `${row.userId}:${row.xp}`)
      .sort()
      .join(",");
  return key(a) === key(b) && a.every((row, i) => row.xp === b[i].xp);
}

/**
 * Drill 14: CACHER and REDIS_URL through three Sentinels of the drill's own (a primary and a
 * replica, redis-server processes); kill -9 the primary under leaderboard reads and logins.
 */
export const redisFailoverDrill: OwnClusterDrill = {
  id: 14,
  name: "kill -9 the Redis primary (Sentinel failover) under leaderboard and login traffic",
  ownCluster: true,
  async run(ctx) {
    const sentinel = new RedisSentinelGroup();
    return onOwnCluster(
      ctx,
      {
        tag: "drill-14",
        nodes: [
          { name: "api", services: ["api"] },
          { name: "users", services: ["users"] },
          { name: "content", services: ["content"] },
          { name: "progress", services: ["progress"] },
        ],
        servers: [sentinel],
        env: () => ({ CACHER: sentinel.url, REDIS_URL: sentinel.url }),
      },
      async cluster => {
        const prefix = `${cluster.namespace}:`;
        const learners = await registerLearners(
          cluster.apiUrl,
          `failover-${cluster.namespace}`,
          LEARNERS,
        );
        const quiz = starterQuiz();
        // A board with distinct scores: learner i submits i % 4 + 1 graded attempts.
        await mapLimit(learners, 4, async (learner, i) => {
          for (let n = 0; n <= i % 4; n++) {
            await call(cluster.apiUrl, "POST", `/lessons/${quiz.lessonId}/attempts`, {
              token: learner.accessToken,
              body: { answers: quiz.answers },
              headers: { "Idempotency-Key": idempotencyKey() },
            });
          }
        });
        const before = await board(cluster, learners[0]);
        const truthBefore = await truth(cluster);
        const [scored] = await cluster.sql<{ n: string }>(
          `SELECT count(*) AS n FROM progress.learners WHERE xp > 0`,
        );
        const learnersWithXp = Number(scored.n);
        // Replication is asynchronous: the replica has everything before the primary dies.
        const replicated = await sentinel.onPrimary(client => client.wait(1, 5000));
        const oldPrimary = await sentinel.primaryPort();
        const replicaPort = sentinel.data.find(node => node.port !== oldPrimary)?.port ?? 0;
        const replica = new Redis({
          host: "127.0.0.1",
          port: replicaPort,
          maxRetriesPerRequest: 0,
        });
        replica.on("error", () => undefined);
        try {
          const boardKey = `${prefix}progress:lb:all`;
          const entriesOnReplica = await replica.zcard(boardKey);
          ctx.log(
            `${learnersWithXp} learners on the board; kill -9 of the primary (:${oldPrimary}) at ${KILL_AT_MS / 1000} s of ${LOAD_MS / 1000} s of leaderboard reads and logins (8 connections)`,
          );
          let killedAt = 0;
          let promotedAt = 0;
          let followedAt = 0;
          let promoted = 0;
          const run = await runLoad({
            durationMs: LOAD_MS,
            concurrency: 8,
            send: i => {
              const learner = learners[i % learners.length];
              if (i % 4 === 0) {
                return call(cluster.apiUrl, "POST", "/auth/login", {
                  body: { email: learner.email, password: learner.password },
                  timeoutMs: 15_000,
                });
              }
              const period = i % 2 === 0 ? "weekly" : "all";
              return call(cluster.apiUrl, "GET", `/leaderboard?period=${period}`, {
                token: learner.accessToken,
                timeoutMs: 15_000,
              });
            },
            ok: reply => reply.status === 200,
            at: [
              {
                ms: KILL_AT_MS,
                run: async () => {
                  const baseline = await readCalls(replica);
                  killedAt = performance.now();
                  // Polls the promoted node until the cluster's own commands arrive there.
                  const followed = waitFor(
                    async () => (await readCalls(replica)) > baseline,
                    30_000,
                    100,
                  ).then(ok => {
                    if (ok) followedAt = performance.now();
                  });
                  ({ promoted } = await sentinel.killPrimary());
                  promotedAt = performance.now();
                  await followed;
                },
              },
            ],
          });
          const killMark = run.marks[0] ?? KILL_AT_MS;
          const load = summarize(run.samples);
          const failed = run.samples.filter(s => !s.ok);
          const lastFailure = failed.length ? Math.max(...failed.map(s => s.endMs)) : killMark;
          const untilNoFailures = round(Math.max(0, lastFailure - killMark) / 1000);
          const logins = summarize(run.samples.filter((_, i) => i % 4 === 0));
          const entriesAfterFailover = await replica.zcard(boardKey);

          // The cacher writes to the new primary: a fresh read leaves its key there.
          for (const key of await replica.keys(`${prefix}cache*`)) await replica.del(key);
          const cacheBack = await waitFor(
            async () => {
              await call(cluster.apiUrl, "GET", "/courses?level=A1");
              return (await replica.keys(`${prefix}cache*`)).length > 0;
            },
            15_000,
            250,
          );
          const after = await board(cluster, learners[0]);
          const truthAfter = await truth(cluster);
          // A board whose marker is gone is rebuilt from PostgreSQL on the next read (the
          // leaderboard answer may be cached for a moment: the cache goes too).
          const cached = await replica.keys(`${prefix}cache*`);
          await replica.del(boardKey, `${boardKey}:built`, ...cached);
          let rebuilt: BoardRow[] | string = [];
          await waitFor(
            async () => {
              rebuilt = await board(cluster, learners[0]);
              return (await replica.zcard(boardKey)) === learnersWithXp;
            },
            15_000,
            250,
          );
          const rebuiltEntries = await replica.zcard(boardKey);
          const boardIntact = sameBoard(before, truthBefore) && sameBoard(after, truthAfter);
          const seconds = (at: number) => (at ? round((at - killedAt) / 1000) : "never");
          return {
            checks: [
              check("requests", load.requests),
              check("failed requests", load.failed, "0", load.failed === 0),
              check(
                "seconds from the kill until none fail",
                untilNoFailures,
                undefined,
                undefined,
                "s",
              ),
              check(
                "seconds until Sentinel promoted the replica",
                seconds(promotedAt),
                undefined,
                undefined,
                "s",
              ),
              check(
                "seconds until the nodes' commands reach the new primary",
                seconds(followedAt),
                "≤ 10 s",
                followedAt > 0 && (followedAt - killedAt) / 1000 <= 10,
                "s",
              ),
              check("login p99", logins.p99, undefined, undefined, "ms"),
              check(
                "board entries on the replica before / on it as primary after",
                `${entriesOnReplica} / ${entriesAfterFailover}`,
                `${learnersWithXp} / ${learnersWithXp}`,
                entriesOnReplica === learnersWithXp && entriesAfterFailover === learnersWithXp,
              ),
              check(
                "leaderboard equals PostgreSQL before and after",
                boardIntact,
                "yes",
                boardIntact,
              ),
              check(
                "board deleted on the new primary: entries rebuilt from PostgreSQL by the next read",
                rebuiltEntries,
                String(learnersWithXp),
                rebuiltEntries === learnersWithXp && sameBoard(rebuilt, truthAfter),
              ),
              check("cache written on the new primary", cacheBack, "yes", cacheBack),
            ],
            notes: [
              "A Redis primary, a replica and three Sentinels (quorum 2, down-after 1 s) as redis-server processes on free loopback ports (test/support/clustered-servers.ts); CACHER and REDIS_URL are redis-sentinel:// URLs.",
              "Traffic: 3 in 4 requests GET /leaderboard (weekly or all), 1 in 4 POST /auth/login with the right password.",
              `"The nodes' commands reach the new primary": reads (GET, EXISTS, ZREVRANGE…) counted by INFO commandstats on the promoted node grow; a replica runs none, replication carries only writes. WAIT before the kill answered ${replicated} (the replica had every write).`,
            ],
            details: {
              load,
              logins,
              oldPrimary,
              replicaPort,
              promoted,
              before,
              truthBefore,
              after,
              rebuilt,
            },
          };
        } finally {
          replica.disconnect();
        }
      },
    );
  },
};
