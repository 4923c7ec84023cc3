import { v7 as uuidv7 } from "uuid";
import {
  TEMPLATE_CATEGORY,
  type EmailTemplate,
  type QueuedMail,
  type RenderedMail,
} from "../../models/email.model";
import type { Recipient } from "../../models/notification.model";
import type { LinkTokens } from "./link-tokens";
import type { MailTemplates } from "./templates";
import type { LocaleTexts } from "./texts";

/**
 * Turns "this template, for this recipient, with these values" into a mail ready to
 * queue: tracking pixel, click-through links, unsubscribe link and the RFC 8058 headers.
 *
 * Links: mails point at the client app (PUBLIC_URL/...) and at the API's public
 * notification routes (PUBLIC_URL/api/v1/notifications/...). Links of transactional
 * mail carry one-time secrets (verify, reset tokens) and are never wrapped for click
 * tracking, so those secrets never pass through our access logs.
 *
 * Words, numbers and dates are the recipient's locale (English when unknown), dates in
 * their time zone.
 */

export interface Links {
  /** The client app, e.g. https://learn.example.com */
  app: string;
  /** The public API base, e.g. https://learn.example.com/api/v1 */
  api: string;
}

export function appLinks(publicUrl: string): Links {
  return { app: publicUrl, api: `${publicUrl}/api/v1` };
}

/** Template variables whose values are links to wrap for click tracking. */
type Vars = Record<string, unknown>;

type MailRecipient = Pick<Recipient, "userId" | "email" | "name"> &
  Partial<Pick<Recipient, "locale" | "timezone">>;

export interface BuildRequest {
  template: EmailTemplate;
  eventId: string;
  recipient: MailRecipient;
  vars: Vars;
  /** Names of `vars` entries that are links (wrapped for click tracking when allowed). */
  linkVars?: string[];
  notBefore?: Date;
}

export class MailBuilder {
  constructor(
    private readonly templates: MailTemplates,
    private readonly tokens: LinkTokens,
    readonly links: Links,
  ) {}

  build(req: BuildRequest): QueuedMail {
    const id = uuidv7();
    const category = TEMPLATE_CATEGORY[req.template];
    const vars: Vars = { ...req.vars, name: req.recipient.name, to: req.recipient.email };
    const headers: Record<string, string> = {
      "Auto-Submitted": "auto-generated",
      "X-Lingomesh-Template": req.template,
    };
    if (category !== "transactional") {
      for (const key of req.linkVars ?? []) {
        const url = vars[key];
        if (typeof url === "string") vars[key] = this.clickUrl(id, url);
      }
      const unsubscribeUrl = `${this.links.api}/notifications/unsubscribe/${this.tokens.sign({
        kind: "unsubscribe",
        mailId: id,
        userId: req.recipient.userId,
        category,
      })}`;
      vars.unsubscribeUrl = unsubscribeUrl;
      vars.preferencesUrl = `${this.links.app}/settings/notifications`;
      // The footer names the category in the recipient's words (mail.category.<category>).
      vars.mailCategory = category;
      headers["List-Unsubscribe"] = `<${unsubscribeUrl}>`;
      headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click";
    }
    vars.pixelUrl = `${this.links.api}/notifications/open/${this.tokens.sign({ kind: "open", mailId: id })}.gif`;
    const rendered = this.render(req.template, vars, this.localeOf(req.recipient));
    return {
      id,
      eventId: req.eventId,
      template: req.template,
      category,
      userId: req.recipient.userId,
      to: req.recipient.email,
      headers,
      notBefore: req.notBefore,
      ...rendered,
    };
  }

  /** The recipient's texts, numbers and dates (English and UTC for what is unknown). */
  localeOf(recipient: Partial<Pick<Recipient, "locale" | "timezone">>): LocaleTexts {
    return this.templates.texts.locale(recipient.locale, recipient.timezone);
  }

  render(template: EmailTemplate, vars: Vars, texts: LocaleTexts): RenderedMail {
    return this.templates.render(template, { name: "", to: "", pixelUrl: "", ...vars }, texts);
  }

  clickUrl(mailId: string, url: string): string {
    return `${this.links.api}/notifications/click/${this.tokens.sign({ kind: "click", mailId, url })}`;
  }
}
