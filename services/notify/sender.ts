import type { Logger, ServiceBroker } from "moleculer";
import type { EmailRow } from "../../models/email.model";
import { classifyFailure, type Mailer } from "./mailer";
import { DeliveryLoop, retryDelay } from "./delivery-loop";
import type { NotifyStore } from "./store";

/**
 * The delivery loop of one node: claims due mails (queued by the event handlers), sends
 * them, records `sent` or `failed` with the server's answer. Temporary failures come back
 * later with exponential back-off; while no server is reachable at all, mails simply wait
 * (up to `maxQueueAgeMs`), so an SMTP outage loses nothing.
 */

export interface SenderOptions {
  nodeId: string;
  from: string;
  /** How often an idle node looks for due mail (a handler's commit also wakes it at once). */
  pollMs: number;
  batchSize: number;
  /** First retry delay; doubles with each attempt up to `maxDelayMs`. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Attempts that got a 4xx answer before the mail is `failed`. */
  maxAttempts: number;
  /** A mail that found no server for this long is `failed` (MTAs give up after days too). */
  maxQueueAgeMs: number;
  /** A claim a crashed node never finished is taken over after this. */
  leaseMs: number;
}

export const DEFAULT_SENDER_OPTIONS: Omit<SenderOptions, "nodeId" | "from"> = {
  pollMs: 2000,
  batchSize: 20,
  baseDelayMs: 5000,
  maxDelayMs: 10 * 60_000,
  maxAttempts: 8,
  maxQueueAgeMs: 3 * 24 * 3600_000,
  leaseMs: 5 * 60_000,
};

export interface SenderStats {
  sent: number;
  retried: number;
  failed: number;
}

export class MailSender extends DeliveryLoop<EmailRow> {
  readonly stats: SenderStats = { sent: 0, retried: 0, failed: 0 };

  constructor(
    private readonly store: NotifyStore,
    private readonly mailer: Mailer,
    private readonly opts: SenderOptions,
    logger: Logger,
    private readonly onOutcome: (
      outcome: "sent" | "retry" | "failed",
      mail: EmailRow,
    ) => void = () => undefined,
  ) {
    super(opts, "Mail sender", logger);
  }

  protected claim(): Promise<EmailRow[]> {
    return this.store.claimDue(this.opts.nodeId, this.opts.batchSize, this.opts.leaseMs);
  }

  // The pooled transport bounds how many of a batch are on the wire at once.
  protected async deliver(mail: EmailRow): Promise<void> {
    try {
      const delivery = await this.mailer.send({
        id: mail.id,
        from: this.opts.from,
        to: mail.to_address,
        subject: mail.subject,
        html: mail.html,
        text: mail.text,
        headers: mail.headers,
        attachments: mail.attachments ?? [],
        messageId: `<${mail.id}@lingomesh>`,
        template: mail.template,
      });
      await this.store.recordSent(mail.id, this.opts.nodeId, delivery);
      this.stats.sent += 1;
      this.onOutcome("sent", mail);
    } catch (err) {
      await this.handleFailure(mail, err);
    }
  }

  private async handleFailure(mail: EmailRow, err: unknown): Promise<void> {
    const { kind, reason } = classifyFailure(err);
    const age = Date.now() - new Date(mail.created_at).getTime();
    const giveUp =
      kind === "permanent" ||
      (kind === "temporary" && mail.attempts >= this.opts.maxAttempts) ||
      (kind === "unavailable" && age >= this.opts.maxQueueAgeMs);
    if (giveUp) {
      await this.store.recordFailed(mail.id, this.opts.nodeId, reason);
      this.stats.failed += 1;
      this.onOutcome("failed", mail);
      this.logger.warn("Mail failed for good", {
        mailId: mail.id,
        template: mail.template,
        attempts: mail.attempts,
        reason,
      });
      return;
    }
    const delay = retryDelay(mail.attempts, this.opts.baseDelayMs, this.opts.maxDelayMs);
    await this.store.recordRetry(mail.id, this.opts.nodeId, reason, delay);
    this.stats.retried += 1;
    this.onOutcome("retry", mail);
    this.logger.info("Mail delivery will be retried", {
      mailId: mail.id,
      template: mail.template,
      attempts: mail.attempts,
      kind,
      reason,
    });
  }
}

/** This node's sender, counting outcomes in `notify.mails.total` when the broker has metrics on. */
export function meteredSender(
  broker: ServiceBroker,
  store: NotifyStore,
  mailer: Mailer,
  opts: SenderOptions,
  logger: Logger,
): MailSender {
  const metrics = broker.isMetricsEnabled() ? broker.metrics : undefined;
  metrics?.register({
    type: "counter",
    name: "notify.mails.total",
    labelNames: ["template", "outcome"],
    description: "Mail delivery attempts by template and outcome (sent, retry, failed)",
  });
  return new MailSender(store, mailer, opts, logger, (outcome, mail) =>
    metrics?.increment("notify.mails.total", { template: mail.template, outcome }),
  );
}
