import crypto from "node:crypto";
import { startTestNode, type TestNode } from "../support/cluster";
import {
  clusterEnv,
  createTestDatabase,
  uniqueName,
  type TestDatabase,
} from "../support/isolation";
import {
  api,
  newEmail,
  outboxEvents,
  PASSWORD,
  sql,
  waitFor,
  type AuthBody,
} from "./users.support";

/**
 * Following friends (api.md "Social") and the profile fields other services read: through the
 * real gateway, users and progress services on NATS, Redis, RabbitMQ and PostgreSQL.
 */

jest.setTimeout(60_000);

const ns = uniqueName("usoc");
let db: TestDatabase;
let node: TestNode;
let http: ReturnType<typeof api>;

interface Person {
  id: string;
  token: string;
  name: string;
}

async function person(
  name: string,
  profileVisibility: "public" | "followers" | "private",
): Promise<Person> {
  const res = await http.post<AuthBody>("/auth/register", {
    email: newEmail("social"),
    password: PASSWORD,
    name,
  });
  expect(res.status).toBe(201);
  const patched = await http.call("PATCH", "/me", {
    token: res.body.accessToken,
    body: { profileVisibility },
  });
  expect(patched.status).toBe(200);
  return { id: res.body.user.id, token: res.body.accessToken, name };
}

const put = (path: string, token: string) => http.call("PUT", path, { token });
const del = (path: string, token: string) => http.call("DELETE", path, { token });
const ids = (body: unknown) => (body as Array<{ id: string }>).map(p => p.id).sort();

beforeAll(async () => {
  db = await createTestDatabase("lm_usoc");
  node = await startTestNode(["api", "users", "progress"], {
    ...clusterEnv(ns, db.url),
    RATE_LIMIT_RPM: "1000000",
  });
  http = api(node.apiUrl as string);
}, 60_000);

afterAll(async () => {
  await node?.stop();
  await db?.drop();
});

describe("the profile fields of PATCH /me", () => {
  test("when visibility, locale, new cards a day and quiet hours are set, then /me shows them and user.updated carries them", async () => {
    const me = await person("Pat Fields", "public");
    const res = await http.call("PATCH", "/me", {
      token: me.token,
      body: {
        profileVisibility: "private",
        locale: "pt-BR",
        newCardsPerDay: 15,
        quietHours: { start: "22:00", end: "07:30" },
      },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      profileVisibility: "private",
      locale: "pt-BR",
      newCardsPerDay: 15,
      quietHours: { start: "22:00", end: "07:30" },
    });
    expect((await http.get("/me", me.token)).body).toMatchObject({ locale: "pt-BR" });
    const events = await outboxEvents(db.url, "user.updated", me.id);
    expect(events.at(-1)?.data).toMatchObject({
      userId: me.id,
      name: "Pat Fields",
      timezone: "UTC",
      locale: "pt-BR",
      profileVisibility: "private",
      newCardsPerDay: 15,
      quietHours: { start: "22:00", end: "07:30" },
    });
    const off = await http.call("PATCH", "/me", { token: me.token, body: { quietHours: null } });
    expect(off.body.quietHours).toBeNull();
    expect((await outboxEvents(db.url, "user.updated", me.id)).at(-1)?.data.quietHours).toBeNull();
  });

  test.each([
    [{ profileVisibility: "friends" }, "profileVisibility"],
    [{ quietHours: { start: "25:00", end: "07:00" } }, "quietHours.start"],
    [{ quietHours: { start: "22:00", end: "07:00", days: 5 } }, "quietHours"],
    [{ newCardsPerDay: -1 }, "newCardsPerDay"],
    [{ locale: "not a language" }, "locale"],
  ])("when PATCH /me gets %j, then 422 names %s and nothing changes", async (body, field) => {
    const me = await person("Val Idation", "public");
    const res = await http.call("PATCH", "/me", { token: me.token, body });
    expect(res.status).toBe(422);
    expect(JSON.stringify(res.body.data)).toContain(field);
    expect((await http.get("/me", me.token)).body).toMatchObject({
      profileVisibility: "public",
      newCardsPerDay: 20,
      quietHours: null,
      locale: null,
    });
  });
});

describe("finding, following and seeing people", () => {
  const tag = crypto.randomBytes(4).toString("hex");
  let open: Person;
  let friendsOnly: Person;
  let hidden: Person;
  let viewer: Person;

  beforeAll(async () => {
    open = await person(`Open ${tag}`, "public");
    friendsOnly = await person(`Friends ${tag}`, "followers");
    hidden = await person(`Hidden ${tag}`, "private");
    viewer = await person(`Viewer ${tag}`, "public");
  });

  test("when someone searches by name, then profiles that are not private come back, never their own", async () => {
    const res = await http.get(`/users/search?q=${tag}`, viewer.token);
    expect(res.status).toBe(200);
    expect(ids(res.body)).toEqual([open.id, friendsOnly.id].sort());
    expect(res.body).toContainEqual({ id: open.id, name: open.name, avatarUrl: null });
    expect(JSON.stringify(res.body)).not.toMatch(/email/);
  });

  test("when profiles are opened, then a public one shows XP, streak and achievements; a followers-only one only to followers; a private one to nobody", async () => {
    const page = await http.get(`/users/${open.id}/profile`, viewer.token);
    expect(page.status).toBe(200);
    expect(page.body).toEqual({
      id: open.id,
      name: open.name,
      avatarUrl: null,
      xp: 0,
      streak: 0,
      achievements: [],
    });
    expect((await http.get(`/users/${friendsOnly.id}/profile`, viewer.token)).status).toBe(404);
    expect((await put(`/me/following/${friendsOnly.id}`, viewer.token)).status).toBe(204);
    expect((await http.get(`/users/${friendsOnly.id}/profile`, viewer.token)).status).toBe(200);
    expect((await http.get(`/users/${hidden.id}/profile`, viewer.token)).status).toBe(404);
    expect((await put(`/me/following/${hidden.id}`, viewer.token)).status).toBe(404);
    expect((await http.get(`/users/${hidden.id}/profile`, hidden.token)).status).toBe(200);
  });

  test("when someone follows and unfollows, then both lists show it, and following is idempotent", async () => {
    expect((await put(`/me/following/${open.id}`, viewer.token)).status).toBe(204);
    expect((await put(`/me/following/${open.id}`, viewer.token)).status).toBe(204);
    expect(ids((await http.get("/me/following", viewer.token)).body)).toEqual(
      [open.id, friendsOnly.id].sort(),
    );
    expect((await http.get("/me/followers", open.token)).body).toEqual([
      { id: viewer.id, name: viewer.name, avatarUrl: null },
    ]);
    expect((await del(`/me/following/${open.id}`, viewer.token)).status).toBe(204);
    expect(ids((await http.get("/me/followers", open.token)).body)).toEqual([]);
    const self = await put(`/me/following/${viewer.id}`, viewer.token);
    expect(self.status).toBe(422);
    const unknown = await put(`/me/following/${crypto.randomUUID()}`, viewer.token);
    expect(unknown.status).toBe(404);
  });

  test("when someone is blocked, then they cannot follow, find or see the blocker, their follow ends, and unblocking lets them again", async () => {
    const blocker = await person(`Blocker ${tag}`, "public");
    const pest = await person(`Pest ${tag}`, "public");
    expect((await put(`/me/following/${blocker.id}`, pest.token)).status).toBe(204);
    expect((await put(`/me/blocked/${pest.id}`, blocker.token)).status).toBe(204);

    expect(ids((await http.get("/me/followers", blocker.token)).body)).toEqual([]);
    expect((await put(`/me/following/${blocker.id}`, pest.token)).status).toBe(404);
    expect(ids((await http.get(`/users/search?q=Blocker ${tag}`, pest.token)).body)).toEqual([]);
    expect((await http.get(`/users/${blocker.id}/profile`, pest.token)).status).toBe(404);
    expect(ids((await http.get(`/users/search?q=Pest ${tag}`, blocker.token)).body)).toEqual([]);
    expect((await http.get("/me/blocked", blocker.token)).body).toEqual([
      { id: pest.id, name: pest.name, avatarUrl: null },
    ]);

    expect((await del(`/me/blocked/${pest.id}`, blocker.token)).status).toBe(204);
    expect((await put(`/me/following/${blocker.id}`, pest.token)).status).toBe(204);
    expect((await http.get(`/users/${blocker.id}/profile`, pest.token)).status).toBe(200);
  });
});

describe("the leaderboard of the people one follows", () => {
  /** Progress holds the learner once user.created reached it; the XP is set here, the ranking is the service's. */
  async function withXp(who: Person, xp: number): Promise<void> {
    await waitFor(async () => {
      const rows = await sql(db.url, "SELECT 1 FROM progress.learners WHERE user_id = $1", [
        who.id,
      ]);
      return rows.length === 1;
    }, 15_000);
    await sql(db.url, "UPDATE progress.learners SET xp = $2 WHERE user_id = $1", [who.id, xp]);
  }

  test("when scope=following is asked for, then the caller and the people they follow are ranked among themselves, nobody else", async () => {
    const me = await person("Board Me", "public");
    const friend = await person("Board Friend", "public");
    const rival = await person("Board Rival", "public");
    const stranger = await person("Board Stranger", "public");
    await withXp(me, 50);
    await withXp(friend, 120);
    await withXp(rival, 30);
    await withXp(stranger, 999);
    for (const followed of [friend, rival]) {
      expect((await put(`/me/following/${followed.id}`, me.token)).status).toBe(204);
    }
    const res = await http.get<{
      top: Array<{ rank: number; userId: string; name: string; xp: number }>;
      me: { rank: number | null; xp: number };
    }>("/leaderboard?scope=following&period=all", me.token);
    expect(res.status).toBe(200);
    expect(res.body.top).toEqual([
      { rank: 1, userId: friend.id, name: "Board Friend", xp: 120 },
      { rank: 2, userId: me.id, name: "Board Me", xp: 50 },
      { rank: 3, userId: rival.id, name: "Board Rival", xp: 30 },
    ]);
    expect(res.body.me).toEqual({ rank: 2, xp: 50 });
    const bad = await http.get("/leaderboard?scope=friends", me.token);
    expect(bad.status).toBe(422);
  });
});
