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

/** Runs one SQL statement without results inside `t` (SAVEPOINT, RELEASE, ROLLBACK TO). */
export type StatementRunner = (sql: string, t: Transaction) => Promise<unknown>;

/**
 * Optional `beforeDurableBatch` key of a service schema: runs before a batch's
 * transaction opens, outside it, with the batch's events — for the remote calls a handler
 * would otherwise make while holding the transaction (and the batch's unacked messages).
 * It should not throw for one event's sake: a throw fails every event of the batch.
 */
export type BeforeDurableBatch<TThis = Service> = (
  this: TThis,
  events: EventEnvelope[],
) => Promise<void>;

export type HandleOutcome = "handled" | "duplicate" | "unhandled";

/**
 * A handler resolved although the database refused one of its statements (it caught the
 * error): PostgreSQL has aborted the transaction, and its COMMIT would silently roll
 * everything back — the batch's other effects and its processed ids with it.
 */
export class SwallowedDatabaseError extends Error {
  constructor(
    envelope: EventEnvelope,
    override readonly cause: unknown,
  ) {
    super(
      `the handler of ${envelope.type} ${envelope.id} went on after a database error; its effects were rolled back: ${errorMessage(cause)}`,
    );
    this.name = "SwallowedDatabaseError";
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

const SAVEPOINT = "durable_event";

/**
 * Runs `fn` in a savepoint of `t`. Resolves with undefined when it succeeded, with its
 * error when it failed (its writes are undone, the transaction goes on). The RELEASE
 * after it is the check that it did not swallow a database error: in an aborted
 * transaction every statement but ROLLBACK fails.
 */
async function inSavepoint(
  statement: StatementRunner,
  t: Transaction,
  envelope: EventEnvelope,
  fn: () => Promise<void>,
): Promise<unknown> {
  await statement(`SAVEPOINT ${SAVEPOINT}`, t);
  let failure: unknown;
  try {
    await fn();
  } catch (err) {
    failure = err;
  }
  if (failure === undefined) {
    try {
      await statement(`RELEASE SAVEPOINT ${SAVEPOINT}`, t);
      return undefined;
    } catch (err) {
      failure = new SwallowedDatabaseError(envelope, err);
    }
  }
  // The savepoint stays defined after this; the next event's SAVEPOINT of the same name
  // shadows it, and a rollback goes to the newest one.
  await statement(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}`, t);
  return failure;
}

/**
 * Runs one consumer's handler for one event exactly once as far as the database is
 * concerned: the event id is recorded in processed_events in the same transaction as
 * the handler's writes. A redelivery finds the id and is acknowledged without running
 * the handler; a failure rolls both back, so the retry starts clean. A handler that
 * swallowed a database error fails too (SwallowedDatabaseError) instead of committing nothing.
 */
async function runIdempotent<TThis>(opts: {
  store: OutboxStore;
  consumer: string;
  envelope: EventEnvelope;
  handlers: DurableEventHandlers<TThis>;
  self: TThis;
  transaction: TransactionRunner;
  statement: StatementRunner;
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
      const failure = await inSavepoint(opts.statement, t, envelope, async () => {
        await handler.call(opts.self, envelope, t);
      });
      if (failure !== undefined) throw failure;
      return "handled" as const;
    }),
  );
}

type Settled = { outcome: HandleOutcome } | { error: unknown };

/**
 * Handles the events a consumer receives close together in one transaction: one
 * processed_events insert for all of them, each handler in turn in its own savepoint, one
 * commit — instead of a transaction (with its round trips and commit flush) per event.
 * A failing handler is rolled back to its savepoint and its processed id removed, so it
 * fails alone (to be retried or dead-lettered) and the events that succeeded commit
 * without running again. Exactly-once in the database stays as it is. Only when the
 * database fails the batch itself (connection lost, commit refused) is each event run on
 * its own (`runIdempotent`). Events are collected until the current I/O turn ends (a
 * broker delivers a burst per socket read) or `maxBatch` are waiting.
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
      beforeBatch?: BeforeDurableBatch<TThis>;
      self: TThis;
      transaction: TransactionRunner;
      statement: StatementRunner;
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
    const envelopes = batch.map(item => item.envelope);
    try {
      await this.opts.beforeBatch?.call(this.opts.self, envelopes);
    } catch (err) {
      for (const item of batch) item.reject(err);
      return;
    }
    let settled: Settled[];
    try {
      settled = await this.runBatch(envelopes);
    } catch {
      // The database failed the batch itself: each event on its own.
      await Promise.all(
        batch.map(item =>
          runIdempotent({ ...this.opts, envelope: item.envelope }).then(item.resolve, item.reject),
        ),
      );
      return;
    }
    batch.forEach((item, i) => {
      const result = settled[i];
      if ("outcome" in result) item.resolve(result.outcome);
      else item.reject(result.error);
    });
  }

  private runBatch(envelopes: EventEnvelope[]): Promise<Settled[]> {
    const { store, consumer, handlers, batchHandlers, self, statement } = this.opts;
    return this.opts.transaction(async t => {
      const fresh = await store.markProcessedMany(consumer, envelopes, t);
      const settled: Settled[] = [];
      const failed: string[] = [];
      const runOne = async (envelope: EventEnvelope): Promise<void> => {
        const handler = handlers[envelope.type] as DurableEventHandler<DomainEventType, TThis>;
        const failure = await inSavepoint(statement, t, envelope, () =>
          requestScope.run({ requestId: envelope.requestId, event: envelope.type }, async () => {
            await handler.call(self, envelope, t);
          }),
        );
        if (failure === undefined) settled.push({ outcome: "handled" });
        else {
          settled.push({ error: failure });
          failed.push(envelope.id);
        }
      };
      for (let i = 0; i < envelopes.length; i++) {
        const envelope = envelopes[i];
        // Already processed — or delivered twice within this batch: its first copy runs.
        if (!fresh.delete(envelope.id.toLowerCase())) {
          settled.push({ outcome: "duplicate" });
          continue;
        }
        const many = batchHandlers?.[envelope.type] as
          ((this: TThis, events: EventEnvelope[], t: Transaction) => Promise<void>) | undefined;
        if (!many) {
          await runOne(envelope);
          continue;
        }
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
          const failure = await inSavepoint(statement, t, envelope, () =>
            requestScope.run({ event: envelope.type }, () => many.call(self, run, t)),
          );
          if (failure === undefined) {
            settled.push(...run.map(() => ({ outcome: "handled" as const })));
            continue;
          }
        }
        // One event, or a run that failed as a whole: event by event, so only the culprit fails.
        for (const one of run) await runOne(one);
      }
      await store.unmarkProcessed(consumer, failed, t);
      return settled;
    });
  }
}
