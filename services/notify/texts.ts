import fs from "node:fs";
import path from "node:path";

/**
 * Every text notify writes — in-app, push and mail — in the learner's locale: one JSON
 * catalog per language in `templates/locales/<locale>.json` (adding a locale is adding a
 * file; mail texts are the `mail.*` keys). A text missing in the learner's locale comes from
 * its base language (`es-MX` → `es`), then from English. Numbers, amounts and dates in the
 * texts are formatted for the locale (Intl); a text with a `count` picks its plural form
 * (`<key>.one`, `<key>.few`, …, `<key>.other`) by the language's rules.
 */

const LOCALES_DIR = path.resolve(__dirname, "..", "..", "templates", "locales");
const FALLBACK = "en";

type Catalog = Record<string, string>;
/** A value already in the output's own form (HTML built by a template helper): not escaped again. */
interface Markup {
  toHTML(): string;
}
export type TextValue = string | number | Date | Markup;
export type Say = (key: string, vars?: Record<string, TextValue>) => string;

const same = (value: string): string => value;

function intlLocaleOr(wanted: string, fallback: string): string {
  try {
    return Intl.NumberFormat.supportedLocalesOf([wanted])[0] ?? fallback;
  } catch {
    // Not a well-formed language tag.
    return fallback;
  }
}

function timeZoneOr(zone: string | null | undefined): string {
  try {
    return new Intl.DateTimeFormat("en", { timeZone: zone ?? "UTC" }).resolvedOptions().timeZone;
  } catch {
    return "UTC";
  }
}

/** One learner's language: their texts, with the numbers and dates in them, in their time zone. */
export class LocaleTexts {
  private readonly numbers: Intl.NumberFormat;
  private readonly dates: Intl.DateTimeFormat;
  private readonly weekdays: Intl.DateTimeFormat;
  private readonly plurals = new Map<string, Intl.PluralRules>();

  constructor(
    /** The catalogs a text may come from, best first (English last). */
    private readonly chain: Array<[string, Catalog]>,
    /** The locale numbers and dates are formatted for ("es-MX", or the catalog's "es"). */
    readonly intlLocale: string,
    readonly timeZone: string,
  ) {
    this.numbers = new Intl.NumberFormat(intlLocale);
    this.dates = new Intl.DateTimeFormat(intlLocale, { dateStyle: "long", timeZone });
    this.weekdays = new Intl.DateTimeFormat(intlLocale, { weekday: "short", timeZone: "UTC" });
  }

  /** The language of the catalog the texts come from first ("es"; "en" when only English has them). */
  get language(): string {
    return this.chain[0][0];
  }

  readonly say: Say = (key, vars) => this.text(key, vars);

  /**
   * The text `key` with `vars` filled in; `escape` is applied to the catalog's words and to
   * each value (HTML output), except values that are markup already.
   */
  text(key: string, vars: Record<string, TextValue> = {}, escape = same): string {
    const template = this.template(key, vars.count);
    let out = "";
    let last = 0;
    for (const match of template.matchAll(/\{(\w+)\}/g)) {
      const value = vars[match[1]];
      if (value === undefined) continue;
      out += escape(template.slice(last, match.index)) + this.value(value, escape);
      last = match.index + match[0].length;
    }
    return out + escape(template.slice(last));
  }

  number(value: number): string {
    return this.numbers.format(value);
  }

  /** An amount in the currency's minor unit (Stripe's: cents, or yen and dong as they are). */
  money(minor: number, currency: string): string {
    const format = new Intl.NumberFormat(this.intlLocale, {
      style: "currency",
      currency: currency.toUpperCase(),
    });
    return format.format(minor / 10 ** (format.resolvedOptions().maximumFractionDigits ?? 2));
  }

  /** A day as the learner reads it ("1 de diciembre de 2026"), in their time zone. */
  date(value: Date | string): string {
    return this.dates.format(new Date(value));
  }

  /** The short weekday of a calendar date "YYYY-MM-DD" ("jue", "Th 5"). */
  weekday(isoDate: string): string {
    return this.weekdays.format(new Date(`${isoDate}T12:00:00Z`));
  }

  private value(value: TextValue, escape: (text: string) => string): string {
    if (typeof value === "number") return escape(this.number(value));
    if (value instanceof Date) return escape(this.date(value));
    if (typeof value === "string") return escape(value);
    return value.toHTML();
  }

  /** The catalog text for `key` (its plural form for `count`), from the first catalog that has it. */
  private template(key: string, count: TextValue | undefined): string {
    for (const [language, catalog] of this.chain) {
      const forms =
        typeof count === "number"
          ? [`.${this.pluralRules(language).select(count)}`, ".other", ""]
          : [""];
      for (const form of forms) {
        const text = catalog[key + form];
        if (text !== undefined) return text;
      }
    }
    throw new Error(`text "${key}" is missing in ${FALLBACK}.json`);
  }

  private pluralRules(language: string): Intl.PluralRules {
    let rules = this.plurals.get(language);
    if (!rules) {
      rules = new Intl.PluralRules(intlLocaleOr(language, FALLBACK));
      this.plurals.set(language, rules);
    }
    return rules;
  }
}

export class Texts {
  private constructor(private readonly catalogs: Map<string, Catalog>) {}

  static load(dir = LOCALES_DIR): Texts {
    const catalogs = new Map<string, Catalog>();
    for (const file of fs.readdirSync(dir).filter(name => name.endsWith(".json"))) {
      catalogs.set(
        file.slice(0, -".json".length).toLowerCase(),
        JSON.parse(fs.readFileSync(path.join(dir, file), "utf8")) as Catalog,
      );
    }
    if (!catalogs.has(FALLBACK)) throw new Error(`templates/locales/${FALLBACK}.json is missing`);
    return new Texts(catalogs);
  }

  /** The languages that have a catalog ("en", "es", "vi"). */
  get languages(): string[] {
    return [...this.catalogs.keys()];
  }

  /** The texts of one locale (`null`: English). */
  for(locale: string | null | undefined): Say {
    return this.locale(locale).say;
  }

  /** Texts, numbers and dates of one locale (`null`: English), dates in `timeZone`. */
  locale(locale: string | null | undefined, timeZone?: string | null): LocaleTexts {
    const wanted = (locale ?? "").toLowerCase();
    const base = wanted.split("-")[0];
    const chain = [wanted, base, FALLBACK]
      .filter((name, i, all) => name && all.indexOf(name) === i)
      .flatMap((name): Array<[string, Catalog]> => {
        const catalog = this.catalogs.get(name);
        return catalog ? [[name, catalog]] : [];
      });
    // es-MX formats as es-MX; a language without a catalog formats like the texts it gets.
    const intlLocale = this.catalogs.has(base)
      ? intlLocaleOr(locale ?? "", chain[0][0])
      : chain[0][0];
    return new LocaleTexts(chain, intlLocale, timeZoneOr(timeZone));
  }
}
