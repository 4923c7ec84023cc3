import fs from "node:fs/promises";
import path from "node:path";
import Handlebars from "handlebars";
import mjml2html from "mjml";
import { EMAIL_TEMPLATES, type EmailTemplate, type RenderedMail } from "../../models/email.model";

/**
 * Email templates a designer edits in `templates/`: `emails/<name>.mjml` (layout in MJML,
 * variables in Handlebars, subject in <mj-title>) and `emails/<name>.txt.hbs` (the plain
 * text part). MJML compiles once, at start, to responsive HTML with inlined CSS; each mail
 * then only runs the cheap Handlebars step.
 */

export const TEMPLATES_DIR = path.resolve(__dirname, "..", "..", "templates");

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

export class MailTemplates {
  private constructor(private readonly compiled: Map<EmailTemplate, CompiledTemplate>) {}

  static async load(dir: string = TEMPLATES_DIR): Promise<MailTemplates> {
    // Separate instances: HTML escapes values, the text part and the subject must not.
    const htmlBars = Handlebars.create();
    const textBars = Handlebars.create();
    textBars.registerPartial(
      "footer",
      await fs.readFile(path.join(dir, "partials", "footer.txt.hbs"), "utf8"),
    );
    const compiled = new Map<EmailTemplate, CompiledTemplate>();
    for (const name of EMAIL_TEMPLATES) {
      const file = path.join(dir, "emails", `${name}.mjml`);
      const source = await fs.readFile(file, "utf8");
      const result = await mjml2html(source, {
        filePath: file,
        ignoreIncludes: false,
        includePath: dir,
        validationLevel: "strict",
        keepComments: false,
        // No web fonts: the system stack renders everywhere and no third party learns who opened a mail.
        fonts: {},
      });
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
    return new MailTemplates(compiled);
  }

  render(template: EmailTemplate, vars: BaseTemplateVars): RenderedMail {
    const compiled = this.compiled.get(template);
    if (!compiled) throw new Error(`Unknown email template "${template}"`);
    return {
      // A name with a line break must not start a new header.
      subject: compiled
        .subject(vars)
        .replace(/[\r\n]+/g, " ")
        .trim(),
      html: compiled.html(vars),
      text: compiled.text(vars).replace(/\n{3,}/g, "\n\n"),
    };
  }
}
