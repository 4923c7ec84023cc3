import type { Logger } from "moleculer";

/**
 * The loop every delivery channel of notify runs on each node (mail, push): a round claims
 * due rows and delivers them; an idle node looks again every `pollMs`, a full batch or a
 * `kick()` (a handler committed new rows) runs the next round at once.
 */
export abstract class DeliveryLoop<Row> {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;
  private again = false;

  constructor(
    private readonly loop: { pollMs: number; batchSize: number },
    private readonly name: string,
    protected readonly logger: Logger,
  ) {}

  /** Takes this node's next batch of due rows (a lease other nodes respect). */
  protected abstract claim(): Promise<Row[]>;

  /** Delivers one row and records the outcome; never throws for a failed delivery. */
  protected abstract deliver(row: Row): Promise<void>;

  /** One round: claim a batch and deliver it. Returns how many rows were claimed. */
  async runOnce(): Promise<number> {
    const batch = await this.claim();
    await Promise.all(batch.map(row => this.deliver(row)));
    return batch.length;
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** Look for due rows now (called after a handler committed new ones). */
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
      this.running = this.round().finally(() => {
        this.running = undefined;
      });
    }, delayMs);
  }

  private async round(): Promise<void> {
    let busy = false;
    try {
      busy = (await this.runOnce()) === this.loop.batchSize;
    } catch (err) {
      this.logger.warn(`${this.name} round failed; retrying`, {
        error: (err as Error).message,
      });
    }
    const wake = busy || this.again;
    this.again = false;
    this.schedule(wake ? 0 : this.loop.pollMs);
  }
}

/** Exponential back-off from `baseMs`, capped at `maxMs`, ±20 % jitter so nodes do not retry in lockstep. */
export function retryDelay(attempts: number, baseMs: number, maxMs: number): number {
  const exp = baseMs * 2 ** Math.max(0, attempts - 1);
  return Math.min(maxMs, exp) * (0.8 + Math.random() * 0.4);
}
