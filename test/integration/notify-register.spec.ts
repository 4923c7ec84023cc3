import fs from "node:fs";
import path from "node:path";
import PostalMime from "postal-mime";
import { QueryTypes, type Sequelize } from "sequelize";
import { startTestNode, type TestNode } from "../support/cluster";
import { tempDataDir } from "../support/isolation";
import { waitUntil } from "./notify.helpers";

const ADMIN_EMAIL = "ops@example.test";

describe("notify with the real users service and gateway (embedded defaults)", () => {
  let node: TestNode;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = tempDataDir("notify-register");
    node = await startTestNode(["api", "users", "notify"], {
      DATA_DIR: dataDir,
      ADMIN_EMAIL: ADMIN_EMAIL,
      ADMIN_PASSWORD: "bootstrap admin passphrase",
    });
  }, 60_000);

  afterAll(async () => {
    await node?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("when a user registers, then a welcome mail arrives whose verify link verifies the address", async () => {
    const res = await fetch(`${node.apiUrl}/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        email: "reader@example.test",
        password: "a long enough passphrase",
        name: "Reader",
      }),
    });
    expect(res.status).toBe(201);
    const { accessToken } = (await res.json()) as { accessToken: string };
    const outbox = path.join(dataDir, "outbox");
    const file = await waitUntil(
      async () =>
        fs.existsSync(outbox)
          ? fs.readdirSync(outbox).find(f => f.includes("-welcome-"))
          : undefined,
      20_000,
      "welcome .eml",
    );
    const mail = await PostalMime.parse(fs.readFileSync(path.join(outbox, file)));
    const link = /http:\/\/localhost:3000\/verify-email\?token=([^\s"&]+)/.exec(
      mail.text as string,
    );
    expect(link).not.toBeNull();
    const verify = await fetch(`${node.apiUrl}/auth/verify-email`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token: decodeURIComponent(link?.[1] as string) }),
    });
    expect(verify.status).toBe(204);
    const me = await fetch(`${node.apiUrl}/me`, {
      headers: { authorization: `Bearer ${accessToken}` },
    });
    expect(((await me.json()) as { emailVerified: boolean }).emailVerified).toBe(true);
    const prefs = await fetch(`${node.apiUrl}/me/notification-preferences`, {
      headers: { authorization: `Bearer ${accessToken}` },
    });
    expect(prefs.status).toBe(200);
    expect(await prefs.json()).toEqual({
      email: {
        marketing: false,
        achievements: true,
        reminders: true,
        social: true,
        security: true,
      },
      push: { marketing: false, achievements: true, reminders: true, social: true, security: true },
      sms: {
        marketing: false,
        achievements: false,
        reminders: false,
        social: false,
        security: true,
      },
      inApp: { marketing: true, achievements: true, reminders: true, social: true, security: true },
      digest: "weekly",
    });
    const list = await fetch(`${node.apiUrl}/me/notifications`, {
      headers: { authorization: `Bearer ${accessToken}` },
    });
    expect(list.status).toBe(200);
    expect(await list.json()).toMatchObject({ rows: [], total: 0, unread: 0 });
  });

  it("when a browser asking for Spanish registers, then the account starts in Spanish: its profile, the welcome mail and a later reset mail", async () => {
    const res = await fetch(`${node.apiUrl}/auth/register`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "accept-language": "fr;q=0.2, es-MX;q=0.9, *;q=0.5, en;q=0.8",
      },
      body: JSON.stringify({
        email: "lectora@example.test",
        password: "a long enough passphrase",
        name: "Lectora",
      }),
    });
    expect(res.status).toBe(201);
    const { user, accessToken } = (await res.json()) as {
      user: { locale: string | null };
      accessToken: string;
    };
    expect(user.locale).toBe("es-MX");
    const me = await fetch(`${node.apiUrl}/me`, {
      headers: { authorization: `Bearer ${accessToken}` },
    });
    expect(((await me.json()) as { locale: string | null }).locale).toBe("es-MX");
    const outbox = path.join(dataDir, "outbox");
    const subjectOf = (template: string) =>
      waitUntil(
        async () => {
          const files = fs.existsSync(outbox)
            ? fs.readdirSync(outbox).filter(f => f.includes(`-${template}-`))
            : [];
          for (const file of files) {
            const mail = await PostalMime.parse(fs.readFileSync(path.join(outbox, file)));
            if (mail.to?.some(to => to.address === "lectora@example.test")) return mail.subject;
          }
          return undefined;
        },
        20_000,
        `${template} mail to lectora`,
      );
    expect(await subjectOf("welcome")).toBe(
      "Te damos la bienvenida a Lingomesh, Lectora: confirma tu correo electrónico",
    );
    const forgot = await fetch(`${node.apiUrl}/auth/password/forgot`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "lectora@example.test" }),
    });
    expect(forgot.status).toBe(202);
    expect(await subjectOf("password-reset")).toBe("Restablece tu contraseña de Lingomesh");
  });

  it("when the bootstrap admin is created (already verified), then no confirmation mail and no reminder are queued for it", async () => {
    const sql = (node.broker.getLocalService("notify") as unknown as { sequelize: Sequelize })
      .sequelize;
    // notify stores the recipient in the same commit as any mail it queues for user.created.
    const [recipient] = await waitUntil(
      async () => {
        const rows = await sql.query<{ user_id: string; email_verified: boolean }>(
          `SELECT user_id, email_verified FROM notify.recipients WHERE email = :email`,
          { replacements: { email: ADMIN_EMAIL }, type: QueryTypes.SELECT },
        );
        return rows.length > 0 ? rows : undefined;
      },
      20_000,
      "admin recipient",
    );
    expect(recipient.email_verified).toBe(true);
    const mails = await sql.query<{ template: string }>(
      `SELECT template FROM notify.emails WHERE user_id = :userId`,
      { replacements: { userId: recipient.user_id }, type: QueryTypes.SELECT },
    );
    expect(mails.map(m => m.template)).toEqual([]);
  });
});
