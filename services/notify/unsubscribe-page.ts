import { createHash } from "node:crypto";
import type { MailCategory } from "../../models/email.model";
import type { LocaleTexts } from "./texts";

/**
 * The pages behind a mail's unsubscribe link. Opening the link (GET) changes nothing: mail
 * security scanners open every link they see, so the page asks, and only its button (a
 * POST to the same address, like RFC 8058's one-click) unsubscribes. No script at all; the
 * one style block is allowed by its hash, so the policy needs no 'unsafe-inline'. The words
 * are the recipient's locale (`page.*` and `mail.category.*` of templates/locales).
 */

const STYLE = `
body { margin: 0; background: #f3f4f6; color: #111827; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 28rem; margin: 4rem auto; padding: 2rem 1.5rem; background: #fff; border-radius: 12px; }
h1 { margin: 0 0 1rem; font-size: 1.5rem; line-height: 2rem; }
button { padding: .75rem 1.5rem; border: 0; border-radius: 8px; background: #4f46e5; color: #fff; font: inherit; font-weight: 600; cursor: pointer; }
a { color: #4f46e5; }
.muted { color: #6b7280; font-size: .875rem; }
`;

const STYLE_HASH = createHash("sha256").update(STYLE).digest("base64");

/** Headers of both pages: nothing may load, frame, or be sent to another site (the URL holds the token). */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  "Content-Type": "text/html; charset=utf-8",
  "Content-Security-Policy": [
    "default-src 'none'",
    `style-src 'sha256-${STYLE_HASH}'`,
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join("; "),
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
  "Cache-Control": "no-store",
};

export const PAGE_TYPE = PAGE_HEADERS["Content-Type"];

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, ch => ESCAPES[ch]);
}

function page(texts: LocaleTexts, title: string, body: string): string {
  return `<!doctype html>
<html lang="${escapeHtml(texts.language)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>${escapeHtml(title)} · Lingomesh</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}

/**
 * A page in the reader's words: `page.<name>.*` texts, with the category in the reader's
 * words and the settings link (markup) filled in.
 */
function localPage(
  texts: LocaleTexts,
  name: "unsubscribe" | "unsubscribed",
  vars: { category: MailCategory; preferencesUrl: string },
  body: (say: (key: string) => string) => string,
): string {
  const link = `<a href="${escapeHtml(vars.preferencesUrl)}">${escapeHtml(texts.say("page.settingsLink"))}</a>`;
  const values = {
    category: texts.say(`mail.category.${vars.category}`),
    settings: { toHTML: () => link },
  };
  const say = (key: string) => texts.text(`page.${name}.${key}`, values, escapeHtml);
  return page(texts, texts.say(`page.${name}.title`), body(say));
}

/** GET: names the category and asks. The form has no action: it posts to this very address. */
export function confirmPage(
  texts: LocaleTexts,
  category: MailCategory,
  preferencesUrl: string,
): string {
  return localPage(
    texts,
    "unsubscribe",
    { category, preferencesUrl },
    say => `<h1>${say("heading")}</h1>
<p>${say("body")}</p>
<form method="post">
<button type="submit">${say("button")}</button>
</form>
<p class="muted">${say("settings")}</p>`,
  );
}

/** After the POST, for a browser. */
export function donePage(
  texts: LocaleTexts,
  category: MailCategory,
  preferencesUrl: string,
): string {
  return localPage(
    texts,
    "unsubscribed",
    { category, preferencesUrl },
    say => `<h1>${say("heading")}</h1>
<p>${say("body")}</p>
<p class="muted">${say("settings")}</p>`,
  );
}

/** A browser's form post asks for HTML by name; mail clients and API clients get JSON. */
export function wantsHtml(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept.split(",").some(part => {
    const [type, ...params] = part.trim().toLowerCase().split(";");
    const q = params.map(p => p.trim()).find(p => p.startsWith("q="));
    return type.trim() === "text/html" && (q === undefined || Number(q.slice(2)) > 0);
  });
}
