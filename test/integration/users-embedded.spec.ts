import fs from "node:fs";
import path from "node:path";
import { startTestNode, type TestNode } from "../support/cluster";
import { tempDataDir } from "../support/isolation";
import { api, currentStep, newEmail, PASSWORD, totpAt, type AuthBody } from "./users.support";

/**
 * The users service on embedded defaults: no DATABASE_URL, REDIS_URL, TRANSPORTER,
 * AMQP_URL or JWT keys — PGlite under DATA_DIR, in-process limits and events, a key pair
 * generated once under DATA_DIR/keys.
 */

jest.setTimeout(90_000);

let dataDir: string;
let node: TestNode;

beforeAll(async () => {
  dataDir = tempDataDir("lingomesh-users");
  node = await startTestNode(["api", "users"], { DATA_DIR: dataDir, RATE_LIMIT_RPM: "1000000" });
});

afterAll(async () => {
  await node?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

test("when nothing is configured, then register → verify-less login → refresh → MFA login work, and no admin exists", async () => {
  const http = api(node.apiUrl as string);
  const email = newEmail("embedded");
  const reg = await http.post<AuthBody>("/auth/register", {
    email,
    password: PASSWORD,
    name: "Emb",
  });
  expect(reg.status).toBe(201);
  const refreshed = await http.post<AuthBody>("/auth/refresh", {
    refreshToken: reg.body.refreshToken,
  });
  expect(refreshed.status).toBe(200);
  expect((await http.post("/auth/refresh", { refreshToken: reg.body.refreshToken })).status).toBe(
    401,
  );
  const parallel = await Promise.all(
    Array.from(
      { length: 10 },
      async () =>
        (await http.post<AuthBody>("/auth/login", { email, password: PASSWORD })).body.refreshToken,
    ),
  );
  const answers = await Promise.all(
    Array.from({ length: 10 }, () => http.post("/auth/refresh", { refreshToken: parallel[0] })),
  );
  expect(answers.filter(answer => answer.status === 200)).toHaveLength(1);

  // The reuse above ended reg's session, its access tokens included: sign in again.
  const live = (await http.post<AuthBody>("/auth/login", { email, password: PASSWORD })).body;
  const setup = await http.post<{ secret: string }>("/auth/mfa/setup", {}, live.accessToken);
  const step = currentStep();
  expect(
    (
      await http.post(
        "/auth/mfa/enable",
        { otp: totpAt(setup.body.secret, step) },
        live.accessToken,
      )
    ).status,
  ).toBe(204);
  const pending = await http.post<{ type: string }>("/auth/login", { email, password: PASSWORD });
  expect([pending.status, pending.body.type]).toEqual([401, "MFA_REQUIRED"]);
  expect(
    (
      await http.post("/auth/login", {
        email,
        password: PASSWORD,
        otp: totpAt(setup.body.secret, step + 1),
      })
    ).status,
  ).toBe(200);

  const admins = await node.broker.call(
    "users.list",
    { q: "admin" },
    { meta: { user: { id: reg.body.user.id, roles: ["admin"] } } },
  );
  expect(admins).toMatchObject({ total: 0 });
});

test("when the node restarts on the same DATA_DIR, then the generated key is kept (0600) and earlier tokens still verify", async () => {
  const http = api(node.apiUrl as string);
  const reg = await http.post<AuthBody>("/auth/register", {
    email: newEmail("restart"),
    password: PASSWORD,
    name: "R",
  });
  const before = await http.get<{ keys: Array<{ kid: string }> }>("/auth/jwks");
  const keyFile = path.join(dataDir, "keys", "jwt-private.pem");
  expect(fs.statSync(keyFile).mode & 0o777).toBe(0o600);
  await node.stop();
  node = await startTestNode(["api", "users"], { DATA_DIR: dataDir, RATE_LIMIT_RPM: "1000000" });
  const again = api(node.apiUrl as string);
  const after = await again.get<{ keys: Array<{ kid: string }> }>("/auth/jwks");
  expect(after.body.keys[0].kid).toBe(before.body.keys[0].kid);
  expect((await again.get("/me", reg.body.accessToken)).status).toBe(200);
  expect((await again.post("/auth/refresh", { refreshToken: reg.body.refreshToken })).status).toBe(
    200,
  );
});
