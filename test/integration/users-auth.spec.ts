import crypto from "node:crypto";
import { hash as argon2Hash, parseOptions } from "@node-rs/argon2";
import { createLocalJWKSet, jwtVerify, SignJWT, type JSONWebKeySet } from "jose";
import {
  PASSWORD_HASH_OPTIONS,
  PASSWORD_VERIFICATIONS,
  type PasswordVerification,
} from "../../services/users/passwords";
import Redis from "ioredis";
import { startTestNode, type TestNode } from "../support/cluster";
import { SERVERS } from "../support/servers";
import {
  clusterEnv,
  createTestDatabase,
  testKeyPair,
  uniqueName,
  type TestDatabase,
} from "../support/isolation";
import {
  api,
  currentStep,
  decodeJwt,
  hsSignedWithPublicKey,
  median,
  newEmail,
  outboxEvents,
  PASSWORD,
  sql,
  totpAt,
  unsignedToken,
  waitFor,
  type AuthBody,
} from "./users.support";

/**
 * The Identity table through the real gateway, on NATS, Redis, RabbitMQ and PostgreSQL:
 * accounts, passwords, tokens, sessions, MFA, verification and reset, profiles, admin.
 */

jest.setTimeout(60_000);

let db: TestDatabase;
let node: TestNode;
let http: ReturnType<typeof api>;
const ns = uniqueName("users");
const consoleLines: string[] = [];
const spies: jest.SpyInstance[] = [];
const ADMIN_EMAIL = "Root.Admin@Example.com";
const ADMIN_PASSWORD = "admin bootstrap passphrase 42";

async function register(tag = "user", password = PASSWORD): Promise<AuthBody> {
  const res = await http.post<AuthBody>("/auth/register", {
    email: newEmail(tag),
    password,
    name: `Name ${tag}`,
  });
  expect(res.status).toBe(201);
  return res.body;
}

async function login(email: string, password = PASSWORD, otp?: string) {
  return http.post<AuthBody & { type?: string }>(
    "/auth/login",
    otp === undefined ? { email, password } : { email, password, otp },
  );
}

beforeAll(async () => {
  for (const method of ["log", "info", "warn", "error", "debug"] as const) {
    spies.push(
      jest.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        consoleLines.push(args.map(String).join(" "));
      }),
    );
  }
  db = await createTestDatabase("lm_users");
  node = await startTestNode(["api", "users"], {
    ...clusterEnv(ns, db.url),
    LOG_LEVEL: "info",
    // The gateway's per-client limits (register, forgot) are not under test here: one client makes every call.
    RATE_LIMIT_RPM: "1000000",
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
  });
  http = api(node.apiUrl as string);
});

afterAll(async () => {
  await node?.stop();
  await db?.drop();
  for (const spy of spies) spy.mockRestore();
});

describe("accounts and passwords", () => {
  test("when someone registers, then 201 gives the profile and tokens and no secret", async () => {
    const email = newEmail("reg");
    const res = await http.post<AuthBody>("/auth/register", {
      email,
      password: PASSWORD,
      name: "Ada",
    });
    expect(res.status).toBe(201);
    expect(Object.keys(res.body).sort()).toEqual([
      "accessToken",
      "expiresIn",
      "refreshToken",
      "user",
    ]);
    expect(res.body.user).toEqual({
      id: expect.any(String),
      email: email.toLowerCase(),
      name: "Ada",
      avatarUrl: null,
      roles: ["learner"],
      timezone: "UTC",
      nativeLanguage: null,
      dailyGoalXp: 20,
      emailVerified: false,
      mfaEnabled: false,
      locale: null,
      level: null,
      profileVisibility: "followers",
      newCardsPerDay: 20,
      quietHours: null,
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/),
    });
    expect(res.body.expiresIn).toBeLessThanOrEqual(900);
    expect(JSON.stringify(res.body)).not.toMatch(/argon2|passwordHash|mfaSecret/);
    // The account has no URL of its own: a 201 without Location, and no warning about it.
    expect(res.headers.get("location")).toBeNull();
    expect(consoleLines.filter(line => line.includes("$location"))).toEqual([]);
  });

  test("when an email is registered again in another case, then 409 EMAIL_TAKEN", async () => {
    const email = newEmail("dup");
    expect(
      (await http.post("/auth/register", { email, password: PASSWORD, name: "A" })).status,
    ).toBe(201);
    const again = await http.post("/auth/register", {
      email: `  ${email.toUpperCase()} `.trim(),
      password: PASSWORD,
      name: "B",
    });
    expect(again.status).toBe(409);
    expect(again.body.type).toBe("EMAIL_TAKEN");
    const rows = await sql(db.url, "SELECT email FROM users.users WHERE email = $1", [
      email.toLowerCase(),
    ]);
    expect(rows).toHaveLength(1);
  });

  test.each([
    ["9 characters", "abcdefghi", "passwordTooShort"],
    ["129 characters", "x".repeat(129), "passwordTooLong"],
    ["a top-10 000 password", "1234567890", "passwordTooCommon"],
    ["a common password in capitals", "QWERTYUIOP", "passwordTooCommon"],
  ])("when the password is %s, then 422 names the password", async (_label, password, type) => {
    const res = await http.post<{ type: string; data: Array<{ field: string; type: string }> }>(
      "/auth/register",
      {
        email: newEmail("weak"),
        password,
        name: "W",
      },
    );
    expect(res.status).toBe(422);
    expect(res.body.type).toBe("VALIDATION_ERROR");
    expect(res.body.data).toEqual([expect.objectContaining({ field: "password", type })]);
    expect(JSON.stringify(res.body)).not.toContain(password.slice(0, 9));
  });

  test.each([
    ["ten spaces", " ".repeat(10), "passwordTrivial"],
    ["one letter ten times", "aaaaaaaaaa", "passwordTrivial"],
    ["one digit ten times", "0000000000", "passwordTrivial"],
    ["one emoji twelve times", "🦄".repeat(12), "passwordTrivial"],
    ["only white space of several kinds", "  \u3000  \u00a0  \u2003  ", "passwordTrivial"],
    ["ten control characters", "\u0001".repeat(10), "passwordControlCharacters"],
    ["a passphrase with a line break", "correct horse\nbattery", "passwordControlCharacters"],
  ])(
    "when the password is %s, then register, change and reset refuse it with 422",
    async (_label, password, type) => {
      type Problems = { type: string; data: Array<{ field: string; type: string }> };
      const registered = await http.post<Problems>("/auth/register", {
        email: newEmail("trivial"),
        password,
        name: "T",
      });
      expect(registered.status).toBe(422);
      expect(registered.body.data).toEqual([expect.objectContaining({ field: "password", type })]);
      const body = await register("trivial");
      const changed = await http.post<Problems>(
        "/auth/password/change",
        { currentPassword: PASSWORD, newPassword: password },
        body.accessToken,
      );
      expect(changed.status).toBe(422);
      expect(changed.body.data).toEqual([expect.objectContaining({ field: "newPassword", type })]);
      await http.post("/auth/password/forgot", { email: body.user.email });
      const event = await waitFor(
        async () => (await outboxEvents(db.url, "user.password_reset_requested", body.user.id))[0],
      );
      const reset = await http.post<Problems>("/auth/password/reset", {
        token: event.data.resetToken,
        password,
      });
      expect(reset.status).toBe(422);
      expect(reset.body.data).toEqual([expect.objectContaining({ field: "password", type })]);
      expect((await login(body.user.email)).status).toBe(200);
      expect((await login(body.user.email, password)).status).toBe(401);
    },
  );

  test("when ten NULs are the password, then the gateway refuses them and so does the service called directly", async () => {
    const nuls = "\u0000".repeat(10);
    const overHttp = await http.post<{ data: Array<{ field: string; type: string }> }>(
      "/auth/register",
      { email: newEmail("nul"), password: nuls, name: "N" },
    );
    expect(overHttp.status).toBe(422);
    expect(overHttp.body.data).toEqual([expect.objectContaining({ field: "password" })]);
    await expect(
      node.broker.call("users.register", { email: newEmail("nul"), password: nuls, name: "N" }),
    ).rejects.toMatchObject({
      code: 422,
      data: [expect.objectContaining({ field: "password", type: "passwordControlCharacters" })],
    });
  });

  test("when both the email and the password are bad, then 422 lists each field's problem at once", async () => {
    type Problems = { type: string; data: Array<{ field: string; type: string }> };
    const both = await http.post<Problems>("/auth/register", {
      email: "not-an-email",
      password: "short",
      name: "B",
    });
    expect(both.status).toBe(422);
    expect(both.body.type).toBe("VALIDATION_ERROR");
    expect(both.body.data).toEqual([
      expect.objectContaining({ field: "email", type: "email" }),
      expect.objectContaining({ field: "password", type: "passwordTooShort" }),
    ]);
    expect(JSON.stringify(both.body)).not.toContain('"short"');

    // A common password and a missing name are listed with the email too.
    const three = await http.post<Problems>("/auth/register", {
      email: "also not an email",
      password: "1234567890",
    });
    expect(three.body.data.map(item => [item.field, item.type])).toEqual([
      ["email", "email"],
      ["password", "passwordTooCommon"],
      ["name", "required"],
    ]);
    // The email typed as the password (in other case) is caught in the same pass.
    const email = newEmail("same");
    const same = await http.post<Problems>("/auth/register", {
      email: email.toUpperCase(),
      password: email.toLowerCase(),
      name: "",
    });
    expect(same.body.data.map(item => [item.field, item.type])).toEqual([
      ["password", "passwordIsEmail"],
      ["name", "stringMin"],
    ]);

    const reset = await http.post<Problems>("/auth/password/reset", {
      token: "",
      password: "x".repeat(129),
    });
    expect(reset.status).toBe(422);
    expect(reset.body.data.map(item => [item.field, item.type])).toEqual([
      ["token", "stringMin"],
      ["password", "passwordTooLong"],
    ]);
  });

  test("when the password is 128 characters with spaces and emoji, then it is accepted and compared exactly as typed", async () => {
    const password = ` ${"ü".repeat(60)}🦄${"z".repeat(65)} `;
    expect([...password].length).toBe(128);
    const body = await register("exact", password);
    expect((await login(body.user.email, password)).status).toBe(200);
    expect((await login(body.user.email, password.trim())).status).toBe(401);
    expect((await login(body.user.email, password.slice(0, 72))).status).toBe(401);
  });

  test("when the body has a bad email or an unknown or protected field, then 422", async () => {
    const bad = await http.post<{ data: Array<{ field: string }> }>("/auth/register", {
      email: "not-an-email",
      password: PASSWORD,
      name: "X",
    });
    expect(bad.status).toBe(422);
    expect(bad.body.data.map(item => item.field)).toContain("email");
    const sneaky = await http.post("/auth/register", {
      email: newEmail("mass"),
      password: PASSWORD,
      name: "X",
      roles: ["admin"],
    });
    expect(sneaky.status).toBe(422);
  });

  test("when a password is stored, then it is Argon2id m=19456 t=2 p=1 in a PHC string", async () => {
    const body = await register("phc");
    const [row] = await sql<{ password_hash: string }>(
      db.url,
      "SELECT password_hash FROM users.users WHERE id = $1",
      [body.user.id],
    );
    expect(row.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  });

  test("when a user logs in with a hash of older, weaker parameters, then it is rehashed with the current ones", async () => {
    const body = await register("rehash");
    const weak = await argon2Hash(PASSWORD, {
      memoryCost: 4096,
      timeCost: 1,
      parallelism: 1,
      algorithm: 2,
    });
    await sql(db.url, "UPDATE users.users SET password_hash = $1 WHERE id = $2", [
      weak,
      body.user.id,
    ]);
    expect((await login(body.user.email)).status).toBe(200);
    const [row] = await sql<{ password_hash: string }>(
      db.url,
      "SELECT password_hash FROM users.users WHERE id = $1",
      [body.user.id],
    );
    expect(parseOptions(row.password_hash)).toMatchObject({
      memoryCost: 19456,
      timeCost: 2,
      parallelism: 1,
    });
  });

  test("when the email is unknown or the password wrong, then status and body are alike and both pay one full Argon2 verification", async () => {
    const body = await register("enum");
    await login(body.user.email, "wrong password 123");
    const costOf = async (email: string) => {
      const verifications: PasswordVerification[] = [];
      const record = (used: unknown) => verifications.push(used as PasswordVerification);
      PASSWORD_VERIFICATIONS.subscribe(record);
      try {
        const answer = await login(email, "wrong password 123");
        // Both paths verify exactly one hash with the current parameters, so their time is
        // the same work (a wall-clock comparison would only measure the machine's load).
        return { answer, verifications };
      } finally {
        PASSWORD_VERIFICATIONS.unsubscribe(record);
      }
    };
    const unknown = await costOf(newEmail("ghost"));
    const wrong = await costOf(body.user.email);
    expect(unknown.answer.status).toBe(401);
    expect(wrong.answer.status).toBe(401);
    expect(unknown.answer.body).toEqual(wrong.answer.body);
    expect(unknown.answer.body).toEqual({
      name: "MoleculerClientError",
      message: "Invalid email or password",
      code: 401,
      type: "INVALID_CREDENTIALS",
    });
    const current = {
      memoryCost: PASSWORD_HASH_OPTIONS.memoryCost,
      timeCost: PASSWORD_HASH_OPTIONS.timeCost,
      parallelism: PASSWORD_HASH_OPTIONS.parallelism,
    };
    expect(unknown.verifications).toEqual([current]);
    expect(wrong.verifications).toEqual([current]);
  });
});

describe("access tokens and the key set", () => {
  test("when a user logs in, then the access token is an EdDSA at+jwt with kid, iss, aud, sub, roles and exp ≤ 15 min, verifiable with the JWKS", async () => {
    const body = await register("jwt");
    const jwks = await http.get<JSONWebKeySet>("/auth/jwks");
    expect(jwks.status).toBe(200);
    expect(jwks.body.keys[0]).toMatchObject({
      kty: "OKP",
      crv: "Ed25519",
      alg: "EdDSA",
      use: "sig",
      kid: expect.any(String),
    });
    expect(JSON.stringify(jwks.body)).not.toMatch(/"d"/);
    const { header, payload } = decodeJwt(body.accessToken);
    expect(header).toEqual({ alg: "EdDSA", typ: "at+jwt", kid: jwks.body.keys[0].kid });
    const verified = await jwtVerify(body.accessToken, createLocalJWKSet(jwks.body), {
      algorithms: ["EdDSA"],
      typ: "at+jwt",
      issuer: "http://localhost:3000",
      audience: "lingomesh-api",
    });
    expect(verified.payload).toMatchObject({
      sub: body.user.id,
      roles: ["learner"],
      sid: expect.any(String),
    });
    expect((payload.exp as number) - (payload.iat as number)).toBeLessThanOrEqual(900);
  });

  test("when anything but a valid access token is presented, then every protected route answers 401", async () => {
    const body = await register("confuse");
    const created = await waitFor(
      async () => (await outboxEvents(db.url, "user.created", body.user.id))[0],
    );
    const verifyToken = created.data.verificationToken as string;
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: "http://localhost:3000",
      aud: "lingomesh-api",
      sub: body.user.id,
      roles: ["admin"],
      iat: now,
      nbf: now,
      exp: now + 600,
    };
    const { kid } = decodeJwt(body.accessToken).header as { kid: string };
    const privateKey = crypto.createPrivateKey(testKeyPair().privateKey);
    const sign = (payload: Record<string, unknown>, header: Record<string, unknown> = {}) =>
      new SignJWT(payload)
        .setProtectedHeader({ alg: "EdDSA", typ: "at+jwt", kid, ...header })
        .sign(privateKey);
    const forged: Record<string, string> = {
      refreshToken: body.refreshToken,
      verificationToken: verifyToken,
      algNone: unsignedToken(claims),
      hsWithPublicPem: hsSignedWithPublicKey(claims, testKeyPair().publicKey, kid),
      hsWithPublicDer: hsSignedWithPublicKey(
        claims,
        crypto.createPublicKey(testKeyPair().publicKey).export({ type: "spki", format: "der" }),
        kid,
      ),
      wrongAudience: await sign({ ...claims, aud: "another-api" }),
      wrongIssuer: await sign({ ...claims, iss: "https://evil.example" }),
      expired: await sign({ ...claims, iat: now - 3600, nbf: now - 3600, exp: now - 300 }),
      notYetValid: await sign({ ...claims, nbf: now + 600 }),
      refreshTyped: await sign(claims, { typ: "refresh+jwt" }),
      plainJwtTyped: await sign(claims, { typ: "JWT" }),
      jkuHeader: await sign(claims, { jku: "https://evil.example/jwks.json" }),
      kidPath: await sign(claims, { kid: "../../keys/jwt-private.pem" }),
      otherKey: await new SignJWT(claims)
        .setProtectedHeader({ alg: "EdDSA", typ: "at+jwt", kid })
        .sign(crypto.generateKeyPairSync("ed25519").privateKey),
    };
    for (const [label, token] of Object.entries(forged)) {
      for (const [method, path] of [
        ["GET", "/me"],
        ["GET", "/auth/sessions"],
        ["GET", "/users"],
      ] as const) {
        const res = await http.call(method, path, { token });
        expect({ label, path, status: res.status }).toEqual({ label, path, status: 401 });
      }
    }
    expect((await http.get("/me", body.accessToken)).status).toBe(200);
  });

  test("when a learner calls an admin route, then 403; an internal action is not reachable over HTTP", async () => {
    const body = await register("bfla");
    expect((await http.get("/users", body.accessToken)).status).toBe(403);
    expect(
      (
        await http.call("PUT", `/users/${body.user.id}/roles`, {
          token: body.accessToken,
          body: { roles: ["admin"] },
        })
      ).status,
    ).toBe(403);
    const internal = await http.call("POST", "/users/profiles", {
      token: body.accessToken,
      body: { ids: [body.user.id] },
    });
    expect([404, 405]).toContain(internal.status);
  });
});

describe("refresh tokens and sessions", () => {
  test("when a refresh token is stored, then only its SHA-256 digest is in the database and it carries ≥ 128 bits", async () => {
    const body = await register("opaque");
    expect(Buffer.from(body.refreshToken, "base64url").length).toBeGreaterThanOrEqual(16);
    const digest = crypto.createHash("sha256").update(body.refreshToken).digest("hex");
    const rows = await sql<{ token_hash: string }>(
      db.url,
      "SELECT r.token_hash FROM users.refresh_tokens r JOIN users.sessions s ON s.id = r.session_id WHERE s.user_id = $1",
      [body.user.id],
    );
    expect(rows.map(row => row.token_hash)).toEqual([digest]);
    const dump = JSON.stringify(await sql(db.url, "SELECT * FROM users.refresh_tokens"));
    expect(dump).not.toContain(body.refreshToken);
  });

  test("when a refresh token is used, then new tokens come and the old one stops working; its reuse revokes the family", async () => {
    const body = await register("rotate");
    const first = await http.post<AuthBody>("/auth/refresh", { refreshToken: body.refreshToken });
    expect(first.status).toBe(200);
    expect(Object.keys(first.body).sort()).toEqual(["accessToken", "expiresIn", "refreshToken"]);
    expect(first.body.refreshToken).not.toBe(body.refreshToken);
    const reuse = await http.post("/auth/refresh", { refreshToken: body.refreshToken });
    expect(reuse.status).toBe(401);
    // The family is revoked: even the newest token of that session no longer works.
    expect(
      (await http.post("/auth/refresh", { refreshToken: first.body.refreshToken })).status,
    ).toBe(401);
    const [session] = await sql<{ revoked_reason: string }>(
      db.url,
      "SELECT revoked_reason FROM users.sessions WHERE user_id = $1",
      [body.user.id],
    );
    expect(session.revoked_reason).toBe("reuse");
  });

  test("when ten refreshes of one token run in parallel, then exactly one succeeds", async () => {
    const body = await register("parallel");
    const answers = await Promise.all(
      Array.from({ length: 10 }, () =>
        http.post("/auth/refresh", { refreshToken: body.refreshToken }),
      ),
    );
    const statuses = answers.map(answer => answer.status).sort();
    expect(statuses.filter(status => status === 200)).toHaveLength(1);
    expect(statuses.filter(status => status === 401)).toHaveLength(9);
  });

  test("when accounts hold 20 000 sessions, then a login asks about its own account's sessions only, never scanning them all", async () => {
    await sql(
      db.url,
      `INSERT INTO users.users (id, email, name, password_hash)
         SELECT gen_random_uuid(), 'crowd-' || n || '@example.com', 'Crowd', 'x'
         FROM generate_series(1, 2000) AS n`,
    );
    await sql(
      db.url,
      `INSERT INTO users.sessions (id, user_id, created_at, last_used_at, expires_at, user_agent, revoked_at)
         SELECT gen_random_uuid(), u.id, now(), now(), now() + interval '1 day', 'crowd agent',
                CASE WHEN n % 2 = 0 THEN now() END
         FROM users.users u CROSS JOIN generate_series(1, 10) AS n
         WHERE u.email LIKE 'crowd-%'`,
    );
    await sql(db.url, "ANALYZE users.sessions");
    type Counts = { seq_scan: string; n_tup_ins: string };
    const counts = async () =>
      (
        await sql<Counts>(
          db.url,
          "SELECT seq_scan, n_tup_ins FROM pg_stat_user_tables WHERE schemaname = 'users' AND relname = 'sessions'",
        )
      )[0];
    // A backend's counts reach the view with some delay; a session's insert and the login's
    // reads before it are counted in the same transaction, so the insert says they are in.
    const flushedAfter = (previous: Counts) =>
      waitFor(async () => {
        const now = await counts();
        return Number(now.n_tup_ins) > Number(previous.n_tup_ins) && now;
      }, 15_000);
    const crowd = await waitFor(async () => {
      const now = await counts();
      return Number(now.n_tup_ins) >= 20_000 && now;
    }, 15_000);
    const body = await register("crowded");
    const before = await flushedAfter(crowd);
    expect((await login(body.user.email)).status).toBe(200);
    const after = await flushedAfter(before);
    expect(Number(after.seq_scan) - Number(before.seq_scan)).toBe(0);
  });

  test("when a user lists sessions, logs out and revokes one, then those refresh tokens stop working", async () => {
    const body = await register("sessions");
    const second = await login(body.user.email);
    const third = await login(body.user.email);
    const list = await http.call<Array<Record<string, unknown>>>("GET", "/auth/sessions", {
      token: second.body.accessToken,
      headers: { "user-agent": "jest-agent/1.0" },
    });
    expect(list.status).toBe(200);
    expect(list.body).toHaveLength(3);
    expect(Object.keys(list.body[0]).sort()).toEqual([
      "createdAt",
      "current",
      "id",
      "ip",
      "lastUsedAt",
      "userAgent",
    ]);
    expect(list.body.filter(session => session.current)).toHaveLength(1);
    const secondSid = decodeJwt(second.body.accessToken).payload.sid;
    expect(list.body.find(session => session.current)?.id).toBe(secondSid);

    expect(
      (await http.post("/auth/logout", { refreshToken: body.refreshToken }, body.accessToken))
        .status,
    ).toBe(204);
    expect((await http.post("/auth/refresh", { refreshToken: body.refreshToken })).status).toBe(
      401,
    );

    const thirdSid = decodeJwt(third.body.accessToken).payload.sid as string;
    expect(
      (await http.call("DELETE", `/auth/sessions/${thirdSid}`, { token: second.body.accessToken }))
        .status,
    ).toBe(204);
    expect(
      (await http.post("/auth/refresh", { refreshToken: third.body.refreshToken })).status,
    ).toBe(401);
    const after = await http.get<Array<{ id: string }>>("/auth/sessions", second.body.accessToken);
    expect(after.body.map(session => session.id)).toEqual([secondSid]);
  });

  test("when someone deletes another user's session or a malformed id, then 404 and nothing changes", async () => {
    const alice = await register("alice");
    const bob = await register("bob");
    const bobSid = decodeJwt(bob.accessToken).payload.sid as string;
    const res = await http.call("DELETE", `/auth/sessions/${bobSid}`, { token: alice.accessToken });
    expect(res.status).toBe(404);
    expect(
      (await http.call("DELETE", "/auth/sessions/not-a-uuid", { token: alice.accessToken })).status,
    ).toBe(404);
    expect((await http.post("/auth/refresh", { refreshToken: bob.refreshToken })).status).toBe(200);
  });

  test("when a session has been idle past SESSION_IDLE_DAYS or is past its absolute lifetime, then its refresh token is refused", async () => {
    const idle = await register("idle");
    await sql(
      db.url,
      "UPDATE users.sessions SET last_used_at = now() - interval '31 days' WHERE user_id = $1",
      [idle.user.id],
    );
    expect((await http.post("/auth/refresh", { refreshToken: idle.refreshToken })).status).toBe(
      401,
    );
    const old = await register("absolute");
    await sql(
      db.url,
      "UPDATE users.sessions SET expires_at = now() - interval '1 second' WHERE user_id = $1",
      [old.user.id],
    );
    expect((await http.post("/auth/refresh", { refreshToken: old.refreshToken })).status).toBe(401);
    const fresh = await register("fresh");
    await sql(
      db.url,
      "UPDATE users.sessions SET last_used_at = now() - interval '29 days' WHERE user_id = $1",
      [fresh.user.id],
    );
    expect((await http.post("/auth/refresh", { refreshToken: fresh.refreshToken })).status).toBe(
      200,
    );
  });
});

describe("passwords: change, forgot, reset; email verification", () => {
  test("when a user changes the password, then the current one is needed and every other session ends", async () => {
    const body = await register("change");
    const other = await login(body.user.email);
    const wrong = await http.post<{ data: Array<{ field: string }> }>(
      "/auth/password/change",
      { currentPassword: "not my password", newPassword: "a brand new passphrase" },
      body.accessToken,
    );
    expect(wrong.status).toBe(422);
    expect(wrong.body.data[0].field).toBe("currentPassword");
    // The account's own checks list both problems: wrong current password, email as the new one.
    const twice = await http.post<{ data: Array<{ field: string; type: string }> }>(
      "/auth/password/change",
      { currentPassword: "not my password", newPassword: body.user.email },
      body.accessToken,
    );
    expect(twice.status).toBe(422);
    expect(twice.body.data.map(item => [item.field, item.type])).toEqual([
      ["currentPassword", "currentPasswordWrong"],
      ["newPassword", "passwordIsEmail"],
    ]);
    const weak = await http.post(
      "/auth/password/change",
      { currentPassword: PASSWORD, newPassword: "1q2w3e4r5t" },
      body.accessToken,
    );
    expect(weak.status).toBe(422);
    const ok = await http.post(
      "/auth/password/change",
      { currentPassword: PASSWORD, newPassword: "a brand new passphrase" },
      body.accessToken,
    );
    expect(ok.status).toBe(204);
    expect(
      (await http.post("/auth/refresh", { refreshToken: other.body.refreshToken })).status,
    ).toBe(401);
    expect((await http.post("/auth/refresh", { refreshToken: body.refreshToken })).status).toBe(
      200,
    );
    expect((await login(body.user.email)).status).toBe(401);
    expect((await login(body.user.email, "a brand new passphrase")).status).toBe(200);
  });

  test("when forgot-password is asked for a taken and a free email, then both answer 202 alike and only the taken one gets a reset event", async () => {
    const body = await register("forgot");
    const taken: number[] = [];
    const free: number[] = [];
    let a = await http.post("/auth/password/forgot", { email: body.user.email.toUpperCase() });
    let b = await http.post("/auth/password/forgot", { email: newEmail("nobody") });
    for (let i = 0; i < 2; i++) {
      a = await http.post("/auth/password/forgot", { email: body.user.email });
      b = await http.post("/auth/password/forgot", { email: newEmail("nobody") });
      taken.push(a.ms);
      free.push(b.ms);
    }
    expect([a.status, b.status]).toEqual([202, 202]);
    expect(a.body).toEqual(b.body);
    expect(Math.abs(median(taken) - median(free))).toBeLessThan(50);
    const events = await waitFor(async () => {
      const found = await outboxEvents(db.url, "user.password_reset_requested", body.user.id);
      return found.length >= 3 ? found : undefined;
    });
    // Three mails an hour per address at most.
    expect(events).toHaveLength(3);
    expect(Object.keys(events[0].data).sort()).toEqual([
      "email",
      "name",
      "resetToken",
      "sequence",
      "userId",
    ]);
  });

  test("when a reset token is used, then the password changes, every session ends, the token works once, and an older link is void", async () => {
    const body = await register("reset");
    await http.post("/auth/password/forgot", { email: body.user.email });
    const first = await waitFor(
      async () => (await outboxEvents(db.url, "user.password_reset_requested", body.user.id))[0],
    );
    await http.post("/auth/password/forgot", { email: body.user.email });
    const second = await waitFor(
      async () => (await outboxEvents(db.url, "user.password_reset_requested", body.user.id))[1],
    );
    const oldToken = first.data.resetToken as string;
    const token = second.data.resetToken as string;
    expect(Buffer.from(token, "base64url").length).toBeGreaterThanOrEqual(16);
    const stored = JSON.stringify(
      await sql(db.url, "SELECT * FROM users.one_time_tokens WHERE user_id = $1", [body.user.id]),
    );
    expect(stored).not.toContain(token);

    expect(
      (
        await http.post("/auth/password/reset", {
          token: oldToken,
          password: "reset passphrase one",
        })
      ).status,
    ).toBe(400);
    expect((await http.post("/auth/password/reset", { token, password: "short" })).status).toBe(
      422,
    );
    expect(
      (await http.post("/auth/password/reset", { token, password: "reset passphrase one" })).status,
    ).toBe(204);
    expect((await http.post("/auth/refresh", { refreshToken: body.refreshToken })).status).toBe(
      401,
    );
    const again = await http.post("/auth/password/reset", {
      token,
      password: "reset passphrase two",
    });
    expect(again.status).toBe(400);
    expect(again.body.type).toBe("INVALID_TOKEN");
    expect((await login(body.user.email, "reset passphrase one")).status).toBe(200);
  });

  test("when a reset link is older than an hour or predates a password change, then it is refused", async () => {
    const body = await register("reset-expiry");
    await http.post("/auth/password/forgot", { email: body.user.email });
    const event = await waitFor(
      async () => (await outboxEvents(db.url, "user.password_reset_requested", body.user.id))[0],
    );
    const [row] = await sql<{ ttl: number }>(
      db.url,
      "SELECT extract(epoch FROM expires_at - created_at)::int AS ttl FROM users.one_time_tokens WHERE user_id = $1 AND purpose = 'reset'",
      [body.user.id],
    );
    expect(row.ttl).toBeLessThanOrEqual(3600);
    await http.post(
      "/auth/password/change",
      { currentPassword: PASSWORD, newPassword: "changed passphrase 1" },
      body.accessToken,
    );
    expect(
      (
        await http.post("/auth/password/reset", {
          token: event.data.resetToken,
          password: "reset passphrase x",
        })
      ).status,
    ).toBe(400);

    await http.post("/auth/password/forgot", { email: body.user.email });
    const next = await waitFor(
      async () => (await outboxEvents(db.url, "user.password_reset_requested", body.user.id))[1],
    );
    await sql(
      db.url,
      "UPDATE users.one_time_tokens SET expires_at = now() - interval '1 second' WHERE user_id = $1 AND purpose = 'reset'",
      [body.user.id],
    );
    expect(
      (
        await http.post("/auth/password/reset", {
          token: next.data.resetToken,
          password: "reset passphrase y",
        })
      ).status,
    ).toBe(400);
  });

  test("when the verification token from user.created is posted, then the email is verified once and user.email_verified is emitted", async () => {
    const body = await register("verify");
    const created = await waitFor(
      async () => (await outboxEvents(db.url, "user.created", body.user.id))[0],
    );
    expect(Object.keys(created.data).sort()).toEqual([
      "email",
      "emailVerified",
      "name",
      "sequence",
      "timezone",
      "userId",
      "verificationToken",
    ]);
    expect(created.producer).toBe("users");
    const token = created.data.verificationToken as string;
    expect((await http.post("/auth/verify-email", { token: "bogus" })).status).toBe(400);
    expect((await http.post("/auth/verify-email", { token })).status).toBe(204);
    expect((await http.post("/auth/verify-email", { token })).status).toBe(400);
    expect(
      (await http.get<{ emailVerified: boolean }>("/me", body.accessToken)).body.emailVerified,
    ).toBe(true);
    expect(await outboxEvents(db.url, "user.email_verified", body.user.id)).toHaveLength(1);
  });
});

describe("MFA", () => {
  async function enableMfa(
    body: AuthBody,
  ): Promise<{ secret: string; recoveryCodes: string[]; step: number }> {
    const setup = await http.post<{ secret: string; otpauthUrl: string; recoveryCodes: string[] }>(
      "/auth/mfa/setup",
      {},
      body.accessToken,
    );
    expect(setup.status).toBe(200);
    const step = currentStep();
    expect(
      (
        await http.post(
          "/auth/mfa/enable",
          { otp: totpAt(setup.body.secret, step) },
          body.accessToken,
        )
      ).status,
    ).toBe(204);
    return { ...setup.body, step };
  }

  test("when MFA is set up, then the secret is ≥ 160 bits of base32 and the otpauth URL says SHA1, 6 digits, 30 s", async () => {
    const body = await register("mfa-setup");
    const setup = await http.post<{ secret: string; otpauthUrl: string; recoveryCodes: string[] }>(
      "/auth/mfa/setup",
      {},
      body.accessToken,
    );
    expect(setup.status).toBe(200);
    expect(setup.body.secret).toMatch(/^[A-Z2-7]{32,}$/);
    const url = new URL(setup.body.otpauthUrl);
    expect(url.protocol).toBe("otpauth:");
    expect(url.host).toBe("totp");
    expect(url.searchParams.get("secret")).toBe(setup.body.secret);
    expect(url.searchParams.get("algorithm")).toBe("SHA1");
    expect(url.searchParams.get("digits")).toBe("6");
    expect(url.searchParams.get("period")).toBe("30");
    const wrong = await http.post(
      "/auth/mfa/enable",
      { otp: totpAt(setup.body.secret, currentStep() + 5) },
      body.accessToken,
    );
    expect(wrong.status).toBe(422);
    expect((await http.get<{ mfaEnabled: boolean }>("/me", body.accessToken)).body.mfaEnabled).toBe(
      false,
    );
    const stored = JSON.stringify(
      await sql(db.url, "SELECT * FROM users.recovery_codes WHERE user_id = $1", [body.user.id]),
    );
    expect(stored).not.toContain(setup.body.recoveryCodes[0]);
  });

  test("when MFA is on, then login needs a fresh code: missing or wrong → 401 MFA_REQUIRED without tokens, a replay is refused, drift of one step is accepted", async () => {
    const body = await register("mfa-login");
    const { secret, step } = await enableMfa(body);
    const missing = await login(body.user.email);
    expect(missing.status).toBe(401);
    expect(missing.body.type).toBe("MFA_REQUIRED");
    expect(JSON.stringify(missing.body)).not.toMatch(/accessToken|refreshToken/);
    const wrong = await login(body.user.email, PASSWORD, totpAt(secret, step + 7));
    expect([wrong.status, wrong.body.type]).toEqual([401, "MFA_REQUIRED"]);
    // The code that enabled MFA was spent.
    expect((await login(body.user.email, PASSWORD, totpAt(secret, step))).status).toBe(401);
    const next = totpAt(secret, step + 1);
    const ok = await login(body.user.email, PASSWORD, next);
    expect(ok.status).toBe(200);
    expect(ok.body.user.mfaEnabled).toBe(true);
    const replay = await login(body.user.email, PASSWORD, next);
    expect([replay.status, replay.body.type]).toEqual([401, "MFA_REQUIRED"]);
    // The wrong password still answers as a wrong password, not as an MFA prompt.
    expect(
      (await login(body.user.email, "not the password", totpAt(secret, step + 1))).body.type,
    ).toBe("INVALID_CREDENTIALS");
  });

  test("when a code one step old is given at enable, then it is accepted (±1 step)", async () => {
    const body = await register("mfa-drift");
    const setup = await http.post<{ secret: string }>("/auth/mfa/setup", {}, body.accessToken);
    expect(
      (
        await http.post(
          "/auth/mfa/enable",
          { otp: totpAt(setup.body.secret, currentStep() - 1) },
          body.accessToken,
        )
      ).status,
    ).toBe(204);
  });

  test("when wrong codes are guessed for a pending login, then after five the login answers 429 even with a right code", async () => {
    const body = await register("mfa-guess");
    const { secret, step } = await enableMfa(body);
    for (let i = 0; i < 5; i++) {
      expect((await login(body.user.email, PASSWORD, String(100000 + i))).status).toBe(401);
    }
    const blocked = await login(body.user.email, PASSWORD, totpAt(secret, step + 1));
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(0);
  });

  test("when a recovery code is used, then it works once; turning MFA off needs a valid code; a reset does not bypass MFA", async () => {
    const body = await register("mfa-recovery");
    const { secret, recoveryCodes, step } = await enableMfa(body);
    expect(recoveryCodes).toHaveLength(10);
    const code = recoveryCodes[0];
    expect((await login(body.user.email, PASSWORD, code.toLowerCase())).status).toBe(200);
    expect((await login(body.user.email, PASSWORD, code)).status).toBe(401);

    await http.post("/auth/password/forgot", { email: body.user.email });
    const event = await waitFor(
      async () => (await outboxEvents(db.url, "user.password_reset_requested", body.user.id))[0],
    );
    expect(
      (
        await http.post("/auth/password/reset", {
          token: event.data.resetToken,
          password: "after reset passphrase",
        })
      ).status,
    ).toBe(204);
    const afterReset = await login(body.user.email, "after reset passphrase");
    expect([afterReset.status, afterReset.body.type]).toEqual([401, "MFA_REQUIRED"]);

    const signedIn = await login(body.user.email, "after reset passphrase", recoveryCodes[1]);
    expect(signedIn.status).toBe(200);
    expect(
      (await http.post("/auth/mfa/disable", { otp: "000000" }, signedIn.body.accessToken)).status,
    ).toBe(422);
    expect(
      (
        await http.post(
          "/auth/mfa/disable",
          { otp: totpAt(secret, step + 1) },
          signedIn.body.accessToken,
        )
      ).status,
    ).toBe(204);
    expect((await login(body.user.email, "after reset passphrase")).status).toBe(200);
    expect(
      await sql(db.url, "SELECT 1 FROM users.recovery_codes WHERE user_id = $1", [body.user.id]),
    ).toHaveLength(0);
  });

  test("when recovery codes are regenerated, then the old ones stop working", async () => {
    const body = await register("mfa-regen");
    const { secret, recoveryCodes, step } = await enableMfa(body);
    const fresh = (await node.broker.call(
      "users.mfaRecoveryCodes",
      { otp: totpAt(secret, step + 1) },
      { meta: { user: { id: body.user.id, roles: ["learner"] } } },
    )) as { recoveryCodes: string[] };
    expect(fresh.recoveryCodes).toHaveLength(10);
    expect((await login(body.user.email, PASSWORD, recoveryCodes[0])).status).toBe(401);
    expect((await login(body.user.email, PASSWORD, fresh.recoveryCodes[0])).status).toBe(200);
  });
});

describe("profiles, admin and internal actions", () => {
  test("when a user patches /me, then the allowed fields change, user.updated is emitted and users.profiles sees it at once", async () => {
    const body = await register("profile");
    const before = (await node.broker.call("users.profiles", { ids: [body.user.id] })) as Array<
      Record<string, unknown>
    >;
    expect(before).toEqual([
      {
        id: body.user.id,
        email: body.user.email,
        name: "Name profile",
        timezone: "UTC",
        dailyGoalXp: 20,
        emailVerified: false,
        nativeLanguage: null,
        newCardsPerDay: 20,
      },
    ]);
    const res = await http.call<Record<string, unknown>>("PATCH", "/me", {
      token: body.accessToken,
      body: {
        name: "Grace",
        timezone: "America/Sao_Paulo",
        nativeLanguage: "pt-BR",
        dailyGoalXp: 50,
        avatarUrl: "https://cdn.example.com/a.png",
      },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      name: "Grace",
      timezone: "America/Sao_Paulo",
      nativeLanguage: "pt-BR",
      dailyGoalXp: 50,
      avatarUrl: "https://cdn.example.com/a.png",
    });
    const after = (await node.broker.call("users.profiles", { ids: [body.user.id] })) as Array<
      Record<string, unknown>
    >;
    expect(after[0]).toMatchObject({
      name: "Grace",
      timezone: "America/Sao_Paulo",
      dailyGoalXp: 50,
    });
    const updated = await waitFor(
      async () => (await outboxEvents(db.url, "user.updated", body.user.id))[0],
    );
    expect(updated.data).toEqual({
      userId: body.user.id,
      name: "Grace",
      sequence: 2,
      timezone: "America/Sao_Paulo",
      // The agreed extension: what notify and progress keep a copy of (no locale set yet).
      newCardsPerDay: 20,
      profileVisibility: "followers",
      quietHours: null,
    });
  });

  test.each([
    [{ timezone: "Mars/Olympus" }, "timezone"],
    [{ roles: ["admin"] }, "roles"],
    [{ email: "x@example.com" }, "email"],
    [{ id: "00000000-0000-0000-0000-000000000000" }, "id"],
    [{ emailVerified: true }, "emailVerified"],
    [{ mfaEnabled: true }, "mfaEnabled"],
    [{ dailyGoalXp: 0 }, "dailyGoalXp"],
  ])("when /me is patched with %j, then 422 and nothing changes", async (patch, field) => {
    const body = await register("mass");
    const res = await http.call<{ data: Array<{ field?: string; actual?: string }> }>(
      "PATCH",
      "/me",
      { token: body.accessToken, body: patch },
    );
    expect(res.status).toBe(422);
    expect(JSON.stringify(res.body.data)).toContain(field);
    const me = await http.get<Record<string, unknown>>("/me", body.accessToken);
    expect(me.body).toEqual(body.user);
  });

  test.each([
    ["a line break", "Bo\r\nb"],
    ["a bell", "Bob\u0007"],
    ["a right-to-left override", "Bob\u202Egnp.exe"],
    ["a left-to-right embedding", "\u202ABob"],
    ["a first-strong isolate", "Bob\u2068x\u2069"],
    ["a right-to-left mark", "Bob\u200F"],
    ["a line separator", "Bob\u2028Admin"],
  ])(
    "when a name holds %s, then register and PATCH /me refuse it with 422",
    async (_label, name) => {
      type Problems = { type: string; data: Array<{ field: string; type: string }> };
      const registered = await http.post<Problems>("/auth/register", {
        email: newEmail("name"),
        password: PASSWORD,
        name,
      });
      expect(registered.status).toBe(422);
      expect(registered.body.data).toEqual([
        expect.objectContaining({ field: "name", type: "nameCharacters" }),
      ]);
      const body = await register("name");
      const patched = await http.call<Problems>("PATCH", "/me", {
        token: body.accessToken,
        body: { name },
      });
      expect(patched.status).toBe(422);
      expect(patched.body.data).toEqual([
        expect.objectContaining({ field: "name", type: "nameCharacters" }),
      ]);
      expect((await http.get<{ name: string }>("/me", body.accessToken)).body.name).toBe(
        "Name name",
      );
    },
  );

  test("when a name holds NUL or a lone surrogate, then 422 over HTTP and on a direct call, never a 500", async () => {
    const body = await register("nulname");
    for (const name of ["Bo\u0000b", "Bob\uD800"]) {
      const patched = await http.call<{ data: Array<{ field: string }> }>("PATCH", "/me", {
        token: body.accessToken,
        body: { name },
      });
      expect([name, patched.status, patched.body.data.map(item => item.field)]).toEqual([
        name,
        422,
        ["name"],
      ]);
      await expect(
        node.broker.call(
          "users.updateMe",
          { name },
          { meta: { user: { id: body.user.id, roles: ["learner"], sid: "direct" } } },
        ),
      ).rejects.toMatchObject({
        code: 422,
        data: [expect.objectContaining({ field: "name", type: "nameCharacters" })],
      });
    }
    const ok = await http.call<{ name: string }>("PATCH", "/me", {
      token: body.accessToken,
      body: { name: "Zoë 🦄 O'Brien-Łukasz" },
    });
    expect(ok.status).toBe(200);
    expect(ok.body.name).toBe("Zoë 🦄 O'Brien-Łukasz");
  });

  test("when an admin removes its own admin role, or the last admin would be demoted or removed, then 409 and the roles stay", async () => {
    const bootstrap = await login(ADMIN_EMAIL, ADMIN_PASSWORD);
    const adminId = bootstrap.body.user.id;
    const setRoles = (id: string, roles: string[], accessToken: string) =>
      http.call<{ type?: string; code?: number; roles?: string[] }>("PUT", `/users/${id}/roles`, {
        token: accessToken,
        body: { roles },
      });
    const rolesOf = async (id: string) =>
      (
        await sql<{ roles: string[] }>(db.url, "SELECT roles FROM users.users WHERE id = $1", [id])
      )[0].roles;
    const adminCount = async () =>
      Number(
        (
          await sql<{ n: string }>(
            db.url,
            "SELECT count(*) AS n FROM users.users WHERE 'admin' = ANY(roles)",
          )
        )[0].n,
      );

    const own = await setRoles(adminId, ["learner"], bootstrap.body.accessToken);
    expect(own.status).toBe(409);
    expect(own.body).toEqual({
      name: "MoleculerClientError",
      message: expect.any(String),
      code: 409,
      type: "OWN_ADMIN_ROLE",
    });
    expect(await rolesOf(adminId)).toEqual(["admin"]);

    // The last admin, changed without a caller of its own (the REPL): 409 LAST_ADMIN.
    await expect(
      node.broker.call("users.setRoles", { id: adminId, roles: ["author"] }),
    ).rejects.toMatchObject({ code: 409, type: "LAST_ADMIN" });
    await expect(node.broker.call("users.remove", { id: adminId })).rejects.toMatchObject({
      code: 409,
      type: "LAST_ADMIN",
    });
    expect(await rolesOf(adminId)).toEqual(["admin"]);

    // With a second admin, one may demote the other; demoting each other at once leaves one.
    const second = await register("second-admin");
    expect((await setRoles(second.user.id, ["admin"], bootstrap.body.accessToken)).status).toBe(
      200,
    );
    expect(await adminCount()).toBe(2);
    const other = await login(second.user.email);
    const [a, b] = await Promise.all([
      setRoles(second.user.id, ["learner"], bootstrap.body.accessToken),
      setRoles(adminId, ["learner"], other.body.accessToken),
    ]);
    const statuses = [a.status, b.status].sort();
    expect(statuses[0]).toBe(200);
    // The loser is refused: 409 LAST_ADMIN, or 403 once its own demotion reached the gateway.
    expect([403, 409]).toContain(statuses[1]);
    expect(await adminCount()).toBe(1);
    if ((await rolesOf(adminId)).includes("admin")) {
      expect(await rolesOf(second.user.id)).toEqual(["learner"]);
    } else {
      // The bootstrap admin lost the race: the remaining admin gives its role back.
      const winner = await login(second.user.email);
      expect((await setRoles(adminId, ["admin"], winner.body.accessToken)).status).toBe(200);
      const restored = await login(ADMIN_EMAIL, ADMIN_PASSWORD);
      expect((await setRoles(second.user.id, ["learner"], restored.body.accessToken)).status).toBe(
        200,
      );
    }
    expect(await rolesOf(adminId)).toEqual(["admin"]);
  });

  test("when ADMIN_EMAIL/ADMIN_PASSWORD are set, then that admin exists and can list, search and change roles", async () => {
    const admin = await login(ADMIN_EMAIL, ADMIN_PASSWORD);
    expect(admin.status).toBe(200);
    expect(admin.body.user.roles).toEqual(["admin"]);
    const target = await register("promote");
    const search = await http.get<{
      rows: Array<{ id: string }>;
      total: number;
      page: number;
      pageSize: number;
      totalPages: number;
    }>(`/users?q=${encodeURIComponent("Name promote")}`, admin.body.accessToken);
    expect(search.status).toBe(200);
    expect(search.body).toMatchObject({ total: 1, page: 1, pageSize: 20, totalPages: 1 });
    expect(search.body.rows[0]).toMatchObject({ id: target.user.id });
    expect(JSON.stringify(search.body)).not.toMatch(/argon2|Hash|Secret/);
    const byEmail = await http.get<{ total: number }>(
      `/users?q=${encodeURIComponent(target.user.email.toUpperCase())}`,
      admin.body.accessToken,
    );
    expect(byEmail.body.total).toBe(1);
    const wildcard = await http.get<{ total: number }>(
      `/users?q=${encodeURIComponent("%")}`,
      admin.body.accessToken,
    );
    expect(wildcard.body.total).toBe(0);
    const paged = await http.get<{ rows: unknown[]; pageSize: number; total: number }>(
      "/users?page=1&pageSize=2",
      admin.body.accessToken,
    );
    expect(paged.body.rows).toHaveLength(2);
    // Page size is capped at 100: refused (422) by the action, or clamped by the gateway.
    const tooBig = await http.get<{ pageSize?: number }>(
      "/users?pageSize=101",
      admin.body.accessToken,
    );
    expect(
      tooBig.status === 422 || (tooBig.status === 200 && (tooBig.body.pageSize as number) <= 100),
    ).toBe(true);
    await expect(
      node.broker.call(
        "users.list",
        { pageSize: 101 },
        { meta: { user: { id: admin.body.user.id, roles: ["admin"] } } },
      ),
    ).rejects.toMatchObject({ code: 422 });

    const promoted = await http.call<{ roles: string[] }>("PUT", `/users/${target.user.id}/roles`, {
      token: admin.body.accessToken,
      body: { roles: ["author", "learner"] },
    });
    expect(promoted.status).toBe(200);
    expect(promoted.body.roles).toEqual(["author", "learner"]);
    const refreshed = await http.post<AuthBody>("/auth/refresh", {
      refreshToken: target.refreshToken,
    });
    expect(decodeJwt(refreshed.body.accessToken).payload.roles).toEqual(["author", "learner"]);
    expect(
      (
        await http.call("PUT", `/users/${target.user.id}/roles`, {
          token: admin.body.accessToken,
          body: { roles: ["king"] },
        })
      ).status,
    ).toBe(422);
    expect(
      (
        await http.call("PUT", "/users/not-a-uuid/roles", {
          token: admin.body.accessToken,
          body: { roles: ["author"] },
        })
      ).status,
    ).toBe(404);
  });

  test("when users.remove is called (REPL), then the account, its sessions and tokens go and user.deleted is emitted", async () => {
    const body = await register("remove");
    await expect(node.broker.call("users.remove", { id: body.user.id })).resolves.toEqual({
      id: body.user.id,
      deleted: true,
    });
    expect((await http.post("/auth/refresh", { refreshToken: body.refreshToken })).status).toBe(
      401,
    );
    expect((await login(body.user.email)).status).toBe(401);
    expect(await node.broker.call("users.profiles", { ids: [body.user.id] })).toEqual([]);
    expect(await outboxEvents(db.url, "user.deleted", body.user.id)).toHaveLength(1);
  });
});

describe("revocation takes effect at once (api.md Identity, security.md 25)", () => {
  /** Status of the old access token on a few protected routes of the users service. */
  async function statusesOf(token: string): Promise<number[]> {
    return [
      (await http.get("/me", token)).status,
      (await http.get("/auth/sessions", token)).status,
      (await http.call("PATCH", "/me", { token, body: { name: "Still here" } })).status,
    ];
  }

  test("when a user logs out, then that session's access token answers 401 at once; another session's still works", async () => {
    const body = await register("revoke-logout");
    const other = await login(body.user.email);
    expect(await statusesOf(body.accessToken)).toEqual([200, 200, 200]);
    expect(
      (await http.post("/auth/logout", { refreshToken: body.refreshToken }, body.accessToken))
        .status,
    ).toBe(204);
    expect(await statusesOf(body.accessToken)).toEqual([401, 401, 401]);
    expect((await http.get("/me", body.accessToken)).body).toMatchObject({
      code: 401,
      type: "UNAUTHORIZED",
    });
    expect(await statusesOf(other.body.accessToken)).toEqual([200, 200, 200]);
  });

  test("when a session is deleted, then its access token answers 401 at once and the caller's own keeps working", async () => {
    const body = await register("revoke-session");
    const other = await login(body.user.email);
    const otherSid = decodeJwt(other.body.accessToken).payload.sid as string;
    expect(
      (await http.call("DELETE", `/auth/sessions/${otherSid}`, { token: body.accessToken })).status,
    ).toBe(204);
    expect(await statusesOf(other.body.accessToken)).toEqual([401, 401, 401]);
    expect(await statusesOf(body.accessToken)).toEqual([200, 200, 200]);
  });

  test("when a rotated refresh token comes back, then every access token of that family answers 401", async () => {
    const body = await register("revoke-reuse");
    const rotated = await http.post<AuthBody>("/auth/refresh", { refreshToken: body.refreshToken });
    expect(rotated.status).toBe(200);
    expect(await statusesOf(rotated.body.accessToken)).toEqual([200, 200, 200]);
    expect((await http.post("/auth/refresh", { refreshToken: body.refreshToken })).status).toBe(
      401,
    );
    expect(await statusesOf(body.accessToken)).toEqual([401, 401, 401]);
    expect(await statusesOf(rotated.body.accessToken)).toEqual([401, 401, 401]);
  });

  test("when the password is changed, then every access token issued before answers 401, the caller's too; its refresh token gets one that works", async () => {
    const body = await register("revoke-change");
    const other = await login(body.user.email);
    expect(
      (
        await http.post(
          "/auth/password/change",
          { currentPassword: PASSWORD, newPassword: "a changed passphrase 7" },
          body.accessToken,
        )
      ).status,
    ).toBe(204);
    expect(await statusesOf(body.accessToken)).toEqual([401, 401, 401]);
    expect(await statusesOf(other.body.accessToken)).toEqual([401, 401, 401]);
    // At once, in the same second as the change: a token issued after it is not caught.
    const renewed = await http.post<AuthBody>("/auth/refresh", { refreshToken: body.refreshToken });
    expect(renewed.status).toBe(200);
    expect(await statusesOf(renewed.body.accessToken)).toEqual([200, 200, 200]);
  });

  test("when the password is reset, then access tokens issued before answer 401 and a login right after gets one that works", async () => {
    const body = await register("revoke-reset");
    await http.post("/auth/password/forgot", { email: body.user.email });
    const requested = await waitFor(
      async () => (await outboxEvents(db.url, "user.password_reset_requested", body.user.id))[0],
    );
    expect(
      (
        await http.post("/auth/password/reset", {
          token: requested.data.resetToken,
          password: "a reset passphrase 9",
        })
      ).status,
    ).toBe(204);
    expect(await statusesOf(body.accessToken)).toEqual([401, 401, 401]);
    const fresh = await login(body.user.email, "a reset passphrase 9");
    expect(fresh.status).toBe(200);
    expect(await statusesOf(fresh.body.accessToken)).toEqual([200, 200, 200]);
  });

  test("when an admin is demoted, then the old token answers 403 on admin routes at once and keeps only the roles still held", async () => {
    const admin = await login(ADMIN_EMAIL, ADMIN_PASSWORD);
    const target = await register("revoke-demote");
    const setRoles = (roles: string[]) =>
      http.call("PUT", `/users/${target.user.id}/roles`, {
        token: admin.body.accessToken,
        body: { roles },
      });
    expect((await setRoles(["learner", "admin"])).status).toBe(200);
    const promoted = await login(target.user.email);
    expect(decodeJwt(promoted.body.accessToken).payload.roles).toEqual(["learner", "admin"]);
    expect((await http.get("/users", promoted.body.accessToken)).status).toBe(200);

    expect((await setRoles(["learner"])).status).toBe(200);
    const denied = await http.get("/users", promoted.body.accessToken);
    expect(denied.status).toBe(403);
    expect(denied.body).toMatchObject({ code: 403, type: "FORBIDDEN" });
    expect(
      (
        await http.call("PUT", `/users/${target.user.id}/roles`, {
          token: promoted.body.accessToken,
          body: { roles: ["learner", "admin"] },
        })
      ).status,
    ).toBe(403);
    // The learner part of the token still holds.
    expect((await http.get("/me", promoted.body.accessToken)).status).toBe(200);
  });

  test("when users.remove erases an account, then its still-valid access token answers 401 everywhere at once", async () => {
    const body = await register("revoke-erase");
    expect(await statusesOf(body.accessToken)).toEqual([200, 200, 200]);
    await node.broker.call("users.remove", { id: body.user.id });
    expect(await statusesOf(body.accessToken)).toEqual([401, 401, 401]);
  });

  test("when revocations are made, then they are kept in Redis for as long as an access token lives", async () => {
    const body = await register("revoke-stored");
    await http.post("/auth/logout", { refreshToken: body.refreshToken }, body.accessToken);
    const redis = new Redis(SERVERS.redis.url);
    try {
      const key = `${ns}:auth:revocations`;
      const members = await redis.zrange(key, 0, -1);
      const sid = decodeJwt(body.accessToken).payload.sid as string;
      expect(members.map(member => JSON.parse(member) as Record<string, unknown>)).toEqual(
        expect.arrayContaining([expect.objectContaining({ kind: "session", sid })]),
      );
      expect(members.join()).not.toContain(body.refreshToken);
      const ttl = await redis.pttl(key);
      expect(ttl).toBeGreaterThan(15 * 60_000);
      expect(ttl).toBeLessThanOrEqual(16 * 60_000);
    } finally {
      redis.disconnect();
    }
  });
});

describe("secrets", () => {
  test("when every flow above has run, then no password, hash, token value or TOTP secret appears in a log line or a non-token event", async () => {
    const body = await register("secrets");
    const setup = await http.post<{ secret: string }>("/auth/mfa/setup", {}, body.accessToken);
    await login(body.user.email, "a wrong password!");
    await http.post("/auth/refresh", { refreshToken: body.refreshToken });
    await http.post("/auth/refresh", { refreshToken: body.refreshToken });
    const logs = consoleLines.join("\n");
    expect(logs.length).toBeGreaterThan(0);
    for (const secret of [
      PASSWORD,
      "a wrong password!",
      body.refreshToken,
      body.accessToken,
      setup.body.secret,
      "$argon2id$",
    ]) {
      expect(logs).not.toContain(secret);
    }
    const events = await sql<{ type: string; payload: { data: Record<string, unknown> } }>(
      db.url,
      "SELECT type, payload FROM users.outbox",
    );
    const allowed: Record<string, string[]> = {
      "user.created": [
        "email",
        "emailVerified",
        "name",
        "sequence",
        "timezone",
        "userId",
        "verificationToken",
      ],
      "user.updated": [
        "name",
        "newCardsPerDay",
        "profileVisibility",
        "quietHours",
        "sequence",
        "timezone",
        "userId",
      ],
      "user.email_verified": ["sequence", "userId"],
      "user.password_reset_requested": ["email", "name", "resetToken", "sequence", "userId"],
      "user.deleted": ["sequence", "userId"],
      "user.security_changed": ["sequence", "userId", "what"],
    };
    for (const event of events)
      expect(Object.keys(event.payload.data).sort()).toEqual(allowed[event.type]);
    expect(JSON.stringify(events)).not.toMatch(/argon2|passwordHash|mfaSecret/);
  });
});
