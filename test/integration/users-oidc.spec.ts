import crypto from "node:crypto";
import { startTestNode, type TestNode } from "../support/cluster";
import { freePort } from "../support/node-process";
import {
  clusterEnv,
  createTestDatabase,
  uniqueName,
  type TestDatabase,
} from "../support/isolation";
import {
  Browser,
  nativeIdToken,
  startTestProvider,
  type ProviderAccount,
  type TestProvider,
} from "./oidc.support";
import {
  api,
  currentStep,
  newEmail,
  outboxEvents,
  PASSWORD,
  sql,
  totpAt,
  type AuthBody,
} from "./users.support";

/**
 * Sign-in with an OpenID Connect provider (api.md "Identity, continued"), through the real
 * gateway and users service on NATS, Redis, RabbitMQ and PostgreSQL, against a real provider
 * (oidc-provider) on loopback: the browser flow walked hop by hop, the native flow with the
 * provider's own ID tokens, and what must be refused.
 */

jest.setTimeout(60_000);

const APP_REDIRECT = "https://app.example.test/auth/done";
const ADMIN_EMAIL = "oidc.admin@example.com";
const ADMIN_PASSWORD = "admin bootstrap passphrase 42";
const ns = uniqueName("oidc");
let db: TestDatabase;
let node: TestNode;
let school: TestProvider;
let other: TestProvider;
let http: ReturnType<typeof api>;
let callbackPrefix: string;

function providerAccount(overrides: Partial<ProviderAccount> = {}): string {
  const sub = crypto.randomUUID();
  school.accounts.set(sub, {
    email: newEmail("sso").toLowerCase(),
    emailVerified: true,
    name: "Sam School",
    ...overrides,
  });
  return sub;
}

async function start(token?: string, redirectUri = APP_REDIRECT): Promise<string> {
  const res = token
    ? await http.post<{ authorizationUrl: string }>(
        "/me/identities/school/start",
        { redirectUri },
        token,
      )
    : await http.post<{ authorizationUrl: string }>("/auth/oidc/school/start", { redirectUri });
  expect(res.status).toBe(200);
  return res.body.authorizationUrl;
}

/** The whole browser flow: start, the provider's login and consent, our callback, the app. */
async function browserFlow(sub: string, token?: string): Promise<URL> {
  return new Browser().signIn(await start(token), sub, APP_REDIRECT);
}

async function exchange(code: string, otp?: string) {
  return http.post<AuthBody & { created: boolean; type?: string }>(
    "/auth/oidc/exchange",
    otp === undefined ? { code } : { code, otp },
  );
}

async function register(email = newEmail("local")): Promise<AuthBody> {
  const res = await http.post<AuthBody>("/auth/register", { email, password: PASSWORD, name: "L" });
  expect(res.status).toBe(201);
  return res.body;
}

async function verify(userId: string): Promise<void> {
  const [created] = await outboxEvents(db.url, "user.created", userId);
  const token = created.data.verificationToken as string;
  expect((await http.post("/auth/verify-email", { token })).status).toBe(204);
}

beforeAll(async () => {
  db = await createTestDatabase("lm_oidc");
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  callbackPrefix = `${publicUrl}/api/v1/auth/oidc/school/callback`;
  school = await startTestProvider({ clientId: "lingomesh-web", redirectUris: [callbackPrefix] });
  other = await startTestProvider({ clientId: "lingomesh-web", redirectUris: [] });
  node = await startTestNode(["api", "users"], {
    ...clusterEnv(ns, db.url),
    PORT: String(port),
    PUBLIC_URL: publicUrl,
    RATE_LIMIT_RPM: "1000000",
    AUTH_REDIRECT_URIS: `${APP_REDIRECT},com.example.app:/auth`,
    OIDC_SCHOOL_ISSUER: school.issuer,
    OIDC_SCHOOL_CLIENT_ID: school.clientId,
    OIDC_SCHOOL_CLIENT_SECRET: school.clientSecret,
    OIDC_SCHOOL_NAME: "Northside School",
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
  });
  http = api(node.apiUrl as string);
});

afterAll(async () => {
  await node?.stop();
  await school?.close();
  await other?.close();
  await db?.drop();
});

describe("the providers", () => {
  test("when the providers are listed, then each configured one is named, nothing secret", async () => {
    const res = await http.get("/auth/providers");
    expect(res.status).toBe(200);
    expect(res.body).toEqual([{ id: "school", name: "Northside School" }]);
  });

  test("when a sign-in starts, then the URL asks the provider for a code with PKCE S256, state and nonce", async () => {
    const url = new URL(await start());
    expect(url.origin).toBe(school.issuer);
    const q = url.searchParams;
    expect(q.get("response_type")).toBe("code");
    expect(q.get("client_id")).toBe("lingomesh-web");
    expect(q.get("redirect_uri")).toBe(callbackPrefix);
    expect(q.get("code_challenge_method")).toBe("S256");
    expect(q.get("code_challenge")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(q.get("state")).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    expect(q.get("nonce")).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    // Server-side: only the state's digest is kept.
    const rows = await sql<{ state_hash: string }>(
      db.url,
      "SELECT state_hash FROM users.oidc_flows",
    );
    expect(rows.map(row => row.state_hash)).not.toContain(q.get("state"));
  });

  test("when the redirect URI is not allow-listed or the provider unknown, then 422 and 404", async () => {
    const bad = await http.post("/auth/oidc/school/start", {
      redirectUri: "https://evil.example/steal",
    });
    expect(bad.status).toBe(422);
    expect(bad.body.data).toEqual([expect.objectContaining({ field: "redirectUri" })]);
    const unknown = await http.post("/auth/oidc/nope/start", { redirectUri: APP_REDIRECT });
    expect(unknown.status).toBe(404);
    expect(unknown.body.type).toBe("PROVIDER_NOT_FOUND");
  });
});

describe("the browser flow", () => {
  test("when a new user signs in at the provider, then the app gets a one-time code that gives our tokens and a verified account", async () => {
    const sub = providerAccount({ name: "Ada Provider" });
    const back = await browserFlow(sub);
    expect(back.origin + back.pathname).toBe(APP_REDIRECT);
    const code = back.searchParams.get("code") as string;
    expect(code).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const res = await exchange(code);
    expect(res.status).toBe(200);
    expect(res.body.created).toBe(true);
    expect(res.body.user).toMatchObject({
      email: school.accounts.get(sub)?.email,
      name: "Ada Provider",
      emailVerified: true,
    });
    const me = await http.get("/me", res.body.accessToken);
    expect(me.body.id).toBe(res.body.user.id);
    const ids = await http.get<Array<Record<string, unknown>>>(
      "/me/identities",
      res.body.accessToken,
    );
    expect(ids.body).toEqual([
      {
        id: expect.any(String),
        provider: "school",
        email: school.accounts.get(sub)?.email,
        linkedAt: expect.stringMatching(/Z$/),
      },
    ]);

    // The same code again: single use.
    const replay = await exchange(code);
    expect(replay.status).toBe(400);
    expect(replay.body.type).toBe("INVALID_CODE");

    // Signing in again finds the same account by its sub.
    const again = await exchange((await browserFlow(sub)).searchParams.get("code") as string);
    expect(again.body).toMatchObject({ created: false, user: { id: res.body.user.id } });
  });

  test("when the callback is replayed or carries a state we never gave, then 400 INVALID_STATE", async () => {
    const sub = providerAccount();
    const browser = new Browser();
    const callback = await browser.signIn(await start(), sub, callbackPrefix);
    const first = await browser.request(callback.href);
    expect(first.status).toBe(302);
    expect(new URL(first.headers.get("location") as string).searchParams.get("code")).toBeTruthy();
    const replay = await browser.request(callback.href);
    expect(replay.status).toBe(400);
    expect(((await replay.json()) as { type: string }).type).toBe("INVALID_STATE");

    const forged = new URL(callback);
    forged.searchParams.set("state", crypto.randomBytes(16).toString("base64url"));
    const wrong = await browser.request(forged.href);
    expect(wrong.status).toBe(400);
  });

  test("when the ID token's nonce is not the flow's, then the app is sent back with an error and no code", async () => {
    const sub = providerAccount();
    const url = await start();
    // The provider echoes the nonce it was sent; the flow held server-side expects another.
    await sql(db.url, "UPDATE users.oidc_flows SET nonce = 'not-the-one-sent'");
    const back = await new Browser().signIn(url, sub, APP_REDIRECT);
    expect(back.searchParams.get("code")).toBeNull();
    expect(back.searchParams.get("error")).toBe("PROVIDER_REJECTED");
  });

  test("when the exchange code is older than 60 s, then it is refused", async () => {
    const back = await browserFlow(providerAccount());
    await sql(
      db.url,
      "UPDATE users.oidc_exchange_codes SET expires_at = now() - interval '1 second'",
    );
    const res = await exchange(back.searchParams.get("code") as string);
    expect(res.status).toBe(400);
  });
});

describe("accounts that exist already", () => {
  test("when the provider's verified email is an unverified local account, then ACCOUNT_EXISTS and nothing is linked", async () => {
    const local = await register();
    const sub = providerAccount({ email: local.user.email });
    const back = await browserFlow(sub);
    expect(back.searchParams.get("error")).toBe("ACCOUNT_EXISTS");
    expect(back.searchParams.get("code")).toBeNull();
    const ids = await http.get<unknown[]>("/me/identities", local.accessToken);
    expect(ids.body).toEqual([]);
  });

  test("when the provider's email is not verified there, then ACCOUNT_EXISTS even for a verified local account", async () => {
    const local = await register();
    await verify(local.user.id);
    const back = await browserFlow(
      providerAccount({ email: local.user.email, emailVerified: false }),
    );
    expect(back.searchParams.get("error")).toBe("ACCOUNT_EXISTS");
  });

  test("when both sides verified the email, then the sign-in links to the local account", async () => {
    const local = await register();
    await verify(local.user.id);
    const back = await browserFlow(providerAccount({ email: local.user.email }));
    const res = await exchange(back.searchParams.get("code") as string);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ created: false, user: { id: local.user.id } });
    // The owner is told a provider can now sign in to the account (notify's security mail).
    const linked = await outboxEvents(db.url, "user.identity_linked", local.user.id);
    expect(linked.map(event => event.data.provider)).toEqual(["school"]);
  });

  test("when the account has MFA on, then the exchange needs the second factor and keeps the code until it comes", async () => {
    const local = await register();
    await verify(local.user.id);
    const setup = await http.post<{ secret: string; recoveryCodes: string[] }>(
      "/auth/mfa/setup",
      {},
      local.accessToken,
    );
    const enabled = await http.post(
      "/auth/mfa/enable",
      { otp: totpAt(setup.body.secret, currentStep()) },
      local.accessToken,
    );
    expect(enabled.status).toBe(204);
    const code = (await browserFlow(providerAccount({ email: local.user.email }))).searchParams.get(
      "code",
    ) as string;
    const without = await exchange(code);
    expect(without.status).toBe(401);
    expect(without.body.type).toBe("MFA_REQUIRED");
    const withCode = await exchange(code, setup.body.recoveryCodes[0]);
    expect(withCode.status).toBe(200);
    expect(withCode.body.user.id).toBe(local.user.id);
  });
});

describe("linking and unlinking", () => {
  test("when a signed-in user links the provider, then it is listed, can sign in with it, and unlinks (it has a password)", async () => {
    const local = await register();
    const sub = providerAccount({ emailVerified: false });
    const back = await browserFlow(sub, local.accessToken);
    expect(back.searchParams.get("linked")).toBe("school");
    expect(await outboxEvents(db.url, "user.identity_linked", local.user.id)).toHaveLength(1);
    const ids = await http.get<Array<{ id: string; provider: string }>>(
      "/me/identities",
      local.accessToken,
    );
    expect(ids.body.map(identity => identity.provider)).toEqual(["school"]);
    const signIn = await exchange((await browserFlow(sub)).searchParams.get("code") as string);
    expect(signIn.body.user.id).toBe(local.user.id);

    // Another account cannot take it, nor remove it.
    const stranger = await register();
    const taken = await browserFlow(sub, stranger.accessToken);
    expect(taken.searchParams.get("error")).toBe("IDENTITY_TAKEN");
    const bola = await http.call("DELETE", `/me/identities/${ids.body[0].id}`, {
      token: stranger.accessToken,
    });
    expect(bola.status).toBe(404);

    const unlinked = await http.call("DELETE", `/me/identities/${ids.body[0].id}`, {
      token: local.accessToken,
    });
    expect(unlinked.status).toBe(204);
    expect((await http.get<unknown[]>("/me/identities", local.accessToken)).body).toEqual([]);
  });

  test("when an account made by the provider unlinks its only identity, then 409: it is the last way in", async () => {
    const made = await exchange(
      (await browserFlow(providerAccount())).searchParams.get("code") as string,
    );
    const [identity] = (
      await http.get<Array<{ id: string }>>("/me/identities", made.body.accessToken)
    ).body;
    const res = await http.call("DELETE", `/me/identities/${identity.id}`, {
      token: made.body.accessToken,
    });
    expect(res.status).toBe(409);
    expect(res.body.type).toBe("LAST_SIGN_IN_METHOD");
    // Nor does its empty password let anyone in.
    const login = await http.post("/auth/login", { email: made.body.user.email, password: "" });
    expect(login.status).not.toBe(200);
  });
});

describe("the native flow (ID token from the provider's SDK)", () => {
  test("when the provider's ID token comes with its nonce, then our tokens; the same token again is refused", async () => {
    const sub = providerAccount();
    const nonce = crypto.randomBytes(16).toString("base64url");
    const idToken = await nativeIdToken(school, sub, nonce);
    const res = await http.post<AuthBody & { created: boolean }>("/auth/oidc/school/id-token", {
      idToken,
      nonce,
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      created: true,
      user: { email: school.accounts.get(sub)?.email },
    });
    const replay = await http.post("/auth/oidc/school/id-token", { idToken, nonce });
    expect(replay.status).toBe(401);
    expect(replay.body.type).toBe("INVALID_ID_TOKEN");
  });

  test("when the nonce is not the token's, then 401", async () => {
    const idToken = await nativeIdToken(school, providerAccount(), "the-real-nonce-1234");
    const res = await http.post("/auth/oidc/school/id-token", {
      idToken,
      nonce: "another-nonce-5678",
    });
    expect(res.status).toBe(401);
  });

  test("when the token is expired, for another audience, or from another issuer, then 401", async () => {
    const sub = providerAccount();
    const claims = {
      iss: school.issuer,
      aud: school.clientId,
      sub,
      nonce: "n-1",
      email: "x@example.com",
    };
    const expired = await school.sign(claims, { expiresIn: -120 });
    const otherAudience = await school.sign({ ...claims, aud: "someone-else" });
    const otherIssuer = await other.sign({ ...claims, iss: other.issuer });
    const claimingOurs = await other.sign(claims);
    const control = await school.sign({ ...claims, nonce: "n-2" });
    for (const idToken of [expired, otherAudience, otherIssuer, claimingOurs]) {
      const res = await http.post("/auth/oidc/school/id-token", { idToken, nonce: "n-1" });
      expect(res.status).toBe(401);
    }
    // The same forgery path with a valid token is accepted: the refusals above are the checks'.
    const ok = await http.post("/auth/oidc/school/id-token", { idToken: control, nonce: "n-2" });
    expect(ok.status).toBe(200);
  });
});

describe("suspension and erasure of provider accounts", () => {
  test("when a suspended account signs in with its provider, then no code: the app gets ACCOUNT_SUSPENDED, the native flow 403", async () => {
    const sub = providerAccount();
    const made = await exchange((await browserFlow(sub)).searchParams.get("code") as string);
    const admin = await http.post<AuthBody>("/auth/login", {
      email: ADMIN_EMAIL,
      password: ADMIN_PASSWORD,
    });
    const suspended = await http.call("POST", `/users/${made.body.user.id}/suspend`, {
      token: admin.body.accessToken,
      body: { reason: "test" },
    });
    expect(suspended.status).toBe(200);
    const back = await browserFlow(sub);
    expect(back.searchParams.get("code")).toBeNull();
    expect(back.searchParams.get("error")).toBe("ACCOUNT_SUSPENDED");
    const nonce = crypto.randomBytes(16).toString("base64url");
    const native = await http.post("/auth/oidc/school/id-token", {
      idToken: await nativeIdToken(school, sub, nonce),
      nonce,
    });
    expect(native.status).toBe(403);
    expect(native.body.type).toBe("ACCOUNT_SUSPENDED");
  });

  test("when an account without a password erases itself, then a fresh provider sign-in's code is the proof again", async () => {
    const sub = providerAccount();
    const made = await exchange((await browserFlow(sub)).searchParams.get("code") as string);
    const token = made.body.accessToken;
    const none = await http.call("DELETE", "/me", { token, body: {} });
    expect(none.status).toBe(422);
    expect(JSON.stringify(none.body.data)).toContain("code");
    // Someone else's fresh code proves nothing about this account.
    const foreignCode = (await browserFlow(providerAccount())).searchParams.get("code") as string;
    expect((await http.call("DELETE", "/me", { token, body: { code: foreignCode } })).status).toBe(
      422,
    );
    const fresh = (await browserFlow(sub)).searchParams.get("code") as string;
    const res = await http.call("DELETE", "/me", { token, body: { code: fresh } });
    expect(res.status).toBe(202);
    expect((await http.get("/me", token)).status).toBe(401);
    // The provider account may start again from nothing.
    const again = await exchange((await browserFlow(sub)).searchParams.get("code") as string);
    expect(again.body.created).toBe(true);
  });
});
