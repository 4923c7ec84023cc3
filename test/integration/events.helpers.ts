import amqp from "amqplib";
import { DataTypes, QueryTypes, type Sequelize, type Transaction } from "sequelize";
import { ServiceBroker, type Service, type ServiceSchema } from "moleculer";
import { DbMixin, type DbServiceThis } from "../../mixins/db.mixin";
import {
  DurableEvents,
  type DurableEventsMethods,
  type DurableEventsOptions,
} from "../../mixins/durable-events.mixin";
import { topologyNames } from "../../lib/events/amqp-transport";
import { catalogGroups, retryDelays } from "../../lib/events/transport";
import type { EventEnvelope } from "../../models/events.model";
import { brokerOptions } from "../../moleculer.config";
import { testConfig } from "../support/isolation";

/**
 * Small test services for the durable-event suites: a producer that emits
 * `user.created` in a transaction, and a consumer whose handler writes one row per
 * handling into `<schema>.effects` (no unique key, so a double handling would show).
 */

export type EventsThis = DbServiceThis & DurableEventsMethods;

/** Small, fast retry settings for tests. */
export const FAST: DurableEventsOptions = {
  maxAttempts: 3,
  retryBaseDelayMs: 50,
  retryMaxDelayMs: 200,
  pollIntervalMs: 200,
  reconnectMinMs: 100,
  reconnectMaxMs: 500,
  confirmTimeoutMs: 3000,
};

/** A consumer's `<schema>.effects` table (created at start: DbMixin syncs its models). */
const effectModels = (sequelize: Sequelize, schema: string) => ({
  Effect: sequelize.define(
    "effect",
    {
      id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
      eventId: { type: DataTypes.UUID, field: "event_id", allowNull: false },
      node: { type: DataTypes.STRING, allowNull: false },
    },
    { tableName: "effects", timestamps: false, schema },
  ),
});

export function producerService(
  name = "producer",
  opts: DurableEventsOptions = FAST,
): ServiceSchema {
  return {
    name,
    mixins: [DbMixin({ schema: name, models: effectModels }), DurableEvents(opts)],
  };
}

export interface ConsumerBehaviour {
  /** Runs inside the handler's transaction before the effect is written; throw to fail. */
  before?(event: EventEnvelope<"user.created">, nodeID: string): Promise<void> | void;
}

export function consumerService(
  name: string,
  behaviour: ConsumerBehaviour = {},
  opts: DurableEventsOptions = FAST,
): ServiceSchema {
  const schema: ServiceSchema<Record<string, never>, DurableEventsMethods, DbServiceThis> = {
    name,
    mixins: [DbMixin({ schema: name, models: effectModels }), DurableEvents(opts)],
    durableEvents: {
      "user.created": async function (event, t) {
        await behaviour.before?.(event, this.broker.nodeID);
        await this.sequelize.query(
          `INSERT INTO "${name}".effects (event_id, node) VALUES (:id, :node)`,
          {
            replacements: { id: event.id, node: this.broker.nodeID },
            transaction: t,
          },
        );
      },
    },
  };
  return schema as unknown as ServiceSchema;
}

export interface EventsNodeOptions {
  namespace: string;
  nodeID: string;
  databaseUrl?: string;
  amqpUrl?: string;
  dataDir?: string;
  services: ServiceSchema[];
  /** SERVICES of the node (which catalog services it runs); none by default. */
  runs?: string;
}

export async function startEventsNode(opts: EventsNodeOptions): Promise<ServiceBroker> {
  const cfg = testConfig({
    // Retries and outages are the point of these suites: their warnings are noise here.
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "error",
    NAMESPACE: opts.namespace,
    NODE_ID: opts.nodeID,
    DATABASE_URL: opts.databaseUrl,
    AMQP_URL: opts.amqpUrl,
    DATA_DIR: opts.dataDir,
    SERVICES: opts.runs ?? "",
  });
  const broker = new ServiceBroker({ ...brokerOptions(cfg), nodeID: opts.nodeID });
  for (const schema of opts.services) broker.createService(schema);
  await broker.start();
  return broker;
}

export function serviceOf(broker: ServiceBroker, name: string): EventsThis {
  return broker.getLocalService(name) as unknown as EventsThis;
}

let seq = 0;

/** Emits one `user.created` in its own committed transaction; returns the envelope. */
export async function emitUserCreated(
  producer: EventsThis,
  name = `user-${++seq}`,
): Promise<EventEnvelope<"user.created">> {
  return producer.withTransaction((t: Transaction) =>
    producer.emitDurable(
      "user.created",
      {
        userId: `u-${name}`,
        email: `${name}@example.test`,
        name,
        timezone: "UTC",
        verificationToken: "x",
      },
      { transaction: t, ctx: { requestID: `req-${name}` } },
    ),
  );
}

/** Emits `count` events in one transaction (one commit, one relay pass). */
export async function emitManyUserCreated(
  producer: EventsThis,
  count: number,
): Promise<Array<EventEnvelope<"user.created">>> {
  return emitNamedUserCreated(
    producer,
    Array.from({ length: count }, () => `user-${++seq}`),
  );
}

/** Emits one event per name, in this order, in one transaction (one commit, one relay pass). */
export async function emitNamedUserCreated(
  producer: EventsThis,
  names: string[],
): Promise<Array<EventEnvelope<"user.created">>> {
  return producer.withTransaction(async (t: Transaction) => {
    const sent: Array<EventEnvelope<"user.created">> = [];
    for (const name of names) {
      sent.push(
        await producer.emitDurable(
          "user.created",
          {
            userId: `u-${name}`,
            email: `${name}@example.test`,
            name,
            timezone: "UTC",
            verificationToken: "x",
          },
          { transaction: t },
        ),
      );
    }
    return sent;
  });
}

export async function effectsOf(
  service: Service & { sequelize: EventsThis["sequelize"] },
  schema: string,
) {
  return service.sequelize.query<{ event_id: string; node: string }>(
    `SELECT event_id, node FROM "${schema}".effects ORDER BY id`,
    { type: QueryTypes.SELECT },
  );
}

export async function outboxOf(service: EventsThis, schema: string) {
  return service.sequelize.query<{ id: string; sent_at: Date | null }>(
    `SELECT id, sent_at FROM "${schema}".outbox ORDER BY id`,
    { type: QueryTypes.SELECT },
  );
}

export async function waitFor(
  condition: () => Promise<boolean> | boolean,
  timeoutMs = 10_000,
  what = "condition",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise(resolve => setTimeout(resolve, 50));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms));

/**
 * Deletes what the AMQP transport declared for these consumer groups in `namespace` — and
 * for the catalog's groups, which every producer declares ahead of their consumers.
 */
export async function deleteTopology(
  url: string,
  namespace: string,
  groups: string[],
  opts: DurableEventsOptions = FAST,
): Promise<void> {
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createChannel();
    const retry = {
      maxAttempts: opts.maxAttempts ?? 5,
      baseDelayMs: opts.retryBaseDelayMs ?? 1000,
      maxDelayMs: opts.retryMaxDelayMs ?? 60_000,
    };
    const catalog = catalogGroups(retry).map(topology => topology.group);
    for (const group of new Set([...groups, ...catalog])) {
      const names = topologyNames(namespace, group, retry);
      for (const queue of [names.queue, names.dlq, ...retryDelays(retry).map(names.retryQueue)]) {
        await channel.deleteQueue(queue);
      }
    }
    await channel.deleteExchange(`${namespace}.events`);
    await channel.close();
  } finally {
    await connection.close();
  }
}

/** Reads (and removes) every message of a queue. */
export async function drainQueue(url: string, queue: string): Promise<amqp.GetMessage[]> {
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createChannel();
    const messages: amqp.GetMessage[] = [];
    for (;;) {
      const msg = await channel.get(queue, { noAck: true });
      if (msg === false) break;
      messages.push(msg);
    }
    await channel.close();
    return messages;
  } finally {
    await connection.close();
  }
}
