import fs from "node:fs";
import path from "node:path";

/**
 * The in-app and push texts in the learner's locale: one JSON catalog per language in
 * `templates/locales/<locale>.json` (adding a locale is adding a file). A text missing in the
 * learner's locale comes from its base language (`es-MX` → `es`), then from English. Numbers
 * in the texts are formatted for the locale (Intl).
 */

const LOCALES_DIR = path.resolve(__dirname, "..", "..", "templates", "locales");
const FALLBACK = "en";

type Catalog = Record<string, string>;
export type Say = (key: string, vars?: Record<string, string | number>) => string;

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

  /** The locales a text may come from, best first. */
  private chain(locale: string | null | undefined): string[] {
    const wanted = (locale ?? "").toLowerCase();
    const base = wanted.split("-")[0];
    return [wanted, base, FALLBACK].filter((name, i, all) => name && all.indexOf(name) === i);
  }

  /** The texts of one locale (`null`: English). */
  for(locale: string | null | undefined): Say {
    const chain = this.chain(locale);
    const formatLocale = chain.find(name => this.catalogs.has(name)) ?? FALLBACK;
    let numbers: Intl.NumberFormat;
    try {
      numbers = new Intl.NumberFormat(locale ?? FALLBACK);
    } catch {
      numbers = new Intl.NumberFormat(formatLocale);
    }
    return (key, vars = {}) => {
      const template = chain
        .map(name => this.catalogs.get(name)?.[key])
        .find(text => text !== undefined);
      if (template === undefined) throw new Error(`text "${key}" is missing in ${FALLBACK}.json`);
      return template.replace(/\{(\w+)\}/g, (whole, name: string) => {
        const value = vars[name];
        if (value === undefined) return whole;
        return typeof value === "number" ? numbers.format(value) : value;
      });
    };
  }
}
