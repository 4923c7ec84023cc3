import fs from "node:fs";
import path from "node:path";
import { Client } from "pg";
import { currentStep, totpAt } from "../integration/users.support";
import {
  PASSWORD,
  startSecurityCluster,
  waitFor,
  type Answer,
  type SecurityCluster,
} from "./security-kit";

/**
 * security.md line 18: secrets — passwords, password hashes, refresh token values and
 * their digests, TOTP secrets, recovery codes, reset and verification tokens — never appear
 * in an answer (except the answers whose contract is to hand them out), in any line any
 * node logged (at debug level), or in an error. One full identity flow runs through the
 * real gateway; the mailed tokens are read from the real outbox files, the stored digests
 * from the database, and everything captured is scanned for every one of them.
 */

interface Tokens {
  user: { id: string; email: string };
  accessToken: string;
  refreshToken: string;
}

/** Decodes the quoted-printable parts of a mail well enough to find its links. */
function decodeMail(raw: string): string {
  return raw
    .replace(/=\r?\n/g, "")
    .replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

describe("secrets never leak (security.md 18)", () => {
  let c: SecurityCluster;

  beforeAll(async () => {
    c = await startSecurityCluster("secrets", { LOG_LEVEL: "debug" });
  }, 90_000);

  afterAll(async () => {
    await c?.stop();
  });

  async function mailLink(to: string, template: string, page: string): Promise<string> {
    const dir = path.join(c.dataDir, "outbox");
    return waitFor(`${template} mail to ${to}`, async () => {
      if (!fs.existsSync(dir)) return undefined;
      const links: string[] = [];
      for (const file of fs
        .readdirSync(dir)
        .filter(f => f.includes(`-${template}-`))
        .sort()) {
        if (!file.endsWith(".eml")) continue;
        const text = decodeMail(fs.readFileSync(path.join(dir, file), "utf8"));
        if (!text.toLowerCase().includes(to.toLowerCase())) continue;
        const match = new RegExp(`${page}\\?token=([A-Za-z0-9%._~-]+)`).exec(text);
        if (match) links.push(decodeURIComponent(match[1]));
      }
      return links.at(-1);
    });
  }

  async function storedDigests(): Promise<string[]> {
    const client = new Client({ connectionString: c.db.url });
    await client.connect();
    try {
      const values: string[] = [];
      for (const sql of [
        "SELECT unnest(array_remove(ARRAY[password_hash, mfa_secret, mfa_pending_secret], NULL)) AS v FROM users.users",
        "SELECT token_hash AS v FROM users.refresh_tokens",
        "SELECT token_hash AS v FROM users.one_time_tokens",
        "SELECT code_hash AS v FROM users.recovery_codes",
      ]) {
        values.push(...(await client.query<{ v: string }>(sql)).rows.map(row => row.v));
      }
      return values;
    } finally {
      await client.end();
    }
  }

  it("when a whole identity flow has run, then no secret is in any answer that should not carry it, any log line of any node, or any error", async () => {
    const secrets = new Map<string, string>();
    const keep = (name: string, value: string | undefined) => {
      expect([name, typeof value]).toEqual([name, "string"]);
      secrets.set(name, value as string);
    };
    /** Answers whose contract is to hand out the secrets named. */
    const licensed = new Map<Answer, RegExp>();
    const tokensOf = (res: Answer<Tokens>, label: string): Tokens => {
      expect([label, res.status < 300]).toEqual([label, true]);
      licensed.set(res as Answer, /^(access|refresh) token/);
      keep(`access token ${label}`, res.body.accessToken);
      keep(`refresh token ${label}`, res.body.refreshToken);
      return res.body;
    };

    const email = `secret.${c.namespace}@example.com`.toLowerCase();
    const wrong = `wrong-password-${c.namespace}`;
    const second = "second passphrase for the flow";
    const third = "third passphrase for the flow";
    keep("password", PASSWORD);
    keep("wrong password", wrong);
    keep("second password", second);
    keep("third password", third);
    keep("admin password", "admin horse battery staple 1");

    // Register (a weak one first: its password must not come back in the 422), verify by mail.
    const weak = await c.call<{ data: unknown }>("POST", "/auth/register", {
      json: { email, password: "short-pw1", name: "Weak" },
    });
    expect(weak.status).toBe(422);
    keep("weak password", "short-pw1");
    const registered = tokensOf(
      await c.call<Tokens>("POST", "/auth/register", {
        json: { email, password: PASSWORD, name: "Secret Keeper" },
      }),
      "register",
    );
    const verifyToken = await mailLink(email, "welcome", "verify-email");
    keep("verification token", verifyToken);
    expect(
      (await c.call("POST", "/auth/verify-email", { json: { token: verifyToken } })).status,
    ).toBe(204);
    expect(
      (await c.call("POST", "/auth/verify-email", { json: { token: verifyToken } })).status,
    ).toBe(400);

    // Sign in (and fail to), refresh, reuse a rotated token.
    expect((await c.call("POST", "/auth/login", { json: { email, password: wrong } })).status).toBe(
      401,
    );
    const login = tokensOf(
      await c.call<Tokens>("POST", "/auth/login", { json: { email, password: PASSWORD } }),
      "login",
    );
    const rotated = tokensOf(
      await c.call<Tokens>("POST", "/auth/refresh", {
        json: { refreshToken: login.refreshToken },
      }),
      "refresh",
    );
    expect(
      (await c.call("POST", "/auth/refresh", { json: { refreshToken: login.refreshToken } }))
        .status,
    ).toBe(401);
    let token = registered.accessToken;

    // MFA: setup hands out the secret and recovery codes once; then enable, sign in, disable.
    const setup = await c.call<{ secret: string; otpauthUrl: string; recoveryCodes: string[] }>(
      "POST",
      "/auth/mfa/setup",
      { token, json: {} },
    );
    expect(setup.status).toBe(200);
    licensed.set(setup as Answer, /^(TOTP secret|recovery code)/);
    keep("TOTP secret", setup.body.secret);
    setup.body.recoveryCodes.forEach((code, i) => keep(`recovery code ${i}`, code));
    const step = currentStep();
    expect(
      (
        await c.call("POST", "/auth/mfa/enable", {
          token,
          json: { otp: totpAt(setup.body.secret, step - 1) },
        })
      ).status,
    ).toBe(204);
    const mfaRequired = await c.call("POST", "/auth/login", {
      json: { email, password: PASSWORD },
    });
    expect(mfaRequired.status).toBe(401);
    expect(
      (
        await c.call("POST", "/auth/login", {
          json: { email, password: PASSWORD, otp: "000000" },
        })
      ).status,
    ).toBe(401);
    const mfaLogin = tokensOf(
      await c.call<Tokens>("POST", "/auth/login", {
        json: { email, password: PASSWORD, otp: totpAt(setup.body.secret, step) },
      }),
      "mfa login",
    );
    const recoveryLogin = tokensOf(
      await c.call<Tokens>("POST", "/auth/login", {
        json: { email, password: PASSWORD, otp: setup.body.recoveryCodes[0] },
      }),
      "recovery login",
    );
    token = mfaLogin.accessToken;
    expect(
      (
        await c.call("POST", "/auth/mfa/disable", {
          token,
          json: { otp: totpAt(setup.body.secret, step + 1) },
        })
      ).status,
    ).toBe(204);

    // Forgot and reset by mail, change, sessions, logout, profile.
    expect((await c.call("POST", "/auth/password/forgot", { json: { email } })).status).toBe(202);
    const resetToken = await mailLink(email, "password-reset", "reset-password");
    keep("reset token", resetToken);
    expect(
      (
        await c.call("POST", "/auth/password/reset", {
          json: { token: resetToken, password: second },
        })
      ).status,
    ).toBe(204);
    expect(
      (
        await c.call("POST", "/auth/password/reset", {
          json: { token: resetToken, password: third },
        })
      ).status,
    ).toBe(400);
    const afterReset = tokensOf(
      await c.call<Tokens>("POST", "/auth/login", { json: { email, password: second } }),
      "after reset",
    );
    token = afterReset.accessToken;
    expect(
      (
        await c.call("POST", "/auth/password/change", {
          token,
          json: { currentPassword: wrong, newPassword: third },
        })
      ).status,
    ).toBeGreaterThanOrEqual(400);
    expect(
      (
        await c.call("POST", "/auth/password/change", {
          token,
          json: { currentPassword: second, newPassword: third },
        })
      ).status,
    ).toBe(204);
    // A new password ends every access token issued before it; the session's refresh token renews.
    expect((await c.call("GET", "/me", { token })).status).toBe(401);
    const afterChange = tokensOf(
      await c.call<Tokens>("POST", "/auth/refresh", {
        json: { refreshToken: afterReset.refreshToken },
      }),
      "after change",
    );
    token = afterChange.accessToken;
    const sessions = await c.call<Array<{ id: string }>>("GET", "/auth/sessions", { token });
    expect(sessions.status).toBe(200);
    expect((await c.call("GET", "/me", { token })).status).toBe(200);
    expect((await c.call("PATCH", "/me", { token, json: { name: "Still Secret" } })).status).toBe(
      200,
    );
    expect(
      (
        await c.call("POST", "/auth/logout", {
          token,
          json: { refreshToken: afterChange.refreshToken },
        })
      ).status,
    ).toBe(204);
    expect(
      (
        await c.call("POST", "/auth/refresh", {
          json: { refreshToken: afterChange.refreshToken },
        })
      ).status,
    ).toBe(401);

    // What an admin can read about the user and its mail.
    const admin = await c.admin();
    licensed.set(c.answers.at(-1) as Answer, /^(access|refresh) token/);
    keep("access token of the admin", admin.accessToken);
    keep("refresh token of the admin", admin.refreshToken);
    expect((await c.call("GET", `/users?q=${email}`, { token: admin.accessToken })).status).toBe(
      200,
    );
    await waitFor("the mails recorded", async () => {
      const res = await c.call<{ total: number }>("GET", `/emails?to=${email}`, {
        token: admin.accessToken,
      });
      return res.body.total >= 2;
    });
    void rotated;
    void recoveryLogin;

    const digests = await storedDigests();
    expect(digests.length).toBeGreaterThan(5);
    digests.forEach((d, i) => keep(`stored digest ${i}`, d));

    // Scan: answers, then every log line of every node.
    await new Promise(resolve => setTimeout(resolve, 300));
    const leaks: string[] = [];
    // The scan can see: the answers licensed to carry a secret do carry it.
    const seen = [...licensed.keys()].filter(answer =>
      [...secrets.values()].some(value => answer.text.includes(value)),
    );
    expect(seen.length).toBe(licensed.size);
    for (const answer of c.answers) {
      const allowed = licensed.get(answer);
      for (const [name, value] of secrets) {
        if (allowed?.test(name) && answer.text.includes(value)) {
          // Its own kind only: a tokens answer carries no password, digest or TOTP secret.
          continue;
        }
        if (answer.text.includes(value)) {
          leaks.push(`${answer.method} ${answer.path} (${answer.status}) answers the ${name}`);
        }
      }
    }
    const logs = c.logLines.join("\n");
    expect(c.logLines.length).toBeGreaterThan(50);
    // The flow itself was logged (debug level, every node), so its lines were scanned.
    expect(logs).toMatch(/POST \/api\/v1\/auth\/password\/reset/);
    expect(logs).toContain(`${c.namespace}-services`);
    for (const [name, value] of secrets) {
      if (logs.includes(value)) {
        const line = c.logLines.find(l => l.includes(value)) as string;
        leaks.push(
          `a log line carries the ${name}: ${line.replace(value, "<SECRET>").slice(0, 300)}`,
        );
      }
    }
    expect(logs).not.toMatch(/\$argon2|\$scrypt/);
    expect(leaks).toEqual([]);
  });
});
