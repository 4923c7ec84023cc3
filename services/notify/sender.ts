import type { Logger, ServiceBroker } from "moleculer";
import type { EmailRow } from "../../models/email.model";
import { classifyFailure, type Mailer } from "./mailer";
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

export class MailSender {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;
  private again = false;
  readonly stats: SenderStats = { sent: 0, retried: 0, failed: 0 };

  constructor(
    private readonly store: NotifyStore,
    private readonly mailer: Mailer,
    private readonly opts: SenderOptions,
    private readonly logger: Logger,
    private readonly onOutcome: (
      outcome: "sent" | "retry" | "failed",
      mail: EmailRow,
    ) => void = () => undefined,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** Look for due mail now (called after a handler committed new mail). */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.schedule(0);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.loop().finally(() => {
        this.running = undefined;
      });
    }, delayMs);
  }

  private async loop(): Promise<void> {
    let busy = false;
    try {
      busy = (await this.runOnce()) === this.opts.batchSize;
    } catch (err) {
      this.logger.warn("Mail sender round failed; retrying", { error: (err as Error).message });
    }
    const wake = busy || this.again;
    this.again = false;
    this.schedule(wake ? 0 : this.opts.pollMs);
  }

  /** One round: claim a batch and deliver it. Returns how many mails were claimed. */
  async runOnce(): Promise<number> {
    const batch = await this.store.claimDue(
      this.opts.nodeId,
      this.opts.batchSize,
      this.opts.leaseMs,
    );
    // The pooled transport bounds how many of these are on the wire at once.
    await Promise.all(
      batch.map(async mail => {
        try {
          const delivery = await this.mailer.send({
            id: mail.id,
            from: this.opts.from,
            to: mail.to_address,
            subject: mail.subject,
            html: mail.html,
            text: mail.text,
            headers: mail.headers,
            messageId: `<${mail.id}@lingomesh>`,
            template: mail.template,
          });
          await this.store.recordSent(mail.id, this.opts.nodeId, delivery);
          this.stats.sent += 1;
          this.onOutcome("sent", mail);
        } catch (err) {
          await this.handleFailure(mail, err);
        }
      }),
    );
    return batch.length;
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
    await this.store.recordRetry(mail.id, this.opts.nodeId, reason, this.delay(mail.attempts));
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

  private delay(attempts: number): number {
    const exp = this.opts.baseDelayMs * 2 ** Math.max(0, attempts - 1);
    // ±20 % jitter so a fleet of nodes does not retry in lockstep after an outage.
    return Math.min(this.opts.maxDelayMs, exp) * (0.8 + Math.random() * 0.4);
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
