import fs from "node:fs/promises";
import path from "node:path";
import Handlebars from "handlebars";
import { spawn } from "node:child_process";
import { EMAIL_TEMPLATES, type EmailTemplate, type RenderedMail } from "../../models/email.model";
import { registerMailHelpers } from "./mail-helpers";
import { Texts, type LocaleTexts } from "./texts";

/**
 * Email templates a designer edits in `templates/`: `emails/<name>.mjml` (layout in MJML,
 * variables in Handlebars, subject in <mj-title>) and `emails/<name>.txt.hbs` (the plain
 * text part). MJML compiles once, at start, to responsive HTML with inlined CSS; each mail
 * then only runs the cheap Handlebars step. The words are not in the layouts: each layout
 * names texts of `locales/<locale>.json` (`{{t "mail.…"}}`, services/notify/mail-helpers.ts),
 * and a render gets the recipient's locale.
 */

const TEMPLATES_DIR = path.resolve(__dirname, "..", "..", "templates");

/** Variables every template may use (the footer and tracking); each template adds its own. */
export interface BaseTemplateVars {
  name: string;
  to: string;
  pixelUrl: string;
  unsubscribeUrl?: string;
  preferencesUrl?: string;
  categoryLabel?: string;
  [key: string]: unknown;
}

interface CompiledTemplate {
  subject: Handlebars.TemplateDelegate;
  html: Handlebars.TemplateDelegate;
  text: Handlebars.TemplateDelegate;
}

function decodeEntities(value: string): string {
  return value
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
}

/**
 * MJML to HTML in a short-lived child process: MJML (with its parsers and minifiers,
 * ~45 MiB of heap) is needed only for this one step at start; in a process of its own its
 * memory is returned to the system when it exits instead of staying in the notify node
 * for its whole life (a worker thread's is not: the allocator keeps it).
 */
const MJML_COMPILER = `
let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", chunk => (input += chunk));
process.stdin.on("end", () => {
  const { mjml, items } = JSON.parse(input);
  const mjml2html = require(mjml);
  Promise.all(items.map(item => mjml2html(item.source, item.options))).then(
    results => process.stdout.write(JSON.stringify({ htmls: results.map(result => result.html) })),
    err => process.stdout.write(JSON.stringify({ error: String((err && err.message) || err) })),
  );
});
`;

function compileMjml(items: Array<{ source: string; options: object }>): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["-e", MJML_COMPILER], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (err += chunk));
    child.once("error", reject);
    child.once("close", code => {
      try {
        const answer = JSON.parse(out) as { htmls?: string[]; error?: string };
        if (answer.htmls) resolve(answer.htmls);
        else reject(new Error(answer.error ?? "MJML compilation failed"));
      } catch {
        reject(new Error(`MJML compiler exited with ${code}: ${err.slice(0, 500)}`));
      }
    });
    child.stdin.end(JSON.stringify({ mjml: require.resolve("mjml"), items }));
  });
}

export class MailTemplates {
  private constructor(
    private readonly compiled: Map<EmailTemplate, CompiledTemplate>,
    readonly texts: Texts,
  ) {}

  static async load(dir: string = TEMPLATES_DIR): Promise<MailTemplates> {
    // Separate instances: HTML escapes values, the text part and the subject must not.
    const htmlBars = Handlebars.create();
    const textBars = Handlebars.create();
    registerMailHelpers(htmlBars, "html");
    registerMailHelpers(textBars, "text");
    textBars.registerPartial(
      "footer",
      await fs.readFile(path.join(dir, "partials", "footer.txt.hbs"), "utf8"),
    );
    const compiled = new Map<EmailTemplate, CompiledTemplate>();
    const files = EMAIL_TEMPLATES.map(name => path.join(dir, "emails", `${name}.mjml`));
    const sources = await Promise.all(files.map(file => fs.readFile(file, "utf8")));
    const htmls = await compileMjml(
      files.map((file, i) => ({
        source: sources[i],
        options: {
          filePath: file,
          ignoreIncludes: false,
          includePath: dir,
          validationLevel: "strict",
          keepComments: false,
          // No web fonts: the system stack renders everywhere and no third party learns who opened a mail.
          fonts: {},
        },
      })),
    );
    for (const [i, name] of EMAIL_TEMPLATES.entries()) {
      const result = { html: htmls[i] };
      const title = /<title>([\s\S]*?)<\/title>/.exec(result.html)?.[1]?.trim();
      if (!title)
        throw new Error(`templates/emails/${name}.mjml: <mj-title> (the subject) is missing`);
      const text = await fs.readFile(path.join(dir, "emails", `${name}.txt.hbs`), "utf8");
      compiled.set(name, {
        subject: textBars.compile(decodeEntities(title), { noEscape: true, strict: true }),
        html: htmlBars.compile(result.html, { strict: false }),
        text: textBars.compile(text, { noEscape: true }),
      });
    }
    return new MailTemplates(compiled, Texts.load(path.join(dir, "locales")));
  }

  /** `template` with `vars`, in the words and formats of `texts` (the recipient's locale). */
  render(template: EmailTemplate, vars: BaseTemplateVars, texts: LocaleTexts): RenderedMail {
    const compiled = this.compiled.get(template);
    if (!compiled) throw new Error(`Unknown email template "${template}"`);
    const data = { data: { texts, lang: texts.language } };
    return {
      // A name with a line break must not start a new header.
      subject: compiled
        .subject(vars, data)
        .replace(/[\r\n]+/g, " ")
        .trim(),
      html: compiled.html(vars, data),
      text: compiled.text(vars, data).replace(/\n{3,}/g, "\n\n"),
    };
  }
}
