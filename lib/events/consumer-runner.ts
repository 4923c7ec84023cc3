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
