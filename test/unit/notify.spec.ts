import crypto from "node:crypto";
import { EMAIL_TEMPLATES } from "../../models/email.model";
import { deriveLinkKey, LinkTokens } from "../../services/notify/link-tokens";
import { appLinks, MailBuilder } from "../../services/notify/mail-builder";
import { classifyFailure } from "../../services/notify/mailer";
import { sampleVars } from "../../services/notify/preview";
import { MailTemplates } from "../../services/notify/templates";
import { Texts } from "../../services/notify/texts";
import { confirmPage, escapeHtml, wantsHtml } from "../../services/notify/unsubscribe-page";
import { tempDataDir, testConfig } from "../support/isolation";

describe("notify link tokens", () => {
  const tokens = new LinkTokens(crypto.randomBytes(32));

  it("when a token is signed, then it verifies to the same content", () => {
    const token = tokens.sign({
      kind: "unsubscribe",
      mailId: "m1",
      userId: "u1",
      category: "reminders",
    });
    expect(tokens.verify(token)).toEqual({
      kind: "unsubscribe",
      mailId: "m1",
      userId: "u1",
      category: "reminders",
    });
    expect(tokens.verify(tokens.sign({ kind: "open", mailId: "m2" }))).toEqual({
      kind: "open",
      mailId: "m2",
    });
  });

  it("when a token is altered, made up or signed by another key, then it does not verify", () => {
    const token = tokens.sign({ kind: "click", mailId: "m1", url: "https://example.test/a" });
    const [payload, mac] = token.split(".");
    const forgedPayload = Buffer.from(JSON.stringify(["c", "m1", "https://evil.test"])).toString(
      "base64url",
    );
    expect(tokens.verify(`${forgedPayload}.${mac}`)).toBeNull();
    expect(tokens.verify(`${payload}.${mac.slice(0, -1)}`)).toBeNull();
    expect(tokens.verify("garbage")).toBeNull();
    expect(new LinkTokens(crypto.randomBytes(32)).verify(token)).toBeNull();
  });

  it("when JWT_PRIVATE_KEY is set, then every node derives the same key from it; unset, a key is kept in DATA_DIR", () => {
    const { privateKey, publicKey } = crypto.generateKeyPairSync("ed25519", {
      privateKeyEncoding: { type: "pkcs8", format: "pem" },
      publicKeyEncoding: { type: "spki", format: "pem" },
    });
    const cluster = testConfig({
      JWT_PRIVATE_KEY: privateKey,
      JWT_PUBLIC_KEY: publicKey,
      TRANSPORTER: "Fake",
    });
    expect(deriveLinkKey(cluster).equals(deriveLinkKey({ ...cluster, nodeId: "other" }))).toBe(
      true,
    );
    expect(() => deriveLinkKey(testConfig({ TRANSPORTER: "Fake" }))).toThrow(/JWT_PRIVATE_KEY/);
    const embedded = testConfig({ DATA_DIR: tempDataDir("notify-key") });
    expect(deriveLinkKey(embedded).equals(deriveLinkKey(embedded))).toBe(true);
  });
});

describe("notify SMTP failure classes", () => {
  it("when the server answers 4xx, then it is temporary; 5xx is permanent; no server at all means wait", () => {
    expect(
      classifyFailure(
        Object.assign(new Error("x"), { responseCode: 451, response: "451 greylisted" }),
      ),
    ).toEqual({
      kind: "temporary",
      reason: "451 greylisted",
    });
    expect(
      classifyFailure(
        Object.assign(new Error("x"), { responseCode: 550, response: "550 no such user" }),
      ).kind,
    ).toBe("permanent");
    expect(
      classifyFailure(Object.assign(new Error("connect ECONNREFUSED"), { code: "ESOCKET" })).kind,
    ).toBe("unavailable");
    expect(
      classifyFailure(Object.assign(new Error("auth"), { code: "EAUTH", responseCode: 535 })).kind,
    ).toBe("unavailable");
  });
});

describe("notify templates", () => {
  let templates: MailTemplates;
  beforeAll(async () => {
    templates = await MailTemplates.load();
  });

  it("when every template is rendered with its sample values, then subject, responsive HTML with inlined styles and text are complete", () => {
    const links = appLinks("https://learn.example.test");
    const english = templates.texts.locale("en");
    for (const name of EMAIL_TEMPLATES) {
      const mail = templates.render(
        name,
        { name: "", to: "", pixelUrl: "", ...sampleVars(name, links, english) },
        english,
      );
      expect(mail.subject.length).toBeGreaterThan(5);
      expect(mail.html).toMatch(/@media only screen and \(min-width:480px\)/);
      expect(mail.html).toMatch(/style="[^"]*font-size/);
      expect(mail.html).not.toContain("{{");
      expect(mail.text).not.toContain("{{");
      expect(mail.text).toContain("Alex Example");
    }
  });

  it("when a name holds markup or a line break, then HTML escapes it and the subject stays one line", () => {
    const mail = templates.render(
      "welcome",
      {
        name: "<script>x</script>\r\nBcc: a@b",
        to: "a@b.test",
        pixelUrl: "",
        verifyUrl: "https://x.test/v",
      },
      templates.texts.locale("es"),
    );
    expect(mail.html).not.toContain("<script>x");
    expect(mail.html).toContain("&lt;script&gt;");
    expect(mail.subject).not.toMatch(/[\r\n]/);
  });

  it("when a non-transactional mail is built, then it has one-click unsubscribe headers and tracked links; transactional mail has neither", () => {
    const builder = new MailBuilder(
      templates,
      new LinkTokens(crypto.randomBytes(32)),
      appLinks("https://learn.example.test"),
    );
    const recipient = { userId: "u1", email: "u1@example.test", name: "Ann" };
    const reminder = builder.build({
      template: "streak-reminder",
      eventId: "e1",
      recipient,
      vars: { currentStreak: 3, continueUrl: "https://learn.example.test/learn" },
      linkVars: ["continueUrl"],
    });
    expect(reminder.category).toBe("reminders");
    expect(reminder.headers["List-Unsubscribe"]).toMatch(
      /^<https:\/\/learn\.example\.test\/api\/v1\/notifications\/unsubscribe\/[\w-]+\.[\w-]+>$/,
    );
    expect(reminder.headers["List-Unsubscribe-Post"]).toBe("List-Unsubscribe=One-Click");
    expect(reminder.html).toContain("/api/v1/notifications/click/");
    expect(reminder.html).not.toContain('href="https://learn.example.test/learn"');
    const welcome = builder.build({
      template: "welcome",
      eventId: "e1",
      recipient,
      vars: { verifyUrl: "https://learn.example.test/verify-email?token=t" },
    });
    expect(welcome.headers["List-Unsubscribe"]).toBeUndefined();
    expect(welcome.html).toContain('href="https://learn.example.test/verify-email?token=t"');
    expect(welcome.html).not.toContain("/notifications/click/");
  });
});

describe("notify unsubscribe page", () => {
  it("when values carry markup, then the page shows them as text", () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe(
      "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;",
    );
    const spanish = Texts.load().locale("es");
    const html = confirmPage(spanish, "marketing", 'https://x.test/"><script>');
    expect(html).not.toContain("<script");
    expect(html).toContain('href="https://x.test/&quot;&gt;&lt;script&gt;"');
    // In the reader's language (the recipient's locale), the category named in it too.
    expect(html).toContain('<html lang="es">');
    expect(html).toContain("<h1>¿Dejar de recibir correos de cursos nuevos y novedades?</h1>");
    expect(html).toContain(">tus preferencias de correo</a>");
  });

  it("when the Accept header names text/html, then a page is wanted; */*, JSON or q=0 are not", () => {
    expect(wantsHtml("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")).toBe(true);
    expect(wantsHtml("*/*")).toBe(false);
    expect(wantsHtml("application/json")).toBe(false);
    expect(wantsHtml("text/html;q=0, application/json")).toBe(false);
    expect(wantsHtml(undefined)).toBe(false);
  });
});
