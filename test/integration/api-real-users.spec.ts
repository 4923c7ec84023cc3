import fs from "node:fs";
import { startTestNode, type TestNode } from "../support/cluster";
import { createTestDatabase, tempDataDir, type TestDatabase } from "../support/isolation";
import { requireServers } from "../support/servers";
import { http } from "./api-kit";

/**
 * The gateway against the real users service: tokens it signs are accepted at the edge,
 * and tokens of other kinds it hands out are not (security.md 7, 20).
 */
describe("gateway with the real users service", () => {
  const dataDir = tempDataDir("lm-api-users");
  let db: TestDatabase;
  let node: TestNode;
  let session: { accessToken: string; refreshToken: string; user: { id: string } };

  beforeAll(async () => {
    await requireServers("postgres");
    db = await createTestDatabase("lm_api_users");
    node = await startTestNode(["api", "users"], {
      DATA_DIR: dataDir,
      DATABASE_URL: db.url,
      RATE_LIMIT_RPM: "100000",
      PUBLIC_URL: "http://lingomesh.test",
    });
    const res = await http(`${node.apiUrl}/auth/register`, {
      method: "POST",
      json: {
        email: `edge-${Date.now()}@example.com`,
        password: "correct horse battery",
        name: "Edge",
      },
    });
    expect(res.status).toBe(201);
    session = res.body as typeof session;
  }, 90_000);

  afterAll(async () => {
    await node?.stop();
    await db?.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("when the users service's access token is sent, then the gateway verifies it against users.jwks and /me answers", async () => {
    const jwks = await http(`${node.apiUrl}/auth/jwks`);
    expect(jwks.status).toBe(200);
    expect((jwks.body as { keys: Array<{ kty: string; d?: string }> }).keys[0]).toMatchObject({
      kty: "OKP",
    });
    expect(jwks.text).not.toMatch(/"d":/);
    const me = await http(`${node.apiUrl}/me`, { token: session.accessToken });
    expect(me.status).toBe(200);
    expect((me.body as { id: string }).id).toBe(session.user.id);
    const dashboard = await http(`${node.apiUrl}/me/dashboard`, { token: session.accessToken });
    expect(dashboard.status).toBe(200);
    expect((dashboard.body as { user: { id: string } }).user.id).toBe(session.user.id);
  });

  it("when the refresh token is sent as a bearer token, then 401 on a protected route", async () => {
    const res = await http(`${node.apiUrl}/me`, { token: session.refreshToken });
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ code: 401, type: "UNAUTHORIZED" });
  });

  it("when a learner calls an admin route of the real service, then 403", async () => {
    const res = await http(`${node.apiUrl}/users`, { token: session.accessToken });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ code: 403, type: "FORBIDDEN" });
  });
});
