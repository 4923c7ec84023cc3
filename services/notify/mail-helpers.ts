import Handlebars from "handlebars";
import { LocaleTexts, type TextValue } from "./texts";

/**
 * The Handlebars helpers mail templates write their words and figures with, in the
 * recipient's locale (the `LocaleTexts` each render passes as `@texts`):
 *
 *   {{t "mail.welcome.title" name=name}}      a text of templates/locales/<locale>.json
 *   {{t "mail.security" notice "headline"}}   a key built of parts: mail.security.<notice>.headline
 *   {{t "mail.digest.lessons" count=lessons}} the plural form for that count
 *   {{num xp}} {{money amount currency}} {{date paidAt}}   Intl formats of the locale
 *   {{strong courseTitle}}                    bold in the HTML part, as it is in the text part
 *
 * In the HTML part `t` escapes the catalog's words and the values it fills in; a value made
 * by another helper (`strong`, a nested `t`) is markup already and goes in as it is.
 */

type Output = "html" | "text";

function textsOf(options: Handlebars.HelperOptions): LocaleTexts {
  const data: unknown = options.data;
  const texts = typeof data === "object" && data !== null && "texts" in data ? data.texts : null;
  if (!(texts instanceof LocaleTexts)) throw new Error("a mail is rendered without its locale");
  return texts;
}

function isHelperOptions(value: unknown): value is Handlebars.HelperOptions {
  return typeof value === "object" && value !== null && "hash" in value && "data" in value;
}

function textValue(value: unknown): TextValue | undefined {
  if (typeof value === "string" || typeof value === "number" || value instanceof Date) return value;
  if (value instanceof Handlebars.SafeString) return value;
  return undefined;
}

/** Helpers for one output: HTML (escaped, markup kept) or plain text. */
export function registerMailHelpers(bars: typeof Handlebars, output: Output): void {
  const wrap = (text: string): string | Handlebars.SafeString =>
    output === "html" ? new Handlebars.SafeString(text) : text;
  const escape = output === "html" ? Handlebars.escapeExpression : (text: string) => text;

  bars.registerHelper("t", (...args: unknown[]) => {
    const options = args.pop();
    if (!isHelperOptions(options)) throw new Error("t: called without Handlebars' options");
    const parts = args.filter(
      (part): part is string | number => typeof part === "string" || typeof part === "number",
    );
    if (parts.length !== args.length)
      throw new Error(`t: a key part is missing (${args.join(".")})`);
    const vars: Record<string, TextValue> = {};
    const hash: Record<string, unknown> = options.hash;
    for (const [name, value] of Object.entries(hash)) {
      const usable = textValue(value);
      if (usable !== undefined) vars[name] = usable;
    }
    return wrap(textsOf(options).text(parts.join("."), vars, escape));
  });
  bars.registerHelper("num", (value: unknown, options: Handlebars.HelperOptions) =>
    typeof value === "number" ? textsOf(options).number(value) : String(value ?? ""),
  );
  bars.registerHelper(
    "money",
    (minor: unknown, currency: unknown, options: Handlebars.HelperOptions) => {
      if (typeof minor !== "number" || typeof currency !== "string")
        throw new Error("money: an amount in minor units and a currency code are needed");
      return textsOf(options).money(minor, currency);
    },
  );
  bars.registerHelper("date", (value: unknown, options: Handlebars.HelperOptions) =>
    typeof value === "string" || value instanceof Date ? textsOf(options).date(value) : "",
  );
  bars.registerHelper("strong", (value: unknown) => {
    const text = String(value ?? "");
    return output === "html"
      ? new Handlebars.SafeString(`<strong>${Handlebars.escapeExpression(text)}</strong>`)
      : text;
  });
}
