import { startTestNode, type TestNode } from "../support/cluster";
import {
  clusterEnv,
  createTestDatabase,
  uniqueName,
  type TestDatabase,
} from "../support/isolation";
import { startSmtpCatcher, type CaughtMail, type SmtpCatcher } from "./notify.helpers";
import {
  api,
  currentStep,
  newEmail,
  PASSWORD,
  sql,
  totpAt,
  waitFor,
  type AuthBody,
} from "./users.support";

/**
 * Self-service (api.md "Identity, continued"): new recovery codes, a new confirmation link, an
 * email change confirmed from the new address, the export of everything every service holds,
 * and erasure — on a gateway, users, progress and notify node over NATS, Redis, RabbitMQ,
 * PostgreSQL and a real SMTP peer.
 */

jest.setTimeout(60_000);

const ns = uniqueName("uself");
let db: TestDatabase;
let smtp: SmtpCatcher;
let node: TestNode;
let http: ReturnType<typeof api>;

async function register(tag = "self"): Promise<AuthBody> {
  const res = await http.post<AuthBody>("/auth/register", {
    email: newEmail(tag),
    password: PASSWORD,
    name: `Name ${tag}`,
  });
  expect(res.status).toBe(201);
  return res.body;
}

async function mailTo(address: string, template: string, count = 1): Promise<CaughtMail[]> {
  const pick = (mails: CaughtMail[]) =>
    mails.filter(
      m =>
        m.envelopeTo.includes(address.toLowerCase()) &&
        m.header("x-lingomesh-template") === template,
    );
  return pick(await smtp.waitFor(mails => pick(mails).length >= count, 20_000));
}

function tokenIn(mail: CaughtMail): string {
  const match = /verify-email\?token=([A-Za-z0-9_%-]+)/.exec(mail.parsed.text ?? "");
  if (!match) throw new Error("no verification link in the mail");
  return decodeURIComponent(match[1]);
}

beforeAll(async () => {
  db = await createTestDatabase("lm_uself");
  smtp = await startSmtpCatcher();
  node = await startTestNode(["api", "users", "progress", "notify"], {
    ...clusterEnv(ns, db.url),
    RATE_LIMIT_RPM: "1000000",
    SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
  });
  http = api(node.apiUrl as string);
}, 60_000);

afterAll(async () => {
  await node?.stop();
  await smtp?.close();
  await db?.drop();
});

describe("recovery codes", () => {
  test("when new recovery codes are asked for with a current code, then the old ones stop working and the new ones work", async () => {
    const user = await register("codes");
    const setup = await http.post<{ secret: string; recoveryCodes: string[] }>(
      "/auth/mfa/setup",
      {},
      user.accessToken,
    );
    const step = currentStep();
    const enable = { otp: totpAt(setup.body.secret, step - 1) };
    expect((await http.post("/auth/mfa/enable", enable, user.accessToken)).status).toBe(204);
    // A recovery code is not a current code from the app.
    const withRecovery = await http.post(
      "/auth/mfa/recovery-codes",
      { otp: setup.body.recoveryCodes[0] },
      user.accessToken,
    );
    expect(withRecovery.status).toBe(422);
    const res = await http.post<{ recoveryCodes: string[] }>(
      "/auth/mfa/recovery-codes",
      { otp: totpAt(setup.body.secret, step) },
      user.accessToken,
    );
    expect(res.status).toBe(200);
    expect(res.body.recoveryCodes).toHaveLength(10);
    expect(res.body.recoveryCodes).not.toContain(setup.body.recoveryCodes[1]);
    const login = (otp: string) =>
      http.post("/auth/login", { email: user.user.email, password: PASSWORD, otp });
    expect((await login(setup.body.recoveryCodes[1])).status).toBe(401);
    expect((await login(res.body.recoveryCodes[0])).status).toBe(200);
  });
});

describe("confirmation links", () => {
  test("when a new link is asked for, then it is mailed, the older link stops working, and a verified address answers 409", async () => {
    const user = await register("resend");
    const [welcome] = await mailTo(user.user.email, "welcome");
    const res = await http.post("/auth/verify-email/resend", {}, user.accessToken);
    expect(res.status).toBe(202);
    const [resent] = await mailTo(user.user.email, "verify-reminder");
    expect((await http.post("/auth/verify-email", { token: tokenIn(welcome) })).status).toBe(400);
    expect((await http.post("/auth/verify-email", { token: tokenIn(resent) })).status).toBe(204);
    const again = await http.post("/auth/verify-email/resend", {}, user.accessToken);
    expect(again.status).toBe(409);
    expect(again.body.type).toBe("EMAIL_ALREADY_VERIFIED");
  });

  test("when links are asked for over and over, then the fourth in an hour answers 429 with Retry-After", async () => {
    const user = await register("flood");
    for (let i = 0; i < 3; i++) {
      expect((await http.post("/auth/verify-email/resend", {}, user.accessToken)).status).toBe(202);
    }
    const capped = await http.post("/auth/verify-email/resend", {}, user.accessToken);
    expect(capped.status).toBe(429);
    expect(capped.headers.get("retry-after")).toBe("3600");
  });
});

describe("changing the email address", () => {
  test("when a new address is asked for, then it takes effect only once confirmed from it, and the old address is told", async () => {
    const user = await register("mover");
    const target = newEmail("moved").toLowerCase();
    const wrong = await http.call("POST", "/me/email", {
      token: user.accessToken,
      body: { newEmail: target, password: "not my password at all" },
    });
    expect(wrong.status).toBe(422);
    const other = await register("taken");
    const taken = await http.call("POST", "/me/email", {
      token: user.accessToken,
      body: { newEmail: other.user.email, password: PASSWORD },
    });
    expect(taken.status).toBe(409);

    const res = await http.call("POST", "/me/email", {
      token: user.accessToken,
      body: { newEmail: target, password: PASSWORD },
    });
    expect(res.status).toBe(202);
    const [confirm] = await mailTo(target, "email-change");
    const [notice] = await mailTo(user.user.email, "email-change-notice");
    expect(notice.parsed.text).toContain(target);
    expect(notice.parsed.text).not.toMatch(/token=/);
    expect((await http.get("/me", user.accessToken)).body.email).toBe(user.user.email);

    expect((await http.post("/auth/verify-email", { token: tokenIn(confirm) })).status).toBe(204);
    const me = await http.get("/me", user.accessToken);
    expect(me.body).toMatchObject({ email: target, emailVerified: true });
    expect((await http.post("/auth/login", { email: target, password: PASSWORD })).status).toBe(
      200,
    );
    const old = await http.post("/auth/login", { email: user.user.email, password: PASSWORD });
    expect(old.status).toBe(401);
    // notify mails the new address from now on.
    await waitFor(async () => {
      const rows = await sql<{ email: string }>(
        db.url,
        "SELECT email FROM notify.recipients WHERE user_id = $1",
        [user.user.id],
      );
      return rows[0]?.email === target;
    }, 10_000);
  });
});

describe("export and erasure", () => {
  test("when a user exports their data, then one attachment holds every service's part, theirs only, never cached", async () => {
    const user = await register("export");
    const stranger = await register("stranger");
    await mailTo(user.user.email, "welcome");
    const res = await http.get<{
      userId: string;
      users: { profile: { id: string }; sessions: unknown[]; identities: unknown[] };
      services: { progress: Record<string, unknown[]>; notify: Record<string, unknown[]> };
    }>("/me/export", user.accessToken);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-disposition")).toMatch(/^attachment; filename=".+\.json"$/);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.body.userId).toBe(user.user.id);
    expect(res.body.users.profile.id).toBe(user.user.id);
    expect(res.body.users.sessions).toHaveLength(1);
    expect(Object.keys(res.body.services).sort()).toEqual(["notify", "progress"]);
    expect(res.body.services.progress).toHaveProperty("learners");
    const emails = res.body.services.notify.emails as Array<Record<string, unknown>>;
    expect(emails.map(mail => mail.template)).toContain("welcome");
    // The mail log shows what was sent, not the bodies with their links.
    expect(emails[0]).not.toHaveProperty("html");
    const text = JSON.stringify(res.body);
    expect(text).not.toContain(stranger.user.id);
    expect(text).not.toMatch(/passwordHash|argon2|token_hash|verificationToken/);
  });

  test("when a user erases their account, then the password is asked again, the tokens die at once, every service forgets them, and the email is free", async () => {
    const user = await register("erase");
    await mailTo(user.user.email, "welcome");
    // Both services hold the user first: what goes must have been there.
    await waitFor(async () => {
      const rows = await sql(db.url, "SELECT 1 FROM progress.learners WHERE user_id = $1", [
        user.user.id,
      ]);
      return rows.length === 1;
    }, 15_000);
    const none = await http.call("DELETE", "/me", { token: user.accessToken, body: {} });
    expect(none.status).toBe(422);
    const wrong = await http.call("DELETE", "/me", {
      token: user.accessToken,
      body: { password: "not my password at all" },
    });
    expect(wrong.status).toBe(422);
    const res = await http.call("DELETE", "/me", {
      token: user.accessToken,
      body: { password: PASSWORD },
    });
    expect(res.status).toBe(202);
    expect((await http.get("/me", user.accessToken)).status).toBe(401);
    await waitFor(async () => {
      const left = await sql<{ n: string }>(
        db.url,
        `SELECT (SELECT count(*) FROM notify.recipients WHERE user_id = $1)
              + (SELECT count(*) FROM notify.emails WHERE user_id = $1)
              + (SELECT count(*) FROM progress.learners WHERE user_id = $1) AS n`,
        [user.user.id],
      );
      return left[0].n === "0";
    }, 15_000);
    const again = await http.post("/auth/register", {
      email: user.user.email,
      password: PASSWORD,
      name: "Back",
    });
    expect(again.status).toBe(201);
  });
});

describe("security mails", () => {
  const notices = (address: string) =>
    smtp.mails.filter(
      m =>
        m.envelopeTo.includes(address.toLowerCase()) &&
        m.header("x-lingomesh-template") === "security-notice",
    );

  test("when the password changes, MFA goes off, or a new device signs in, then the owner is told; the same device again is no news", async () => {
    const user = await register("guarded");
    const email = user.user.email;
    await mailTo(email, "welcome");
    const sameDevice = await http.post("/auth/login", { email, password: PASSWORD });
    expect(sameDevice.status).toBe(200);
    const elsewhere = await http.call("POST", "/auth/login", {
      body: { email, password: PASSWORD },
      headers: { "user-agent": "Unfamiliar Browser/1.0" },
    });
    expect(elsewhere.status).toBe(200);
    const [newDevice] = await mailTo(email, "security-notice");
    expect(newDevice.parsed.subject).toBe("A new sign-in to your account");

    const setup = await http.post<{ secret: string }>("/auth/mfa/setup", {}, user.accessToken);
    const step = currentStep();
    await http.post(
      "/auth/mfa/enable",
      { otp: totpAt(setup.body.secret, step - 1) },
      user.accessToken,
    );
    const off = await http.post(
      "/auth/mfa/disable",
      { otp: totpAt(setup.body.secret, step) },
      user.accessToken,
    );
    expect(off.status).toBe(204);
    await mailTo(email, "security-notice", 2);

    const changed = await http.post(
      "/auth/password/change",
      { currentPassword: PASSWORD, newPassword: "a whole new passphrase" },
      user.accessToken,
    );
    expect(changed.status).toBe(204);
    const all = await mailTo(email, "security-notice", 3);
    expect(all.map(m => m.parsed.subject).sort()).toEqual(
      [
        "A new sign-in to your account",
        "Two-step verification was turned off",
        "Your password was changed",
      ].sort(),
    );
    // Nothing secret rides in them, and the first login from the same device sent none.
    expect(all.map(m => m.parsed.text).join("\n")).not.toMatch(/token=|passphrase/);
    expect(notices(email)).toHaveLength(3);
  });
});

describe("being followed", () => {
  test("when someone follows a learner, then the learner finds 'X follows you' in the app, once however often it is repeated", async () => {
    const followed = await register("followed");
    const follower = await register("follower");
    for (let i = 0; i < 2; i++) {
      const res = await http.call("PUT", `/me/following/${followed.user.id}`, {
        token: follower.accessToken,
      });
      expect(res.status).toBe(204);
    }
    const list = await waitFor(async () => {
      const res = await http.get<{ rows: Array<Record<string, unknown>> }>(
        "/me/notifications",
        followed.accessToken,
      );
      return res.body.rows.length > 0 ? res.body.rows : undefined;
    }, 15_000);
    expect(list).toEqual([
      expect.objectContaining({
        kind: "user_followed",
        title: "Name follower follows you",
        data: { followerId: follower.user.id },
      }),
    ]);
    await new Promise(resolve => setTimeout(resolve, 500));
    const again = await http.get<{ rows: unknown[] }>("/me/notifications", followed.accessToken);
    expect(again.body.rows).toHaveLength(1);
  });
});
