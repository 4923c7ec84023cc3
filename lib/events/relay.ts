import type { Logger } from "moleculer";
import type { EventEnvelope } from "../../models/events.model";
import type { OutboxStore } from "./outbox-store";
import { errorOf, type EventTransport } from "./transport";

/** What the relay needs of an outbox: the PostgreSQL one, or a MongoDB store's (mongo-outbox-store.ts). */
export type RelayStore = Pick<
  OutboxStore,
  | "schema"
  | "claim"
  | "extendLease"
  | "markSent"
  | "release"
  | "backlog"
  | "prune"
  | "parkExhausted"
  | "parked"
  | "unpark"
>;

export interface RelayOptions {
  /** Poll for rows committed by other nodes, or left behind by a failed publish. */
  pollIntervalMs: number;
  batchSize: number;
  /**
   * How long a claimed row is reserved for this relay before another may take it; renewed
   * every pass while the publish is pending, so it only runs out when the relay is gone.
   */
  leaseMs: number;
  /** Most rows being published at once by this relay. */
  maxInFlight: number;
  /** Publish attempts (claims) of a row before it is parked and an alert raised. */
  maxPublishAttempts: number;
  /** How long stop() waits for confirms still on their way (their rows stay leased). */
  stopWaitMs: number;
  sentRetentionMs: number;
  processedRetentionMs: number;
  pruneIntervalMs: number;
}

export interface RelayObserver {
  published?(envelope: EventEnvelope): void;
  backlog?(count: number): void;
  /** Rows parked now, and how many are parked in all. */
  parked?(rows: Array<{ id: string; type: string; lastError: string | null }>, total: number): void;
}

/**
 * Publishes committed outbox rows. Every node of a producing service runs one; the
 * claim (SKIP LOCKED + lease) keeps them from publishing a row twice at once. A row
 * is marked sent only once the transport confirmed it, so a broker that is down
 * just leaves rows waiting: the next poll after it is back delivers them.
 */
export class OutboxRelay {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private stopped = true;
  private lastPrune = 0;
  private lastBacklog = 0;
  private lastPark = 0;
  private readonly inFlight = new Map<string, Promise<void>>();
  private lastFailure = "";

  constructor(
    readonly store: RelayStore,
    private readonly transport: EventTransport,
    private readonly opts: RelayOptions,
    private readonly logger: Logger,
    private readonly observer: RelayObserver = {},
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.timer = setInterval(() => this.kick(), this.opts.pollIntervalMs);
    this.kick();
  }

  /** Publish now (called right after a transaction with events commits). */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.loop().finally(() => {
      this.running = undefined;
      if (this.again && !this.stopped) {
        this.again = false;
        this.kick();
      }
    });
  }

  /**
   * Stops polling and waits for the current pass (which includes any AMQP confirms).
   * In-process publishes still pending are abandoned: their rows stay unsent and are
   * published again (and deduplicated by the consumers) once the lease runs out.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
    // AMQP batches whose confirms are on their way: wait for them to be marked sent — for a
    // while: a blocked broker may hold them for long, and their leases hand them on anyway.
    if (this.transport.publishSettles === "confirm") {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...new Set(this.inFlight.values())]),
        new Promise(resolve => (timer = setTimeout(resolve, this.opts.stopWaitMs))),
      ]);
      clearTimeout(timer);
    }
  }

  private async loop(): Promise<void> {
    try {
      await this.maintain();
      while (
        !this.stopped &&
        this.transport.connected &&
        this.inFlight.size < this.opts.maxInFlight
      ) {
        const limit = Math.min(this.opts.batchSize, this.opts.maxInFlight - this.inFlight.size);
        // Rows being published stay leased (renewed each pass): the claim passes them over.
        const skip = this.transport.publishSettles === "confirm" ? [] : [...this.inFlight.keys()];
        const rows = await this.store.claim(limit, this.opts.leaseMs, skip);
        if (rows.length === 0) break;
        if (this.transport.publishSettles === "confirm") {
          // Publish the batch, then mark it in one write — without waiting for its confirms
          // before claiming the next batch: several batches' confirms are in flight at once
          // (the broker's disk writes, not this process, set the pace of one batch).
          this.trackBatch(rows);
        } else {
          // The in-process bus settles a publish only once it is handled: track each row alone.
          for (const row of rows) this.publishOne(row.id, row.payload);
        }
        if (rows.length < limit) break;
      }
    } catch (err) {
      this.failed(errorOf(err));
    }
  }

  private trackBatch(rows: Array<{ id: string; payload: EventEnvelope }>): void {
    const task = this.publishBatch(rows)
      .then(
        allSent => allSent,
        (err: unknown) => {
          this.failed(errorOf(err));
          return false;
        },
      )
      .then(allSent => {
        for (const row of rows) this.inFlight.delete(row.id);
        // Room for the next batch: go on at once rather than at the next poll — unless
        // publishing failed, which the next poll tries again (not a hot loop of attempts).
        if (allSent) this.kick();
      });
    for (const row of rows) this.inFlight.set(row.id, task);
  }

  /** Resolves with whether every row of the batch was sent. */
  private async publishBatch(
    rows: Array<{ id: string; payload: EventEnvelope }>,
  ): Promise<boolean> {
    const results = await Promise.allSettled(rows.map(row => this.transport.publish(row.payload)));
    const sent = rows.filter((_, i) => results[i].status === "fulfilled");
    const failures = results.filter(r => r.status === "rejected");
    await this.store.markSent(sent.map(row => row.id));
    for (const row of sent) this.observer.published?.(row.payload);
    if (failures.length > 0) {
      const error = errorOf((failures[0] as PromiseRejectedResult).reason);
      this.failed(error);
      const failedIds = rows.filter((_, i) => results[i].status === "rejected").map(row => row.id);
      await this.store.release(failedIds, error.message);
      return false;
    }
    this.lastFailure = "";
    return true;
  }

  private publishOne(id: string, envelope: EventEnvelope): void {
    const task = this.transport
      .publish(envelope)
      .then(
        async () => {
          await this.store.markSent([id]);
          this.observer.published?.(envelope);
        },
        async (err: unknown) => {
          this.failed(errorOf(err));
          await this.store.release([id], errorOf(err).message);
        },
      )
      .catch((err: unknown) => this.failed(errorOf(err)))
      .finally(() => this.inFlight.delete(id));
    this.inFlight.set(id, task);
  }

  private async maintain(): Promise<void> {
    await this.store.extendLease([...this.inFlight.keys()], this.opts.leaseMs);
    const now = Date.now();
    // A gauge: once per poll interval is enough, however often batches complete.
    if (this.observer.backlog && now - this.lastBacklog >= this.opts.pollIntervalMs) {
      this.lastBacklog = now;
      this.observer.backlog(await this.store.backlog());
    }
    let parked: Awaited<ReturnType<OutboxStore["parkExhausted"]>> = [];
    if (now - this.lastPark >= this.opts.pollIntervalMs) {
      this.lastPark = now;
      parked = await this.store.parkExhausted(this.opts.maxPublishAttempts);
    }
    if (parked.length > 0) {
      const total = await this.store.parked();
      this.logger.error(
        `Outbox relay of ${this.store.schema}: parked ${parked.length} event(s) after ${this.opts.maxPublishAttempts} failed publish attempts (${total} parked in all; last error: ${parked[0].lastError ?? "none"}); call <service>.retryParkedEvents once the cause is fixed`,
      );
      this.observer.parked?.(parked, total);
    }
    if (now - this.lastPrune >= this.opts.pruneIntervalMs) {
      this.lastPrune = now;
      await this.store.prune(this.opts.sentRetentionMs, this.opts.processedRetentionMs);
    }
  }

  /** One warning per kind of failure, not one per row and poll, while the broker is down. */
  private failed(error: Error): void {
    if (this.stopped || error.message === this.lastFailure) {
      this.logger.debug(`Outbox relay: ${error.message}`);
      return;
    }
    this.lastFailure = error.message;
    this.logger.warn(
      `Outbox relay of ${this.store.schema}: ${error.message}; the events wait in the outbox`,
    );
  }
}
