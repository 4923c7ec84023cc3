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
const behaviour = { homeDelayMs: 0, unreadKnown: true, seenUsers: [] as string[], meCalls: 0 };

// The gateway asks progress once for every part but the profile (the real progress.home, internal).
const progressService = {
  name: "progress",
  actions: {
    home: {
      auth: true,
      internal: true,
      async handler(ctx: Context<unknown, Meta>) {
        behaviour.seenUsers.push(ctx.meta.user.id);
        if (behaviour.homeDelayMs)
          await new Promise(resolve => setTimeout(resolve, behaviour.homeDelayMs));
        return {
          progress: { xp: 120, owner: ctx.meta.user.id },
          courses: [{ course: { id: "c1" }, completion: 0.5 }],
          dueReviews: [{ cardId: "k1" }],
          leaderboard: { rank: 7, top: [{ rank: 1, userId: "u-1", name: "A", xp: 500 }] },
          // progress could not learn the count from notify: that part alone is degraded.
          notifications: behaviour.unreadKnown ? { unread: 3 } : null,
        };
      },
    },
  },
};

/** The users stand-in, counting the profile reads the gateway makes. */
function usersService(ring: { keys: SigningKey[]; jwksCalls: number }) {
  const users = fakeUsersService(ring);
  const me = users.actions?.me as { handler: (ctx: Context<unknown, Meta>) => unknown };
  return {
    ...users,
    actions: {
      ...users.actions,
      me: {
        auth: true,
        handler(ctx: Context<unknown, Meta>) {
          behaviour.meCalls += 1;
          return me.handler(ctx);
        },
      },
    },
  };
}

describe("GET /me/dashboard (real NATS)", () => {
  const namespace = uniqueName("apidash");
  const ring: { keys: SigningKey[]; jwksCalls: number } = { keys: [], jwksCalls: 0 };
  let gateway: TestNode;
  let usersNode: ServiceBroker;
  let progressNode: ServiceBroker;
  let token: string;

  beforeAll(async () => {
    await requireServers("nats", "redis");
    const key = await newSigningKey();
    ring.keys = [key];
    token = await signAccessToken(key, { sub: "u-dash", roles: ["learner"] });
    const env = natsEnv(namespace, { RATE_LIMIT_RPM: "100000" });
    usersNode = await startServiceNode(env, `${namespace}-users`, [usersService(ring)]);
    progressNode = await startServiceNode(env, `${namespace}-progress`, [progressService]);
    gateway = await startTestNode(["api"], { ...env, NODE_ID: `${namespace}-gw` });
    await gateway.broker.waitForServices(["users", "progress"], 10_000);
  });

  afterAll(async () => {
    await gateway?.stop();
    for (const node of [usersNode, progressNode]) await node?.stop();
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

  it("when the profile was read once, then the gateway's copy answers it until users broadcasts a change", async () => {
    await gateway.broker.broadcastLocal("cache.clean.users", {});
    behaviour.meCalls = 0;
    await http(`${gateway.apiUrl}/me/dashboard`, { token });
    const again = await http(`${gateway.apiUrl}/me/dashboard`, { token });
    expect(again.body).toMatchObject({ user: { id: "u-dash", name: "Test User" }, degraded: [] });
    expect(behaviour.meCalls).toBe(1);
    usersNode.broadcast("cache.clean.users", {});
    const deadline = Date.now() + 5000;
    while (behaviour.meCalls < 2) {
      if (Date.now() > deadline) throw new Error("the profile copy was not cleared");
      await http(`${gateway.apiUrl}/me/dashboard`, { token });
      await new Promise(resolve => setTimeout(resolve, 50));
    }
    expect(behaviour.meCalls).toBe(2);
  });

  it("when progress answers without the unread count, then notifications alone is null and degraded", async () => {
    behaviour.unreadKnown = false;
    try {
      const res = await http(`${gateway.apiUrl}/me/dashboard`, { token });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        notifications: null,
        degraded: ["notifications"],
        progress: { xp: 120, owner: "u-dash" },
        leaderboard: { rank: 7 },
      });
    } finally {
      behaviour.unreadKnown = true;
    }
  });

  it("when progress is slower than 300 ms, then its parts are null and degraded, and the answer comes within the deadline", async () => {
    behaviour.homeDelayMs = 1500;
    try {
      const started = Date.now();
      const res = await http(`${gateway.apiUrl}/me/dashboard`, { token });
      const elapsed = Date.now() - started;
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        user: { id: "u-dash", roles: ["learner"], name: "Test User" },
        progress: null,
        courses: null,
        dueReviews: null,
        leaderboard: null,
        notifications: null,
        degraded: ["progress", "courses", "dueReviews", "leaderboard", "notifications"],
      });
      // The slow part takes 1.5 s: answering sooner shows the deadline cut it off (margin for a loaded machine).
      expect(elapsed).toBeLessThan(1400);
    } finally {
      behaviour.homeDelayMs = 0;
    }
  });

  it("when the users service is stopped and its profile not held, then user is null and degraded, the rest is there, still 200", async () => {
    await usersNode.stop();
    // The gateway drops the node from its registry when the node says goodbye.
    const deadline = Date.now() + 5000;
    while (
      gateway.broker.registry.getServiceList({ onlyAvailable: true }).some(s => s.name === "users")
    ) {
      if (Date.now() > deadline) throw new Error("users still registered");
      await new Promise(resolve => setTimeout(resolve, 50));
    }
    // The copy goes as it does after a change of an account.
    await gateway.broker.broadcastLocal("cache.clean.users", {});
    const started = Date.now();
    const res = await http(`${gateway.apiUrl}/me/dashboard`, { token });
    expect(Date.now() - started).toBeLessThan(700);
    expect(res.status).toBe(200);
    const body = res.body as Record<string, unknown>;
    expect(body.user).toBeNull();
    expect(body.degraded).toEqual(["user"]);
    expect(body.progress).toEqual({ xp: 120, owner: "u-dash" });
    expect(body.notifications).toEqual({ unread: 3 });
  });

  it("when no token is sent, then 401 (the dashboard is a user route)", async () => {
    const res = await http(`${gateway.apiUrl}/me/dashboard`);
    expect(res.status).toBe(401);
  });
});
