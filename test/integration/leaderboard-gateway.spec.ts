import Redis from "ioredis";
import { TOP_MAX_AGE_MS } from "../../lib/leaderboard-read-model";
import type { LeaderboardView } from "../../models/progress.model";
import { GatewayLeaderboards } from "../../services/api/leaderboard-reads";
import { SERVERS } from "../support/servers";
import { startLearningCluster, type Json, type LearningCluster } from "./learning-kit";

/**
 * `GET /leaderboard` answered by the gateway from the boards' read model in Redis, on the real
 * services (gateway, users and content on one node; progress and notify on the other): the
 * same answer as progress's own action for the same caller, without the call to progress;
 * what the read model cannot answer still goes to progress.
 */

let c: LearningCluster;
let lessonIds: string[];
let redis: Redis;
let prefix: string;
const learners: Record<string, { id: string; token: string }> = {};

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

/** progress.leaderboard's own answer for this learner, as the gateway's call would get it. */
function fromProgress(learner: { id: string }, params: Json): Promise<LeaderboardView> {
  return c.broker.call("progress.leaderboard", params, {
    meta: { user: { id: learner.id, roles: ["learner"] } },
  });
}

/** How many calls of progress.leaderboard the gateway node made while `run` ran. */
async function progressCallsDuring(run: () => Promise<unknown>): Promise<number> {
  const spy = jest.spyOn(c.broker, "call");
  try {
    await run();
    // moleculer-web calls with the endpoint it resolved, other callers with the action's name.
    const nameOf = (target: unknown) =>
      typeof target === "string"
        ? target
        : (target as { action?: { name?: string } })?.action?.name;
    return spy.mock.calls.filter(([target]) => nameOf(target) === "progress.leaderboard").length;
  } finally {
    spy.mockRestore();
  }
}

async function board(learner: { token: string }, query: string): Promise<LeaderboardView> {
  const res = await c.call("GET", `/leaderboard${query}`, { token: learner.token });
  expect(res.status).toBe(200);
  expect(res.headers.get("cache-control")).toBe("no-store");
  return res.body as unknown as LeaderboardView;
}

async function complete(learner: { token: string }, lessons: string[]): Promise<void> {
  for (const id of lessons) await c.ok("POST", `/lessons/${id}/complete`, 201, learner);
}

beforeAll(async () => {
  c = await startLearningCluster("lbgw", "https://learn.example.test");
  const as = { token: c.adminToken };
  const courseId = (
    await c.ok("POST", "/courses", 201, {
      ...as,
      json: {
        title: "Board games",
        description: "Talk about games.",
        level: "A2",
        topics: ["Leisure"],
        language: "en",
      },
    })
  ).id as string;
  lessonIds = [];
  for (const order of [1, 2, 3, 4]) {
    const lesson = await c.ok("POST", `/courses/${courseId}/lessons`, 201, {
      ...as,
      json: { title: `Part ${order}`, kind: "lesson", order, body: "Read me." },
    });
    lessonIds.push(lesson.id as string);
  }
  await c.ok("POST", `/courses/${courseId}/publish`, 200, as);
  for (const [name, done] of [
    ["Ada", 3],
    ["Ben", 2],
    ["Cy", 1],
    ["Dee", 0],
  ] as const) {
    const learner = await c.register(name);
    learners[name] = learner;
    await c.ok("POST", `/courses/${courseId}/enroll`, 201, learner);
    await complete(learner, lessonIds.slice(0, done));
  }
  const config = c.broker.getLocalService("api") as unknown as { boards?: GatewayLeaderboards };
  expect(config.boards).toBeInstanceOf(GatewayLeaderboards);
  redis = new Redis(SERVERS.redis.url);
  prefix = `${c.broker.namespace}:`;
}, 120_000);

afterAll(async () => {
  redis?.disconnect();
  await c?.stop();
});

describe("GET /leaderboard from the read model", () => {
  it("when learners read each period, then the gateway answers as progress does, without calling it", async () => {
    const cases: Array<[string, Json]> = [
      ["?period=weekly", { period: "weekly" }],
      ["", {}],
      ["?period=all", { period: "all" }],
      ["?period=all&limit=2", { period: "all", limit: "2" }],
      ["?period=weekly&limit=100&scope=everyone", { period: "weekly", limit: 100 }],
      // The gateway lowers a larger size to 100 first (services/api/edge.ts), as before.
      ["?period=all&limit=500", { period: "all", limit: 100 }],
    ];
    // Nobody has read the boards yet: progress builds each on its first read (its `:built` marker).
    for (const query of ["?period=weekly", "?period=all"])
      expect(await progressCallsDuring(() => board(learners.Ada, query))).toBe(1);
    for (const name of ["Ada", "Cy", "Dee"]) {
      for (const [query, params] of cases) {
        let answer: LeaderboardView | undefined;
        const calls = await progressCallsDuring(async () => {
          answer = await board(learners[name], query);
        });
        expect(calls).toBe(0);
        expect(answer).toEqual(await fromProgress(learners[name], params));
      }
    }
    const ada = await board(learners.Ada, "?period=weekly");
    expect(ada.top.map(e => [e.rank, e.name, e.xp])).toEqual([
      [1, "Ada", 60],
      [2, "Ben", 40],
      [3, "Cy", 20],
    ]);
    expect(ada.me).toEqual({ rank: 1, xp: 60 });
    expect((await board(learners.Dee, "?period=all")).me).toEqual({ rank: null, xp: 0 });
  });

  it("when a score changes, then the caller's rank is live at once and the top follows within the interval", async () => {
    const before = await board(learners.Ada, "?period=weekly");
    await complete(learners.Cy, lessonIds.slice(1, 4));
    const soon = await board(learners.Cy, "?period=weekly");
    expect(soon.me).toEqual({ rank: 1, xp: 80 });
    expect(soon.me).toEqual((await fromProgress(learners.Cy, { period: "weekly" })).me);
    // The shared top is at most TOP_MAX_AGE_MS old: the old order, or already the new one.
    const fresh = await fromProgress(learners.Cy, { period: "weekly" });
    expect([before.top, fresh.top]).toContainEqual(soon.top);
    await sleep(TOP_MAX_AGE_MS + 100);
    const later = await board(learners.Cy, "?period=weekly");
    expect(later).toEqual(await fromProgress(learners.Cy, { period: "weekly" }));
    expect(later.top[0]).toMatchObject({ rank: 1, name: "Cy", xp: 80 });
  });

  it("when the scope, a param or a value is not the read model's, then progress answers", async () => {
    const ada = learners.Ada;
    let following: LeaderboardView | undefined;
    expect(
      await progressCallsDuring(async () => {
        following = await board(ada, "?scope=following");
      }),
    ).toBe(1);
    expect(following).toEqual(await fromProgress(ada, { scope: "following" }));
    expect(await progressCallsDuring(() => board(ada, "?period=all&limit=02"))).toBe(1);
    for (const query of ["?period=yearly", "?limit=0", "?period=all&limit=x"]) {
      let status = 0;
      expect(
        await progressCallsDuring(async () => {
          status = (await c.call("GET", `/leaderboard${query}`, { token: ada.token })).status;
        }),
      ).toBe(1);
      expect(status).toBe(422);
    }
    expect((await c.call("GET", "/leaderboard")).status).toBe(401);
  });

  it("when the board or its names are gone from Redis, then progress answers and rebuilds them, and the gateway answers again", async () => {
    const ben = learners.Ben;
    const expected = await fromProgress(ben, { period: "all" });
    await redis.del(`${prefix}progress:lb:all:built`, `${prefix}progress:lb:all`);
    await sleep(TOP_MAX_AGE_MS + 100);
    let rebuilt: LeaderboardView | undefined;
    expect(
      await progressCallsDuring(async () => {
        rebuilt = await board(ben, "?period=all");
      }),
    ).toBe(1);
    expect(rebuilt).toEqual(expected);
    expect(await redis.exists(`${prefix}progress:lb:all:built`)).toBe(1);

    await redis.del(`${prefix}progress:lb:names`);
    await sleep(TOP_MAX_AGE_MS + 100);
    let named: LeaderboardView | undefined;
    expect(
      await progressCallsDuring(async () => {
        named = await board(ben, "?period=all");
      }),
    ).toBe(1);
    expect(named).toEqual(expected);
    await sleep(TOP_MAX_AGE_MS + 100);
    expect(await progressCallsDuring(() => board(ben, "?period=all"))).toBe(0);
  });

  it("when callers ask in the same turn, then their ranks are read live in one pipeline, each their own", async () => {
    const at = Date.now();
    const live = new GatewayLeaderboards(redis, prefix, () => at);
    const asks = (["Ada", "Ben", "Cy", "Dee"] as const).flatMap(name =>
      (["weekly", "all"] as const).map(period => ({ name, period })),
    );
    // Both boards built (progress builds a board on its first read) and their tops read (then
    // shared) first: what is counted is the ranks.
    for (const period of ["weekly", "all"]) {
      await board(learners.Ada, `?period=${period}`);
      await live.answer("progress.leaderboard", { period }, learners.Ada.id);
    }
    const pipelines = jest.spyOn(redis, "pipeline");
    let answers: Array<LeaderboardView | undefined> = [];
    try {
      answers = await Promise.all(
        asks.map(({ name, period }) =>
          live.answer("progress.leaderboard", { period }, learners[name].id),
        ),
      );
      expect(pipelines).toHaveBeenCalledTimes(1);
    } finally {
      pipelines.mockRestore();
    }
    for (const [i, { name, period }] of asks.entries()) {
      expect(answers[i]?.me).toEqual((await fromProgress(learners[name], { period })).me);
    }
    // Dee has no XP: she alone is off both boards.
    expect(answers.map(answer => answer?.me.rank === null)).toEqual([
      ...Array<boolean>(6).fill(false),
      true,
      true,
    ]);
  });

  it("when Redis cannot be reached, then the gateway's read model leaves the answer to progress", async () => {
    const unreachable = new Redis({
      port: 1,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => null,
    });
    unreachable.on("error", () => undefined);
    try {
      const boards = new GatewayLeaderboards(unreachable, prefix);
      await expect(
        boards.answer("progress.leaderboard", { period: "weekly" }, learners.Ada.id),
      ).resolves.toBeUndefined();
      const live = new GatewayLeaderboards(redis, prefix);
      await expect(
        live.answer("progress.leaderboard", { period: "weekly" }, learners.Ada.id),
      ).resolves.toEqual(await fromProgress(learners.Ada, { period: "weekly" }));
      await expect(
        live.answer("progress.myProgress", { period: "weekly" }, learners.Ada.id),
      ).resolves.toBeUndefined();
    } finally {
      unreachable.disconnect();
    }
  });
});
