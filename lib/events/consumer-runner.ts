import type { Service } from "moleculer";
import type { Transaction } from "sequelize";
import type { DomainEventType, EventEnvelope } from "../../models/events.model";
import { requestScope } from "../request-context";
import type { OutboxStore } from "./outbox-store";

/** A durable event handler: its DB writes go through `t` so they commit with the event id. */
export type DurableEventHandler<T extends DomainEventType = DomainEventType, TThis = Service> = (
  this: TThis,
  event: EventEnvelope<T>,
  t: Transaction,
) => Promise<void> | void;

/** The `durableEvents` key of a service schema: handlers typed by event type from DomainEvents. */
export type DurableEventHandlers<TThis = Service> = {
  [K in DomainEventType]?: DurableEventHandler<K, TThis>;
};

/**
 * Optional `durableEventBatches` key of a service schema: the same effect as the type's
 * `durableEvents` handler for several events at once (e.g. one UPDATE … FROM unnest(…)
 * instead of one per event), in the order given. Used for runs of consecutive events of
 * the type inside one consumer batch; if it throws, each event goes through the one-event
 * handler on its own instead.
 */
export type DurableEventBatchHandlers<TThis = Service> = {
  [K in DomainEventType]?: (
    this: TThis,
    events: EventEnvelope<K>[],
    t: Transaction,
  ) => Promise<void>;
};

export type TransactionRunner = <R>(fn: (t: Transaction) => Promise<R>) => Promise<R>;

export type HandleOutcome = "handled" | "duplicate" | "unhandled";

/**
 * Runs one consumer's handler for one event exactly once as far as the database is
 * concerned: the event id is recorded in processed_events in the same transaction as
 * the handler's writes. A redelivery finds the id and is acknowledged without running
 * the handler; a failure rolls both back, so the retry starts clean.
 */
export async function runIdempotent<TThis>(opts: {
  store: OutboxStore;
  consumer: string;
  envelope: EventEnvelope;
  handlers: DurableEventHandlers<TThis>;
  self: TThis;
  transaction: TransactionRunner;
}): Promise<HandleOutcome> {
  const { envelope } = opts;
  const handler = opts.handlers[envelope.type] as
    DurableEventHandler<DomainEventType, TThis> | undefined;
  // A binding left behind by an older version of the service: nothing here handles it.
  if (!handler) return "unhandled";
  return requestScope.run({ requestId: envelope.requestId, event: envelope.type }, () =>
    opts.transaction(async t => {
      if (!(await opts.store.markProcessed(opts.consumer, envelope, t)))
        return "duplicate" as const;
      await handler.call(opts.self, envelope, t);
      return "handled" as const;
    }),
  );
}

/**
 * Handles the events a consumer receives close together in one transaction: one
 * processed_events insert for all of them, each handler in turn, one commit — instead of a
 * transaction (with its round trips and commit flush) per event. Exactly-once in the
 * database stays as it is: the ids and the handlers' writes commit or roll back together.
 * If anything in a batch fails, the batch is rolled back and each of its events is run on
 * its own (`runIdempotent`), so only the failing event is retried or dead-lettered.
 * Events are collected until the current I/O turn ends (a broker delivers a burst per
 * socket read) or `maxBatch` are waiting.
 */
export class BatchingRunner<TThis> {
  private waiting: Array<{
    envelope: EventEnvelope;
    resolve: (outcome: HandleOutcome) => void;
    reject: (err: unknown) => void;
  }> = [];
  private scheduled = false;
  private busy = false;

  constructor(
    private readonly opts: {
      store: OutboxStore;
      consumer: string;
      handlers: DurableEventHandlers<TThis>;
      batchHandlers?: DurableEventBatchHandlers<TThis>;
      self: TThis;
      transaction: TransactionRunner;
      maxBatch: number;
    },
  ) {}

  handle(envelope: EventEnvelope): Promise<HandleOutcome> {
    if (!this.opts.handlers[envelope.type]) return Promise.resolve("unhandled");
    return new Promise((resolve, reject) => {
      this.waiting.push({ envelope, resolve, reject });
      if (this.waiting.length >= this.opts.maxBatch && !this.busy) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    // One batch at a time per consumer and node: two batches touching the same rows in a
    // different order would wait on (or deadlock) each other. What arrives meanwhile
    // waits and goes into the next, larger batch.
    if (this.busy) return;
    const batch = this.waiting.splice(0, this.opts.maxBatch);
    if (batch.length === 0) return;
    this.busy = true;
    void this.run(batch).finally(() => {
      this.busy = false;
      this.flush();
    });
  }

  private async run(batch: BatchingRunner<TThis>["waiting"]): Promise<void> {
    if (batch.length > 1) {
      try {
        const outcomes = await this.runBatch(batch.map(item => item.envelope));
        batch.forEach((item, i) => item.resolve(outcomes[i]));
        return;
      } catch (err) {
        if (err instanceof HandlerFailed) {
          // That event's delivery failed (as it would have alone); the rest go again without it.
          batch[err.index].reject(err.cause);
          await this.run(batch.filter((_, i) => i !== err.index));
          return;
        }
        // The database failed the batch itself: each event on its own below.
      }
    }
    await Promise.all(
      batch.map(item =>
        runIdempotent({ ...this.opts, envelope: item.envelope }).then(item.resolve, item.reject),
      ),
    );
  }

  private runBatch(envelopes: EventEnvelope[]): Promise<HandleOutcome[]> {
    const { store, consumer, handlers, batchHandlers, self } = this.opts;
    return this.opts.transaction(async t => {
      const fresh = await store.markProcessedMany(consumer, envelopes, t);
      const outcomes: HandleOutcome[] = [];
      for (let i = 0; i < envelopes.length; i++) {
        const envelope = envelopes[i];
        // Already processed — or delivered twice within this batch: its first copy runs.
        if (!fresh.delete(envelope.id.toLowerCase())) {
          outcomes.push("duplicate");
          continue;
        }
        const many = batchHandlers?.[envelope.type] as
          ((this: TThis, events: EventEnvelope[], t: Transaction) => Promise<void>) | undefined;
        if (many) {
          // The run of fresh events of this type that follows, handled in one call.
          const run = [envelope];
          while (
            i + 1 < envelopes.length &&
            envelopes[i + 1].type === envelope.type &&
            fresh.delete(envelopes[i + 1].id.toLowerCase())
          ) {
            run.push(envelopes[++i]);
          }
          if (run.length > 1) {
            await requestScope.run({ event: envelope.type }, () => many.call(self, run, t));
            for (let k = 0; k < run.length; k++) outcomes.push("handled");
            continue;
          }
        }
        const handler = handlers[envelope.type] as DurableEventHandler<DomainEventType, TThis>;
        try {
          await requestScope.run({ requestId: envelope.requestId, event: envelope.type }, () =>
            handler.call(self, envelope, t),
          );
        } catch (err) {
          throw new HandlerFailed(outcomes.length, err);
        }
        outcomes.push("handled");
      }
      return outcomes;
    });
  }
}

/** A handler of a batch threw: which event, and what. */
class HandlerFailed extends Error {
  constructor(
    readonly index: number,
    override readonly cause: unknown,
  ) {
    super("a handler of the batch failed");
  }
}
