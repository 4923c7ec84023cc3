import type { Context, Service, ServiceBroker, ServiceSchema } from "moleculer";
import type { Sequelize, Transaction } from "sequelize";
import { configOf, requireDurableEventBroker } from "../lib/config";
import { registerHealthCheck, unregisterHealthCheck } from "../lib/health";
import { AmqpTransport } from "../lib/events/amqp-transport";
import {
  BatchingRunner,
  type BeforeDurableBatch,
  type DurableEventBatchHandlers,
  type DurableEventHandler,
  type DurableEventHandlers,
  type TransactionRunner,
} from "../lib/events/consumer-runner";
import { createEnvelope } from "../lib/events/envelope";
import { MemoryTransport } from "../lib/events/memory-transport";
import {
  ConsumerLag,
  countEvent,
  EVENT_METRICS,
  registerEventMetrics,
  setBacklog,
  setParked,
} from "../lib/events/metrics";
import { OutboxStore } from "../lib/events/outbox-store";
import { OutboxRelay, type RelayOptions, type RelayStore } from "../lib/events/relay";
import {
  catalogGroups,
  type DeadLetterStore,
  type EventTransport,
  type RetryPolicy,
  type Subscription,
} from "../lib/events/transport";
import {
  DOMAIN_EVENT_TYPES,
  type DomainEventType,
  type DomainEvents,
  type EventEnvelope,
} from "../models/events.model";

export type {
  BeforeDurableBatch,
  DurableEventBatchHandlers,
  DurableEventHandlers,
} from "../lib/events/consumer-runner";

/**
 * Durable domain events (shared/design/events.md) for a service that uses DbMixin:
 *   mixins: [DbMixin({ schema: "users", ... }), DurableEvents()]
 * Produce with `this.emitDurable(type, data, { transaction: t, ctx })` (an outbox row in
 * the caller's transaction, relayed after commit); consume by declaring
 * `durableEvents: { "user.created": async function (event, t) { ... } }`.
 * AMQP_URL set: RabbitMQ; unset: the in-process bus with the same semantics.
 */

export interface DurableEventsOptions {
  /** Events handled at once per node and service (AMQP prefetch). Default 500. */
  prefetch?: number;
  /** Most events handled in one consumer transaction (lib/events/consumer-runner.ts). Default 250. */
  maxBatch?: number;
  /** Deliveries before an event goes to the dead-letter queue. Default 6. */
  maxAttempts?: number;
  /**
   * AMQP: deliveries lost with their consumer (crash, dropped connection) before the
   * broker dead-letters the event, so an event that kills its consumer cannot loop. Default 10.
   */
  redeliveryLimit?: number;
  /** First retry delay, doubled per attempt up to retryMaxDelayMs. Defaults 2 s and 60 s. */
  retryBaseDelayMs?: number;
  retryMaxDelayMs?: number;
  /** Outbox poll interval (commits on this node are relayed at once anyway). Default 1 s. */
  pollIntervalMs?: number;
  /** Rows claimed per relay pass (published with confirms pipelined, marked sent in one write). Default 500. */
  batchSize?: number;
  /**
   * How long a claimed outbox row stays reserved for the relay that claimed it (renewed
   * while it works on it): the delay before another node takes over the rows of a relay
   * that died. Default 30 s.
   */
  leaseMs?: number;
  /**
   * Publish attempts of an outbox row (the broker refused or could not route it) before it
   * is parked, logged as an error and counted in lingomesh_events_outbox_parked. Default 100.
   */
  maxPublishAttempts?: number;
  /** Sent outbox rows are kept this long. Default 24 h. */
  sentRetentionMs?: number;
  /**
   * Processed event ids are kept this long (longer than any redelivery can take). Default
   * 30 days; a dead letter older than that is not replayed (it might be applied twice).
   */
  processedRetentionMs?: number;
  /** AMQP reconnect back-off bounds. Defaults 200 ms and 10 s. */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /**
   * AMQP: confirms overdue by then are logged; the publish still waits for the broker's
   * confirm (or the channel's end) rather than publish again. Default 10 s.
   */
  confirmTimeoutMs?: number;
  /**
   * A consumer that had no delivery for this long has caught up: its lag gauge
   * (lingomesh_events_consumer_age_seconds) drops to 0. Default 10 s.
   */
  lagIdleMs?: number;
}

interface EmitDurableOptions {
  /**
   * The transaction of the change the event reports: the event commits (or not) with it.
   * Required: an event without one would commit on its own, whatever became of the change.
   */
  transaction?: Transaction;
  /** The request that caused it: its requestID goes into the envelope. */
  ctx?: Pick<Context, "requestID">;
}

/** What the mixin adds to a service's `this`. */
export interface DurableEventsMethods {
  emitDurable<T extends DomainEventType>(
    type: T,
    data: DomainEvents[T],
    opts?: EmitDurableOptions,
  ): Promise<EventEnvelope<T>>;
  /** An envelope of this service's, to be emitted later with others (`emitDurableEnvelopes`). */
  durableEnvelope<T extends DomainEventType>(
    type: T,
    data: DomainEvents[T],
    ctx?: Pick<Context, "requestID">,
  ): EventEnvelope<T>;
  /** Several events of one change in one outbox statement, in the order given. */
  emitDurableEnvelopes(envelopes: EventEnvelope[], opts?: EmitDurableOptions): Promise<void>;
  /**
   * A relay for an outbox kept outside the service's PostgreSQL schema (the MongoDB content
   * store's events), on the service's transport and settings; started with the service's own
   * relay, stopped by the caller or with the service.
   */
  relayOutbox(store: RelayStore): OutboxRelay;
}

/** The operator tools' one parameter: how many to take at most. */
const LIMIT_PARAMS = {
  limit: { type: "number", integer: true, positive: true, optional: true, convert: true },
} as const;

function startedState(service: Service): DurableState {
  const state = (service as DurableHost).$durable;
  if (!state) throw new Error(`service '${service.fullName}' has not started`);
  return state;
}

/** Parked rows over every outbox this service relays (PostgreSQL, and MongoDB's where content runs there). */
async function parkedInAll(state: DurableState): Promise<number> {
  let total = 0;
  for (const relay of [state.relay, ...state.otherRelays]) total += await relay.store.parked();
  return total;
}

interface DurableState {
  store: OutboxStore;
  transport: EventTransport;
  relay: OutboxRelay;
  /** Builds a relay like `relay` for another store. */
  newRelay(store: RelayStore): OutboxRelay;
  otherRelays: OutboxRelay[];
  subscription?: Subscription;
  lag?: ConsumerLag;
  unsubscribeStarted?: () => void;
}

/** What the mixin needs from DbMixin (listed before it), and keeps on the service. */
type DurableHost = Service &
  DurableEventsMethods & {
    sequelize?: Sequelize;
    dbSchema?: string;
    withTransaction?: TransactionRunner;
    $durable?: DurableState;
  };

const DEFAULTS = {
  // Two batches' worth of deliveries: the next batch is already here while one commits.
  prefetch: 500,
  maxBatch: 250,
  // Six deliveries 2, 4, 8, 16 and 32 s apart: a minute of back-off rides out a short
  // outage of what the handler depends on before the event is parked in the DLQ.
  maxAttempts: 6,
  redeliveryLimit: 10,
  retryBaseDelayMs: 2000,
  retryMaxDelayMs: 60_000,
  pollIntervalMs: 1000,
  batchSize: 500,
  leaseMs: 30_000,
  maxPublishAttempts: 100,
  sentRetentionMs: 24 * 3600_000,
  processedRetentionMs: 30 * 24 * 3600_000,
  reconnectMinMs: 200,
  reconnectMaxMs: 10_000,
  confirmTimeoutMs: 10_000,
  lagIdleMs: 10_000,
} satisfies Required<DurableEventsOptions>;

/** A replay is refused this long before the processed ids could have been pruned. */
const REPLAY_MARGIN_MS = 3600_000;

/** One transport (its AMQP connections) per broker, shared by its services. */
/** One transport per broker, shared by its services; `healthCheck` names its readiness check. */
const transports = new WeakMap<
  ServiceBroker,
  { transport: EventTransport; users: number; healthCheck?: string }
>();

async function acquireTransport(
  broker: ServiceBroker,
  opts: Required<DurableEventsOptions>,
): Promise<EventTransport> {
  const existing = transports.get(broker);
  if (existing) {
    existing.users++;
    return existing.transport;
  }
  const cfg = configOf(broker);
  requireDurableEventBroker(cfg);
  let transport: EventTransport;
  if (cfg.amqpUrl) {
    const amqp = new AmqpTransport({
      url: cfg.amqpUrl,
      namespace: cfg.namespace,
      logger: broker.getLogger("durable-events"),
      connectionName: `${cfg.namespace}:${broker.nodeID}`,
      reconnectMinMs: opts.reconnectMinMs,
      reconnectMaxMs: opts.reconnectMaxMs,
      confirmTimeoutMs: opts.confirmTimeoutMs,
    });
    transports.set(broker, { transport: amqp, users: 1, healthCheck: "amqp" });
    registerHealthCheck(broker, "amqp", async () => {
      const problems = amqp.problems();
      if (problems.length > 0) throw new Error(problems.join("; "));
    });
    await amqp.start();
    transport = amqp;
  } else {
    const here = new Set<string>(cfg.services);
    transport = new MemoryTransport(cfg.namespace, group => here.has(group));
    transports.set(broker, { transport, users: 1 });
  }
  return transport;
}

async function releaseTransport(broker: ServiceBroker): Promise<void> {
  const entry = transports.get(broker);
  if (!entry || --entry.users > 0) return;
  transports.delete(broker);
  if (entry.healthCheck) unregisterHealthCheck(broker, entry.healthCheck);
  await entry.transport.close();
}

/** Runs `fn` once the broker has started every local service (at once if it has). */
function whenBrokerStarted(broker: ServiceBroker, fn: () => void): () => void {
  if (broker.started) {
    fn();
    return () => undefined;
  }
  const listener = () => fn();
  broker.localBus.once("$broker.started", listener);
  return () => broker.localBus.off("$broker.started", listener);
}

/** The started state and the transaction an emit needs, or the error naming what is missing. */
function emitTarget(
  host: DurableHost,
  what: string,
  opts: EmitDurableOptions,
): { state: DurableState; transaction: Transaction } {
  const state = host.$durable;
  if (!state) throw new Error(`${what} called before service '${host.fullName}' started`);
  const { transaction } = opts;
  if (!transaction)
    throw new Error(
      `${what} needs { transaction }: the event must commit with the change it reports`,
    );
  return { state, transaction };
}

export function DurableEvents(options: DurableEventsOptions = {}): Partial<ServiceSchema> {
  const opts: Required<DurableEventsOptions> = { ...DEFAULTS, ...options };
  const retry: RetryPolicy = {
    maxAttempts: opts.maxAttempts,
    baseDelayMs: opts.retryBaseDelayMs,
    maxDelayMs: opts.retryMaxDelayMs,
    redeliveryLimit: opts.redeliveryLimit,
  };

  const methods = {
    async emitDurable<T extends DomainEventType>(
      this: DurableHost,
      type: T,
      data: DomainEvents[T],
      emitOpts: EmitDurableOptions = {},
    ): Promise<EventEnvelope<T>> {
      const { state, transaction } = emitTarget(this, `emitDurable("${type}")`, emitOpts);
      const envelope = createEnvelope(type, data, {
        producer: this.name,
        requestId: emitOpts.ctx?.requestID,
      });
      await state.store.insert(envelope, transaction);
      transaction.afterCommit(() => state.relay.kick());
      return envelope;
    },

    durableEnvelope<T extends DomainEventType>(
      this: DurableHost,
      type: T,
      data: DomainEvents[T],
      ctx?: Pick<Context, "requestID">,
    ): EventEnvelope<T> {
      return createEnvelope(type, data, { producer: this.name, requestId: ctx?.requestID });
    },

    async emitDurableEnvelopes(
      this: DurableHost,
      envelopes: EventEnvelope[],
      emitOpts: EmitDurableOptions = {},
    ): Promise<void> {
      const { state, transaction } = emitTarget(this, "emitDurableEnvelopes", emitOpts);
      await state.store.insertMany(envelopes, transaction);
      transaction.afterCommit(() => state.relay.kick());
    },

    relayOutbox(this: DurableHost, store: RelayStore): OutboxRelay {
      const state = this.$durable;
      if (!state) throw new Error(`relayOutbox called before service '${this.fullName}' started`);
      const relay = state.newRelay(store);
      state.otherRelays.push(relay);
      const unsubscribe = whenBrokerStarted(this.broker, () => relay.start());
      const previous = state.unsubscribeStarted;
      state.unsubscribeStarted = () => {
        previous?.();
        unsubscribe();
      };
      return relay;
    },
  } satisfies DurableEventsMethods & ThisType<DurableHost>;

  return {
    actions: {
      /**
       * Operator tool (REPL: `call <service>.replayDeadLetters --limit 100`): puts this
       * service's dead-lettered events back in its queue once the cause is fixed.
       */
      replayDeadLetters: {
        internal: true,
        params: LIMIT_PARAMS,
        async handler(
          this: Service,
          ctx: Context<{ limit?: number }>,
        ): Promise<{ replayed: number; refused: number }> {
          const state = startedState(this);
          // Processed ids are pruned after processedRetentionMs (by when they were recorded,
          // which is after the event occurred): for an older event, "not processed" proves nothing.
          const oldest = Date.now() - opts.processedRetentionMs + REPLAY_MARGIN_MS;
          const result = await state.transport.replayDeadLetters(
            this.fullName,
            ctx.params.limit ?? 1000,
            envelope => Date.parse(envelope.occurredAt) >= oldest,
          );
          if (result.replayed > 0)
            this.logger.info(`Replayed ${result.replayed} dead-lettered durable event(s)`);
          if (result.refused > 0)
            this.logger.warn(
              `Left ${result.refused} dead-lettered event(s) older than the processed-id retention in the dead-letter queue: replaying them could apply them twice`,
            );
          return result;
        },
      },
      /**
       * Operator tool (REPL: `call <service>.retryParkedEvents`): gives outbox rows parked
       * after maxPublishAttempts back to the relay once the cause is fixed.
       */
      retryParkedEvents: {
        internal: true,
        params: LIMIT_PARAMS,
        async handler(
          this: Service,
          ctx: Context<{ limit?: number }>,
        ): Promise<{ retried: number }> {
          const state = startedState(this);
          const limit = ctx.params.limit ?? 10_000;
          let retried = 0;
          for (const relay of [state.relay, ...state.otherRelays])
            retried += await relay.store.unpark(limit - retried);
          setParked(this.broker, this.name, await parkedInAll(state));
          for (const relay of [state.relay, ...state.otherRelays]) relay.kick();
          return { retried };
        },
      },
    },
    methods,

    async started(this: Service) {
      const self = this as DurableHost;
      const { sequelize, dbSchema } = self;
      if (!sequelize || !dbSchema) {
        throw new Error(
          `DurableEvents in '${self.fullName}' needs this.sequelize and this.dbSchema: list DbMixin before it`,
        );
      }
      const broker = self.broker;
      registerEventMetrics(broker);
      const store = new OutboxStore(sequelize, dbSchema);
      await store.ensureTables();
      const transport = await acquireTransport(broker, opts);
      const service = self.name;
      const relayOptions: RelayOptions = {
        pollIntervalMs: opts.pollIntervalMs,
        batchSize: opts.batchSize,
        // Renewed once per pass; an AMQP pass may wait out a whole confirm timeout.
        leaseMs: Math.max(
          opts.leaseMs,
          opts.pollIntervalMs * 3,
          transport.publishSettles === "confirm" ? opts.confirmTimeoutMs * 2 : 0,
        ),
        maxInFlight: opts.batchSize * 5,
        maxPublishAttempts: opts.maxPublishAttempts,
        stopWaitMs: opts.confirmTimeoutMs,
        sentRetentionMs: opts.sentRetentionMs,
        processedRetentionMs: opts.processedRetentionMs,
        pruneIntervalMs: 60_000,
      };
      const newRelay = (from: RelayStore) =>
        new OutboxRelay(from, transport, relayOptions, self.logger, {
          published: envelope =>
            countEvent(broker, EVENT_METRICS.published, service, envelope.type),
          backlog: count => setBacklog(broker, service, count),
          parked: () =>
            void parkedInAll(state).then(
              total => setParked(broker, service, total),
              (err: unknown) =>
                self.logger.warn(`Counting parked outbox rows failed: ${String(err)}`),
            ),
        });
      const relay = newRelay(store);
      const state: DurableState = { store, transport, relay, newRelay, otherRelays: [] };
      self.$durable = state;

      const handlers =
        (self.schema as { durableEvents?: DurableEventHandlers<DurableHost> }).durableEvents ?? {};
      const types = Object.keys(handlers).filter(
        type => typeof handlers[type as DomainEventType] === "function",
      );
      if (types.length > 0) {
        const transaction: TransactionRunner =
          typeof self.withTransaction === "function"
            ? fn => (self.withTransaction as TransactionRunner)(fn)
            : fn => sequelize.transaction(fn);
        const runner = new BatchingRunner({
          store,
          consumer: self.fullName,
          handlers,
          batchHandlers: (
            self.schema as { durableEventBatches?: DurableEventBatchHandlers<DurableHost> }
          ).durableEventBatches,
          beforeBatch: (self.schema as { beforeDurableBatch?: BeforeDurableBatch<DurableHost> })
            .beforeDurableBatch,
          self,
          transaction,
          statement: (sql, t) => sequelize.query(sql, { transaction: t }),
          maxBatch: opts.maxBatch,
        });
        const consumer = self.fullName;
        const deadLetters: DeadLetterStore = {
          add: (group, dead) => store.addDeadLetter(group, dead),
          take: async (group, limit) =>
            (await store.deadLetters(group, limit)).map(({ id, ...dead }) => ({
              dead,
              remove: () => store.removeDeadLetter(id),
            })),
        };
        const lag = new ConsumerLag(broker, service, consumer, opts.lagIdleMs);
        state.lag = lag;
        state.subscription = await transport.subscribe({
          group: consumer,
          types,
          prefetch: opts.prefetch,
          retry,
          redelivered: async envelope => {
            const record = await store.recordRedelivery(consumer, envelope.id);
            if (record.applied)
              countEvent(broker, EVENT_METRICS.duplicates, service, envelope.type);
            return record;
          },
          deadLetters,
          handle: async envelope => {
            const outcome = await runner.handle(envelope);
            if (outcome === "handled") {
              countEvent(broker, EVENT_METRICS.consumed, service, envelope.type);
              lag.handled(envelope.occurredAt);
            }
            if (outcome === "duplicate")
              countEvent(broker, EVENT_METRICS.duplicates, service, envelope.type);
          },
          retried: (envelope, attempt, error) => {
            countEvent(broker, EVENT_METRICS.failed, service, envelope.type);
            self.logger.warn(
              `Durable event ${envelope.type} ${envelope.id} failed (attempt ${attempt}), will retry: ${error.message}`,
            );
          },
          deadLettered: (envelope, attempts, error) => {
            const type = envelope?.type ?? "invalid";
            countEvent(broker, EVENT_METRICS.failed, service, type);
            countEvent(broker, EVENT_METRICS.deadLettered, service, type);
            self.logger.error(
              `Durable event ${type} ${envelope?.id ?? ""} dead-lettered after ${attempts} attempt(s): ${error.message}`,
            );
          },
        });
      }
      // The catalog's consumer groups (models/events.model.ts), declared before anything is
      // relayed: what this service publishes waits for a consumer that has never run yet.
      // With the same retry policy (the mixin's defaults) their consumers declare them with.
      await transport.declare(
        catalogGroups(retry).filter(
          group => !(state.subscription && group.group === self.fullName),
        ),
      );
      // Relaying waits for every local service, so in-process consumers are bound first.
      state.unsubscribeStarted = whenBrokerStarted(broker, () => relay.start());
    },

    async stopped(this: Service) {
      const self = this as DurableHost;
      const state = self.$durable;
      if (!state) return;
      state.unsubscribeStarted?.();
      await state.subscription?.stop();
      state.lag?.stop();
      await Promise.all([state.relay, ...state.otherRelays].map(relay => relay.stop()));
      self.$durable = undefined;
      await releaseTransport(self.broker);
    },
  };
}

/**
 * A service's consumers as plain functions of (deps, event, transaction), one per event type
 * it consumes: the one list of what the service consumes, from which its `durableEvents` and
 * their types are derived (`durableEventsOf`).
 */
export type DurableConsumers<Deps> = {
  [K in DomainEventType]?: (deps: Deps, event: EventEnvelope<K>, t: Transaction) => Promise<void>;
};

function bound<K extends DomainEventType, Deps, TThis>(
  consume: (deps: Deps, event: EventEnvelope<K>, t: Transaction) => Promise<void>,
  depsOf: (self: TThis) => Promise<Deps>,
): DurableEventHandler<K, TThis> {
  return async function (event, t) {
    await consume(await depsOf(this), event, t);
  };
}

function bindInto<K extends DomainEventType, Deps, TThis>(
  handlers: DurableEventHandlers<TThis>,
  type: K,
  consumers: DurableConsumers<Deps>,
  depsOf: (self: TThis) => Promise<Deps>,
): void {
  const consume = consumers[type];
  // `handlers[type] = …` is checked against every event type's handler at once (K is generic);
  // the handler bound here is K's own.
  if (consume) Object.assign(handlers, { [type]: bound(consume, depsOf) });
}

/** The `durableEvents` of a service: each consumer called with the deps `depsOf` gives for the handling service. */
export function durableEventsOf<Deps, TThis>(
  consumers: DurableConsumers<Deps>,
  depsOf: (self: TThis) => Promise<Deps>,
): DurableEventHandlers<TThis> {
  const handlers: DurableEventHandlers<TThis> = {};
  for (const type of DOMAIN_EVENT_TYPES) bindInto(handlers, type, consumers, depsOf);
  return handlers;
}
