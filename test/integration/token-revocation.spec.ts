import fs from "node:fs";
import { startTestNode, type TestNode } from "../support/cluster";
import {
  clusterEnv,
  createTestDatabase,
  tempDataDir,
  uniqueName,
  type TestDatabase,
} from "../support/isolation";
import { requireServers } from "../support/servers";
import { api, decodeJwt, newEmail, PASSWORD, type AuthBody } from "./users.support";

/**
 * Revocation reaches every gateway (api.md "Revocation takes effect at once"): two gateways
 * over real NATS and Redis, a gateway started after the revocation, and the embedded node.
 */

jest.setTimeout(90_000);

const ADMIN_EMAIL = "revocation.admin@example.com";
const ADMIN_PASSWORD = "revocation admin passphrase 5";

/** Asks until the token is refused; the contract's bound is one second from the revocation. */
async function refusedWithin(
  url: string,
  token: string,
  boundMs: number,
): Promise<{ status: number; afterMs: number }> {
  const started = Date.now();
  for (;;) {
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    await res.arrayBuffer();
    const afterMs = Date.now() - started;
    if (res.status !== 200 || afterMs > boundMs) return { status: res.status, afterMs };
    await new Promise(resolve => setTimeout(resolve, 20));
  }
}

describe("two gateways over NATS, Redis the store", () => {
  const namespace = uniqueName("revoke");
  let db: TestDatabase;
  let env: Record<string, string>;
  let nodeA: TestNode;
  let nodeB: TestNode | undefined;
  let a: ReturnType<typeof api>;

  async function startGatewayB(tag: string): Promise<TestNode> {
    const node = await startTestNode(["api"], { ...env, NODE_ID: `${namespace}-${tag}` });
    await node.broker.waitForServices(["users"], 10_000);
    return node;
  }

  async function register(tag: string): Promise<AuthBody> {
    const res = await a.post<AuthBody>("/auth/register", {
      email: newEmail(tag),
      password: PASSWORD,
      name: `Revoke ${tag}`,
    });
    expect(res.status).toBe(201);
    return res.body;
  }

  beforeAll(async () => {
    await requireServers("postgres", "redis", "nats", "rabbitmq");
    db = await createTestDatabase("lm_revoke");
    env = {
      ...clusterEnv(namespace, db.url),
      RATE_LIMIT_RPM: "1000000",
      ADMIN_EMAIL,
      ADMIN_PASSWORD,
    };
    nodeA = await startTestNode(["api", "users"], { ...env, NODE_ID: `${namespace}-a` });
    a = api(nodeA.apiUrl as string);
    nodeB = await startGatewayB("b");
  });

  afterAll(async () => {
    await nodeB?.stop();
    await nodeA?.stop();
    await db?.drop();
  });

  it("when a session is logged out through one gateway, then the other refuses its access token within a second", async () => {
    const b = api(nodeB?.apiUrl as string);
    const body = await register("two-gateways");
    expect((await b.get("/me", body.accessToken)).status).toBe(200);
    expect(
      (await a.post("/auth/logout", { refreshToken: body.refreshToken }, body.accessToken)).status,
    ).toBe(204);
    const seen = await refusedWithin(`${nodeB?.apiUrl}/me`, body.accessToken, 1000);
    expect(seen).toEqual({ status: 401, afterMs: expect.any(Number) });
    expect(seen.afterMs).toBeLessThanOrEqual(1000);
  });

  it("when a user is demoted through the other gateway, then the first refuses the dropped role within a second", async () => {
    const b = api(nodeB?.apiUrl as string);
    const admin = await a.post<AuthBody>("/auth/login", {
      email: ADMIN_EMAIL,
      password: ADMIN_PASSWORD,
    });
    const target = await register("demoted");
    const setRoles = (roles: string[]) =>
      b.call("PUT", `/users/${target.user.id}/roles`, {
        token: admin.body.accessToken,
        body: { roles },
      });
    expect((await setRoles(["learner", "admin"])).status).toBe(200);
    const promoted = await a.post<AuthBody>("/auth/login", {
      email: target.user.email,
      password: PASSWORD,
    });
    expect((await a.get("/users", promoted.body.accessToken)).status).toBe(200);
    expect((await setRoles(["learner"])).status).toBe(200);
    const seen = await refusedWithin(`${nodeA.apiUrl}/users`, promoted.body.accessToken, 1000);
    expect(seen.status).toBe(403);
    expect(seen.afterMs).toBeLessThanOrEqual(1000);
    expect((await a.get("/me", promoted.body.accessToken)).status).toBe(200);
  });

  it("when a gateway starts after a revocation it never heard, then it loads it from Redis before it is ready", async () => {
    const kept = await register("kept");
    const ended = await register("ended");
    await nodeB?.stop();
    nodeB = undefined;
    const endedSid = decodeJwt(ended.accessToken).payload.sid as string;
    expect(
      (await a.call("DELETE", `/auth/sessions/${endedSid}`, { token: ended.accessToken })).status,
    ).toBe(204);

    nodeB = await startGatewayB("b2");
    const ready = await fetch(`${nodeB.origin}/health/ready`);
    const report = (await ready.json()) as { checks: Record<string, { status: string }> };
    expect(report.checks.revocations).toEqual({ status: "ok" });
    const b = api(nodeB.apiUrl as string);
    // The very first request: nothing but the loaded set can refuse it (node A's users say 200).
    expect((await b.get("/me", ended.accessToken)).status).toBe(401);
    expect((await b.get("/me", kept.accessToken)).status).toBe(200);
  });
});

describe("the embedded single node (no transporter, no Redis)", () => {
  const dataDir = tempDataDir("lm-revoke-embedded");
  let node: TestNode;
  let http: ReturnType<typeof api>;

  beforeAll(async () => {
    node = await startTestNode(["api", "users", "content"], {
      DATA_DIR: dataDir,
      RATE_LIMIT_RPM: "1000000",
      ADMIN_EMAIL,
      ADMIN_PASSWORD,
    });
    http = api(node.apiUrl as string);
  });

  afterAll(async () => {
    await node?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const course = {
    title: "Revoked author",
    description: "Should not be created",
    level: "A1",
    topics: [],
    language: "en",
  };

  it("when an author is demoted, then the old token cannot create a course (403) and a logout ends the token (401)", async () => {
    const admin = await http.post<AuthBody>("/auth/login", {
      email: ADMIN_EMAIL,
      password: ADMIN_PASSWORD,
    });
    const reg = await http.post<AuthBody>("/auth/register", {
      email: newEmail("embedded-author"),
      password: PASSWORD,
      name: "Embedded Author",
    });
    const setRoles = (roles: string[]) =>
      http.call("PUT", `/users/${reg.body.user.id}/roles`, {
        token: admin.body.accessToken,
        body: { roles },
      });
    expect((await setRoles(["learner", "author"])).status).toBe(200);
    const author = await http.post<AuthBody>("/auth/login", {
      email: reg.body.user.email,
      password: PASSWORD,
    });
    expect((await http.post("/courses", course, author.body.accessToken)).status).toBe(201);

    expect((await setRoles(["learner"])).status).toBe(200);
    const denied = await http.post("/courses", course, author.body.accessToken);
    expect(denied.status).toBe(403);
    expect((await http.get("/me", author.body.accessToken)).status).toBe(200);

    expect(
      (
        await http.post(
          "/auth/logout",
          { refreshToken: author.body.refreshToken },
          author.body.accessToken,
        )
      ).status,
    ).toBe(204);
    expect((await http.get("/me", author.body.accessToken)).status).toBe(401);
  });
});
