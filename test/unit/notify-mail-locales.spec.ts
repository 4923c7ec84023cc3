import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { EMAIL_TEMPLATES } from "../../models/email.model";
import { LinkTokens } from "../../services/notify/link-tokens";
import { appLinks, MailBuilder } from "../../services/notify/mail-builder";
import { previewMail, type PreviewRequest } from "../../services/notify/preview";
import { MailTemplates } from "../../services/notify/templates";

/**
 * Mail in the learner's language: every template (and both digest periods) rendered in every
 * locale of templates/locales, as `notify.preview --template … --locale …` renders it.
 */

const TEMPLATES_DIR = path.resolve(__dirname, "..", "..", "templates");
const LOCALES_DIR = path.join(TEMPLATES_DIR, "locales");
const PREVIEWS: PreviewRequest["template"][] = [
  ...EMAIL_TEMPLATES,
  "daily-digest",
  "weekly-digest",
];

type Catalog = Record<string, string>;
const catalogOf = (locale: string): Catalog =>
  JSON.parse(fs.readFileSync(path.join(LOCALES_DIR, `${locale}.json`), "utf8")) as Catalog;
const LOCALES = fs
  .readdirSync(LOCALES_DIR)
  .filter(file => file.endsWith(".json"))
  .map(file => file.slice(0, -".json".length));

const builderOver = (templates: MailTemplates) =>
  new MailBuilder(
    templates,
    new LinkTokens(crypto.randomBytes(32)),
    appLinks("https://learn.example.test"),
  );
/** What a reader sees of a mail: subject, text part, and the HTML part's text and attributes. */
const visible = (mail: { subject: string; text: string; html: string }): string =>
  [
    mail.subject,
    mail.text,
    mail.html
      .replace(/&#39;/g, "'")
      .replace(/&quot;/g, '"')
      .replace(/&amp;/g, "&"),
  ].join("\n");

describe("notify mail in every locale", () => {
  let builder: MailBuilder;
  beforeAll(async () => {
    builder = builderOver(await MailTemplates.load());
  });

  it("when every template is previewed in every locale, then it renders whole, in that language", () => {
    expect(LOCALES).toEqual(expect.arrayContaining(["en", "es", "vi"]));
    for (const locale of LOCALES)
      for (const template of PREVIEWS) {
        const mail = previewMail(builder, { template, locale });
        expect(mail.subject.length).toBeGreaterThan(5);
        expect(mail.html).toContain(`<html lang="${locale}"`);
        for (const part of [mail.subject, mail.html, mail.text]) {
          expect(part).not.toContain("{{");
          // A text's placeholder left unfilled would show as {name}.
          expect(part).not.toMatch(/\{[a-zA-Z]+\}/);
        }
      }
  });

  it("when a locale has its own text for a key, then no English words of that key leak into its mails", () => {
    const english = catalogOf("en");
    for (const locale of LOCALES.filter(name => name !== "en")) {
      const own = catalogOf(locale);
      const rendered = PREVIEWS.map(template =>
        visible(previewMail(builder, { template, locale })),
      ).join("\n");
      const leaks: string[] = [];
      for (const [key, text] of Object.entries(english)) {
        if (!key.startsWith("mail.") || own[key] === undefined || own[key] === text) continue;
        // The English words between placeholders, long enough not to be a name or "XP".
        for (const words of text.split(/\{\w+\}/).map(part => part.trim()))
          if (
            words.split(/\s+/).length >= 3 &&
            !own[key].includes(words) &&
            rendered.includes(words)
          )
            leaks.push(`${locale}: "${words}" (${key})`);
      }
      expect(leaks).toEqual([]);
      // Words written into a layout instead of a locale file (the sample values hold none of them).
      const words = PREVIEWS.map(template => {
        const mail = previewMail(builder, { template, locale });
        return `${mail.subject}\n${mail.text}`;
      }).join("\n");
      expect(words.match(/\b(the|your|you|and|with|this|here|now)\b/gi) ?? []).toEqual([]);
    }
  });

  it("when Spanish and Vietnamese mails show amounts, dates and counts, then Intl formats them for the locale", () => {
    const receipt = (locale: string) =>
      previewMail(builder, {
        template: "receipt",
        locale,
        timezone: "Europe/Madrid",
        data: { amount: 123456, currency: "eur", paidAt: "2026-12-01T10:00:00Z" },
      }).text;
    expect(receipt("es")).toContain("1234,56\u00a0€");
    expect(receipt("es")).toContain("el 1 de diciembre de 2026");
    expect(receipt("vi")).toContain("1.234,56\u00a0€");
    expect(receipt("vi")).toContain("1 tháng 12, 2026");
    expect(receipt("en")).toContain("€1,234.56");
    // Dong have no minor unit: 99000 is 99.000 ₫.
    expect(
      previewMail(builder, {
        template: "payment-failed",
        locale: "vi",
        data: { amount: 99000, currency: "vnd" },
      }).text,
    ).toContain("99.000\u00a0₫");
    const digest = previewMail(builder, {
      template: "weekly-digest",
      locale: "vi",
      data: { totalXp: 12345, streak: 1 },
    });
    expect(digest.subject).toContain("một tuần của bạn trên Lingomesh");
    expect(digest.text).toContain("Tổng cộng 12.345 XP.");
    // Vietnamese has one plural form; Spanish two.
    expect(digest.text).toContain("Chuỗi ngày học: 1 ngày");
    const es = (streak: number) =>
      previewMail(builder, {
        template: "streak-reminder",
        locale: "es",
        data: { currentStreak: streak },
      });
    expect(es(1).subject).toContain("racha de 1 día");
    expect(es(12).subject).toContain("racha de 12 días");
    expect(es(1).html).toContain("¡1 día seguido!");
  });

  it("when the locale is a regional one or has no catalog, then its base language, then English is used", () => {
    const mexican = previewMail(builder, {
      template: "receipt",
      locale: "es-MX",
      data: { amount: 999, currency: "mxn" },
    });
    expect(mexican.subject).toBe("Tu recibo de Lingomesh LM-0001");
    expect(mexican.text).toContain("$9.99");
    const french = previewMail(builder, { template: "security-notice", locale: "fr" });
    expect(french.subject).toBe("Your password was changed");
    expect(french.html).toContain('<html lang="en"');
  });

  it("when a locale file lacks keys, then those texts fall back to English in the same mail", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mail-locales-"));
    fs.cpSync(TEMPLATES_DIR, dir, { recursive: true });
    fs.writeFileSync(
      path.join(dir, "locales", "de.json"),
      JSON.stringify({ "mail.welcome.title": "Willkommen, {name}!", "mail.hi": "Hallo {name}," }),
    );
    try {
      const partial = builderOver(await MailTemplates.load(dir));
      const mail = previewMail(partial, { template: "welcome", locale: "de" });
      expect(mail.text).toContain("Willkommen, Alex Example!");
      expect(mail.text).toContain("Thanks for joining Lingomesh.");
      expect(mail.subject).toBe("Welcome to Lingomesh, Alex Example — please confirm your email");
      expect(mail.html).toContain('<html lang="de"');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("when a shipped locale file is read, then it has every key English has (plural forms its language uses)", () => {
    const english = Object.keys(catalogOf("en"));
    const pluralForm = /\.(zero|one|two|few|many|other)$/;
    for (const locale of LOCALES) {
      const own = catalogOf(locale);
      const forms = new Intl.PluralRules(locale).resolvedOptions().pluralCategories as string[];
      const missing = english.filter(key => {
        if (own[key] !== undefined) return false;
        const form = pluralForm.exec(key)?.[1];
        // A form the language does not have ("one" in Vietnamese) is never chosen.
        return !(form && !forms.includes(form));
      });
      expect({ locale, missing }).toEqual({ locale, missing: [] });
    }
  });
});
