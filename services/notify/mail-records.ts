import type { MailCounts } from "../../models/analytics.model";
import { toEmailView, type EmailStatus, type EmailTemplate } from "../../models/email.model";
import { pageOf } from "../../lib/params";
import type { NotifyDeps } from "./deps";

/** The record of the mail notify sent, for admins and operators. */

/** GET /emails (admin): the record of every mail, filtered. */
export async function listEmails(
  deps: Pick<NotifyDeps, "store">,
  input: {
    page: number;
    pageSize: number;
    to?: string;
    template?: EmailTemplate;
    status?: EmailStatus;
  },
) {
  const { page, pageSize, to, template, status } = input;
  const result = await deps.store.listEmails({ to, template, status }, page, pageSize);
  return { rows: result.rows.map(toEmailView), ...pageOf(result.total, page, pageSize) };
}

/** For the admins' analytics (progress.platformAnalytics): the last `days` days' mail. */
export function mailCounts(
  deps: Pick<NotifyDeps, "store" | "now">,
  input: { days: number },
): Promise<MailCounts> {
  return deps.store.mailCounts(new Date(deps.now().getTime() - input.days * 86_400_000));
}
