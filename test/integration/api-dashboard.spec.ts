import type { Context, ServiceBroker } from "moleculer";
import { startTestNode, type TestNode } from "../support/cluster";
import { requireServers } from "../support/servers";
import { uniqueName } from "../support/isolation";
import type { AuthUser } from "../../models/auth.model";
import {
  fakeUsersService,
  http,
  natsEnv,
  newSigningKey,
  signAccessToken,
  startServiceNode,
  type SigningKey,
} from "./api-kit";

jest.mock("../../services/api/routes/identity.routes", () => ({
  identityRoutes: jest.requireActual("./api-fixture-routes").fixtureRoutes,
}));
jest.mock("../../services/api/routes/content.routes", () => ({ contentRoutes: [] }));
jest.mock("../../services/api/routes/learning.routes", () => ({ learningRoutes: [] }));
jest.mock("../../services/api/routes/notifications.routes", () => ({ notificationsRoutes: [] }));

type Meta = { user: AuthUser };
const behaviour = { boardDelayMs: 0, seenUsers: [] as string[] };

const progressService = {
  name: "progress",
  actions: {
    mine: {
      auth: true,
      handler: (ctx: Context<unknown, Meta>) => ({ xp: 120, owner: ctx.meta.user.id }),
    },
    courses: { auth: true, handler: () => [{ course: { id: "c1" }, completion: 0.5 }] },
    due: { auth: true, handler: () => [{ cardId: "k1" }] },
    board: {
      auth: true,
      params: {
        period: { type: "enum", values: ["weekly", "all"] },
        limit: "number|convert|max:100",
      },
      async handler(ctx: Context<unknown, Meta>) {
        behaviour.seenUsers.push(ctx.meta.user.id);
        if (behaviour.boardDelayMs)
          await new Promise(resolve => setTimeout(resolve, behaviour.boardDelayMs));
        return {
          period: "weekly",
          top: [{ rank: 1, userId: "u-1", name: "A", xp: 500 }],
          me: { rank: 7, xp: 120 },
        };
      },
    },
  },
};

const notifyService = {
  name: "notify",
  actions: {
    mine: { auth: true, handler: () => ({ rows: [], unread: 3 }) },
    // The dashboard asks only for the count (the real notify.unreadCount, internal).
    unreadCount: { auth: true, internal: true, handler: () => ({ unread: 3 }) },
  },
};

describe("GET /me/dashboard (real NATS)", () => {
  const namespace = uniqueName("apidash");
  const ring: { keys: SigningKey[]; jwksCalls: number } = { keys: [], jwksCalls: 0 };
  let gateway: TestNode;
  let usersNode: ServiceBroker;
  let progressNode: ServiceBroker;
  let notifyNode: ServiceBroker;
  let token: string;

  beforeAll(async () => {
    await requireServers("nats", "redis");
    const key = await newSigningKey();
    ring.keys = [key];
    token = await signAccessToken(key, { sub: "u-dash", roles: ["learner"] });
    const env = natsEnv(namespace, { RATE_LIMIT_RPM: "100000" });
    usersNode = await startServiceNode(env, `${namespace}-users`, [fakeUsersService(ring)]);
    progressNode = await startServiceNode(env, `${namespace}-progress`, [progressService]);
    notifyNode = await startServiceNode(env, `${namespace}-notify`, [notifyService]);
    gateway = await startTestNode(["api"], { ...env, NODE_ID: `${namespace}-gw` });
    await gateway.broker.waitForServices(["users", "progress", "notify"], 10_000);
  });

  afterAll(async () => {
    await gateway?.stop();
    for (const node of [usersNode, progressNode, notifyNode]) await node?.stop();
  });

  it("when every service answers, then one 200 holds every part and nothing is degraded", async () => {
    const res = await http(`${gateway.apiUrl}/me/dashboard`, { token });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      user: { id: "u-dash", roles: ["learner"], name: "Test User" },
      progress: { xp: 120, owner: "u-dash" },
      courses: [{ course: { id: "c1" }, completion: 0.5 }],
      dueReviews: [{ cardId: "k1" }],
      leaderboard: { rank: 7, top: [{ rank: 1, userId: "u-1", name: "A", xp: 500 }] },
      notifications: { unread: 3 },
      degraded: [],
    });
    expect(behaviour.seenUsers).toContain("u-dash");
  });

  it("when a part is slower than 300 ms, then it is null and degraded, and the answer comes within the deadline", async () => {
    behaviour.boardDelayMs = 1500;
    try {
      const started = Date.now();
      const res = await http(`${gateway.apiUrl}/me/dashboard`, { token });
      const elapsed = Date.now() - started;
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        leaderboard: null,
        degraded: ["leaderboard"],
        notifications: { unread: 3 },
      });
      // The slow part takes 1.5 s: answering sooner shows the deadline cut it off (margin for a loaded machine).
      expect(elapsed).toBeLessThan(1400);
    } finally {
      behaviour.boardDelayMs = 0;
    }
  });

  it("when the notify service is stopped, then notifications is null and degraded, the rest is there, still 200", async () => {
    await notifyNode.stop();
    // The gateway drops the node from its registry when the node says goodbye.
    const deadline = Date.now() + 5000;
    while (
      gateway.broker.registry.getServiceList({ onlyAvailable: true }).some(s => s.name === "notify")
    ) {
      if (Date.now() > deadline) throw new Error("notify still registered");
      await new Promise(resolve => setTimeout(resolve, 50));
    }
    const started = Date.now();
    const res = await http(`${gateway.apiUrl}/me/dashboard`, { token });
    expect(Date.now() - started).toBeLessThan(700);
    expect(res.status).toBe(200);
    const body = res.body as Record<string, unknown>;
    expect(body.notifications).toBeNull();
    expect(body.degraded).toEqual(["notifications"]);
    expect(body.progress).toEqual({ xp: 120, owner: "u-dash" });
    expect(body.user).toMatchObject({ id: "u-dash" });
  });

  it("when no token is sent, then 401 (the dashboard is a user route)", async () => {
    const res = await http(`${gateway.apiUrl}/me/dashboard`);
    expect(res.status).toBe(401);
  });
});
