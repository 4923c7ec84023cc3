import { startTestNode, type TestNode } from "../support/cluster";
import {
  clusterEnv,
  createTestDatabase,
  uniqueName,
  type TestDatabase,
} from "../support/isolation";
import { api, newEmail, outboxEvents, PASSWORD, type AuthBody } from "./users.support";

/**
 * Administration (api.md "Identity, continued"): an account's standing, suspension with its
 * tokens dead at once, the last active admin kept, erasure — through the real gateway and
 * users service on NATS, Redis, RabbitMQ and PostgreSQL.
 */

jest.setTimeout(60_000);

const ADMIN_EMAIL = "chief.admin@example.com";
const ADMIN_PASSWORD = "admin bootstrap passphrase 42";
const ns = uniqueName("uadm");
let db: TestDatabase;
let node: TestNode;
let http: ReturnType<typeof api>;
let adminToken: string;
let adminId: string;

async function register(tag = "member"): Promise<AuthBody> {
  const res = await http.post<AuthBody>("/auth/register", {
    email: newEmail(tag),
    password: PASSWORD,
    name: `Name ${tag}`,
  });
  expect(res.status).toBe(201);
  return res.body;
}

const asAdmin = (method: string, path: string, body?: unknown) =>
  http.call(method, path, { token: adminToken, body });

beforeAll(async () => {
  db = await createTestDatabase("lm_uadm");
  node = await startTestNode(["api", "users"], {
    ...clusterEnv(ns, db.url),
    RATE_LIMIT_RPM: "1000000",
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
  });
  http = api(node.apiUrl as string);
  const login = await http.post<AuthBody>("/auth/login", {
    email: ADMIN_EMAIL,
    password: ADMIN_PASSWORD,
  });
  adminToken = login.body.accessToken;
  adminId = login.body.user.id;
});

afterAll(async () => {
  await node?.stop();
  await db?.drop();
});

describe("an account's standing", () => {
  test("when an admin reads a user, then the profile with status; a learner gets 403, an unknown id 404", async () => {
    const member = await register();
    const res = await asAdmin("GET", `/users/${member.user.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: member.user.id,
      email: member.user.email,
      status: "active",
      suspendedReason: null,
    });
    expect(JSON.stringify(res.body)).not.toMatch(/passwordHash|argon2|mfaSecret/);
    const learner = await http.call("GET", `/users/${member.user.id}`, {
      token: member.accessToken,
    });
    expect(learner.status).toBe(403);
    const unknown = await asAdmin("GET", "/users/0193aaaa-0000-7000-8000-000000000000");
    expect(unknown.status).toBe(404);
  });
});

describe("suspension", () => {
  test("when a user is suspended, then their access and refresh tokens stop at once and login answers 403 until unsuspended", async () => {
    const member = await register("suspended");
    expect((await http.get("/me", member.accessToken)).status).toBe(200);
    const suspended = await asAdmin("POST", `/users/${member.user.id}/suspend`, {
      reason: "spam",
    });
    expect(suspended.status).toBe(200);
    expect(suspended.body).toMatchObject({ status: "suspended", suspendedReason: "spam" });

    expect((await http.get("/me", member.accessToken)).status).toBe(401);
    const refresh = await http.post("/auth/refresh", { refreshToken: member.refreshToken });
    expect(refresh.status).toBe(401);
    const login = await http.post("/auth/login", { email: member.user.email, password: PASSWORD });
    expect(login.status).toBe(403);
    expect(login.body.type).toBe("ACCOUNT_SUSPENDED");
    // A wrong password still answers like any wrong password: suspension tells a stranger nothing.
    const wrong = await http.post("/auth/login", {
      email: member.user.email,
      password: "not the password at all",
    });
    expect(wrong.status).toBe(401);

    const lifted = await asAdmin("POST", `/users/${member.user.id}/unsuspend`, {});
    expect(lifted.status).toBe(200);
    expect(lifted.body).toMatchObject({ status: "active", suspendedReason: null });
    const again = await http.post<AuthBody>("/auth/login", {
      email: member.user.email,
      password: PASSWORD,
    });
    expect(again.status).toBe(200);
    expect((await http.get("/me", again.body.accessToken)).status).toBe(200);
    // Tokens from before the suspension stay dead.
    expect((await http.get("/me", member.accessToken)).status).toBe(401);
  });

  test("when the suspension has no reason, or names an unknown user, then 422 and 404", async () => {
    const member = await register();
    expect((await asAdmin("POST", `/users/${member.user.id}/suspend`, {})).status).toBe(422);
    const unknown = await asAdmin("POST", "/users/0193aaaa-0000-7000-8000-000000000000/suspend", {
      reason: "x",
    });
    expect(unknown.status).toBe(404);
  });
});

describe("the last admin", () => {
  test("when the only active admin would be suspended or erased, then 409 LAST_ADMIN; with another active admin it may be", async () => {
    const self = await asAdmin("POST", `/users/${adminId}/suspend`, { reason: "oops" });
    expect(self.status).toBe(409);
    expect(self.body.type).toBe("LAST_ADMIN");
    expect((await asAdmin("DELETE", `/users/${adminId}`)).status).toBe(409);

    const deputy = await register("deputy");
    await asAdmin("PUT", `/users/${deputy.user.id}/roles`, { roles: ["learner", "admin"] });
    // A suspended admin administers nothing: the first admin is still the last active one.
    expect(
      (await asAdmin("POST", `/users/${deputy.user.id}/suspend`, { reason: "away" })).status,
    ).toBe(200);
    expect((await asAdmin("DELETE", `/users/${adminId}`)).status).toBe(409);
    await asAdmin("POST", `/users/${deputy.user.id}/unsuspend`, {});
    const erased = await asAdmin("DELETE", `/users/${deputy.user.id}`);
    expect(erased.status).toBe(202);
  });
});

describe("erasure by an admin", () => {
  test("when an admin erases a user, then 202, user.deleted goes out, the tokens die, and the email can register again", async () => {
    const member = await register("erased");
    const res = await asAdmin("DELETE", `/users/${member.user.id}`);
    expect(res.status).toBe(202);
    expect((await http.get("/me", member.accessToken)).status).toBe(401);
    expect((await asAdmin("GET", `/users/${member.user.id}`)).status).toBe(404);
    expect(await outboxEvents(db.url, "user.deleted", member.user.id)).toHaveLength(1);
    const again = await http.post("/auth/register", {
      email: member.user.email,
      password: PASSWORD,
      name: "Again",
    });
    expect(again.status).toBe(201);
  });
});

describe("the audit log", () => {
  test("when admins act, then each action is written with who, what, to whom, when and from where; learners cannot read it", async () => {
    const member = await register("audited");
    await asAdmin("PUT", `/users/${member.user.id}/roles`, { roles: ["learner", "author"] });
    await asAdmin("POST", `/users/${member.user.id}/suspend`, { reason: "audit me" });
    await asAdmin("POST", `/users/${member.user.id}/unsuspend`, {});
    await asAdmin("DELETE", `/users/${member.user.id}`);
    const res = await asAdmin("GET", "/admin/audit?pageSize=100");
    expect(res.status).toBe(200);
    const mine = (res.body.rows as Array<Record<string, unknown>>).filter(
      row => row.targetId === member.user.id,
    );
    expect(mine.map(row => row.action)).toEqual([
      "user.erase",
      "user.unsuspend",
      "user.suspend",
      "roles.set",
    ]);
    expect(mine[2]).toMatchObject({
      actorId: adminId,
      detail: { reason: "audit me" },
      ip: expect.any(String),
      requestId: expect.any(String),
      at: expect.stringMatching(/Z$/),
    });
    expect(res.body).toMatchObject({ page: 1, pageSize: 100 });
    const other = await register("nosy");
    expect((await http.call("GET", "/admin/audit", { token: other.accessToken })).status).toBe(403);
  });
});
