import type { Context } from "moleculer";
import type { RequestMeta } from "../../models/auth.model";
import type { NotifyDeps } from "./deps";
import { invalidUnsubscribeToken, linkNotFound } from "./errors";
import type { LinkToken } from "./link-tokens";
import type { LocaleTexts } from "./texts";
import { confirmPage, donePage, PAGE_HEADERS, PAGE_TYPE, wantsHtml } from "./unsubscribe-page";

/** The links a mail carries: the open pixel, tracked clicks, and unsubscribing without a login. */

type LinkDeps = Pick<
  NotifyDeps,
  "store" | "tokens" | "withTransaction" | "preferencesUrl" | "logger" | "builder"
>;

/** What a link answers: the body, and its type and headers when they are not JSON's. */
export interface LinkAnswer<B> {
  body: B;
  type?: string;
  headers?: Record<string, string>;
}

/** Hands a link's answer to moleculer-web. */
export function answerLink<B>(
  ctx: Pick<Context<unknown, RequestMeta>, "meta">,
  answer: LinkAnswer<B>,
): B {
  if (answer.type) ctx.meta.$responseType = answer.type;
  if (answer.headers) ctx.meta.$responseHeaders = answer.headers;
  return answer.body;
}

/** The smallest transparent GIF: the open-tracking pixel. */
const PIXEL = Buffer.from("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7", "base64");

/** GET /notifications/open/:token.gif — always the pixel, whatever the token. */
export async function openPixel(
  deps: LinkDeps,
  input: { token: string },
): Promise<LinkAnswer<Buffer>> {
  const token = deps.tokens.verify(input.token.replace(/\.gif$/i, ""));
  if (token?.kind === "open") await deps.store.markOpened(token.mailId);
  return {
    body: PIXEL,
    type: "image/gif",
    headers: {
      "Cache-Control": "no-store, no-cache, must-revalidate, max-age=0",
      Pragma: "no-cache",
    },
  };
}

/** GET /notifications/click/:token — records the click; answers the signed target. */
export async function followClick(deps: LinkDeps, input: { token: string }): Promise<string> {
  const token = deps.tokens.verify(input.token);
  if (token?.kind !== "click") throw linkNotFound();
  await deps.store.markClicked(token.mailId);
  return token.url;
}

type UnsubscribeToken = Extract<LinkToken, { kind: "unsubscribe" }>;

/** The verified unsubscribe token, or the 400 every bad link gets. */
function unsubscribeToken(deps: LinkDeps, raw: string): UnsubscribeToken {
  const token = deps.tokens.verify(raw);
  if (token?.kind !== "unsubscribe") throw invalidUnsubscribeToken();
  return token;
}

/** The words of the unsubscribe pages: the locale of the mail's recipient. */
async function readerTexts(deps: LinkDeps, token: UnsubscribeToken): Promise<LocaleTexts> {
  return deps.builder().localeOf((await deps.store.recipient(token.userId)) ?? {});
}

/** GET /notifications/unsubscribe/:token — a page that asks; opening the link changes nothing. */
export async function unsubscribePage(
  deps: LinkDeps,
  input: { token: string },
): Promise<LinkAnswer<string>> {
  const token = unsubscribeToken(deps, input.token);
  return {
    body: confirmPage(await readerTexts(deps, token), token.category, deps.preferencesUrl),
    type: PAGE_TYPE,
    headers: { ...PAGE_HEADERS },
  };
}

/**
 * POST /notifications/unsubscribe/:token — RFC 8058 one-click, or the page's button; no
 * login: the token is the proof. A browser (Accept: text/html) gets a page, others JSON.
 */
export async function unsubscribe(
  deps: LinkDeps,
  input: { token: string },
  accept: string | undefined,
): Promise<LinkAnswer<{ unsubscribed: true; category: string } | string>> {
  const token = unsubscribeToken(deps, input.token);
  await deps.withTransaction(t =>
    deps.store.changePreferences(token.userId, { [token.category]: false }, t),
  );
  deps.logger.info("Unsubscribed by mail link", {
    userId: token.userId,
    category: token.category,
  });
  if (!wantsHtml(accept)) return { body: { unsubscribed: true, category: token.category } };
  return {
    body: donePage(await readerTexts(deps, token), token.category, deps.preferencesUrl),
    type: PAGE_TYPE,
    headers: { ...PAGE_HEADERS },
  };
}
