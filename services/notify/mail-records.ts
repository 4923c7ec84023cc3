import type { createdSinceParams, MailOutcomes } from "../../models/analytics.model";
import type { ParamsOf } from "../../lib/params-of";
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

/** For progress's analytics rebuild: the mails created since a date and their outcomes, a page. */
export function mailOutcomes(
  deps: Pick<NotifyDeps, "store">,
  input: ParamsOf<typeof createdSinceParams>,
): Promise<MailOutcomes[]> {
  return deps.store.mailOutcomes(input);
}
