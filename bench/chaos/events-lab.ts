import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { ServiceBroker } from "moleculer";
import { QueryTypes } from "sequelize";
import { EVENT_METRICS } from "../../lib/events/metrics";
import { SERVERS } from "../../test/support/servers";
import { uniqueName } from "../../test/support/isolation";
import { createRunVhost, deleteRunVhost } from "../../test/support/rabbitmq-vhost";
import { startTcpProxy, type TcpProxy } from "../../test/support/tcp-proxy";
import {
  consumerService,
  deleteTopology,
  emitNamedUserCreated,
  producerService,
  serviceOf,
  startEventsNode,
} from "../../test/integration/events.helpers";
import { check, type Check } from "./drill";
import { round } from "./util";

/**
 * The durable-event drills of issue 13 run a producer node (outbox + relay) and a consumer
 * node in the harness process, on the cluster's database and on a RabbitMQ vhost of their
 * own; the consumer reaches RabbitMQ through a TCP proxy the drill can cut.
 */
export interface EventsLab {
  amqpUrl: string;
  namespace: string;
  group: string;
  producerSchema: string;
  consumerLink: TcpProxy;
  producer: ServiceBroker;
  consumer: ServiceBroker;
  /** Emits `count` events in transactions of `batch`; returns their ids. */
  emit(count: number, batch?: number): Promise<string[]>;
  figures(emitted: string[]): Promise<LabFigures>;
  /** Samples the harness's RSS (the producer's process) every 100 ms from now on. */
  peakRssMb(): number;
  stop(): Promise<void>;
}

export interface LabFigures {
  published: number;
  consumed: number;
  lost: number;
  duplicatesDelivered: number;
  duplicatesApplied: number;
  duplicatePublishes: number;
  unsent: number;
}

export async function startEventsLab(databaseUrl: string, tag: string): Promise<EventsLab> {
  const amqpUrl = await createRunVhost(SERVERS.rabbitmq.url);
  if (!amqpUrl) throw new Error("rabbitmqctl is needed for the drill's own vhost");
  const namespace = uniqueName(`ev${tag}`);
  const group = uniqueName(tag)
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, "_");
  const producerSchema = `${group}_p`;
  const port = Number(new URL(amqpUrl).port) || 5672;
  const consumerLink = await startTcpProxy({ port });
  let peak = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 100);
  const consumer = await startEventsNode({
    namespace,
    nodeID: `${tag}-consumer`,
    databaseUrl,
    amqpUrl: consumerLink.urlFor(amqpUrl),
    services: [consumerService(group)],
  });
  const producer = await startEventsNode({
    namespace,
    nodeID: `${tag}-producer`,
    databaseUrl,
    amqpUrl,
    services: [producerService(producerSchema)],
  });
  let seq = 0;
  const metric = (broker: ServiceBroker, name: string, service: string): number =>
    Number(broker.metrics.getMetric(name)?.get({ service, type: "user.created" })?.value ?? 0);
  return {
    amqpUrl,
    namespace,
    group,
    producerSchema,
    consumerLink,
    producer,
    consumer,
    async emit(count, batch = 500) {
      const ids: string[] = [];
      const p = serviceOf(producer, producerSchema);
      for (let done = 0; done < count; done += batch) {
        const names = Array.from(
          { length: Math.min(batch, count - done) },
          () => `${tag}-${++seq}`,
        );
        for (const e of await emitNamedUserCreated(p, names)) ids.push(e.id);
      }
      return ids;
    },
    async figures(emitted) {
      const c = serviceOf(consumer, group);
      const [row] = await c.sequelize.query<{ total: string; distinct: string }>(
        `SELECT count(*) AS total, count(DISTINCT event_id) AS distinct FROM "${group}".effects`,
        { type: QueryTypes.SELECT },
      );
      const applied = new Set(
        (
          await c.sequelize.query<{ event_id: string }>(
            `SELECT DISTINCT event_id FROM "${group}".effects`,
            { type: QueryTypes.SELECT },
          )
        ).map(r => r.event_id),
      );
      const [outbox] = await c.sequelize.query<{ unsent: string }>(
        `SELECT count(*) AS unsent FROM "${producerSchema}".outbox WHERE sent_at IS NULL`,
        { type: QueryTypes.SELECT },
      );
      const published = metric(producer, EVENT_METRICS.published, producerSchema);
      return {
        published,
        consumed: Number(row.total),
        lost: emitted.filter(id => !applied.has(id)).length,
        duplicatesDelivered: metric(consumer, EVENT_METRICS.duplicates, group),
        duplicatesApplied: Number(row.total) - Number(row.distinct),
        duplicatePublishes: Math.max(0, published - emitted.length),
        unsent: Number(outbox.unsent),
      };
    },
    peakRssMb: () => round(peak / 2 ** 20, 1),
    async stop() {
      clearInterval(sampler);
      await Promise.allSettled([producer.stop(), consumer.stop()]);
      await consumerLink.close().catch(() => undefined);
      await deleteTopology(amqpUrl, namespace, [group]).catch(() => undefined);
      await deleteRunVhost(amqpUrl);
    },
  };
}

/** The six figures every issue-13 drill prints, with the targets the drill holds them to. */
export function labChecks(f: LabFigures, emitted: number, peakRssMb: number): Check[] {
  return [
    check("events committed", emitted),
    check("published (confirmed publishes)", f.published),
    check("consumed (handlings)", f.consumed),
    check("lost", f.lost, "0", f.lost === 0),
    check("duplicates delivered (redeliveries skipped)", f.duplicatesDelivered),
    check("duplicates applied", f.duplicatesApplied, "0", f.duplicatesApplied === 0),
    check("producer peak RSS", peakRssMb, undefined, undefined, "MB"),
    check("outbox rows still unsent", f.unsent, "0", f.unsent === 0),
  ];
}

const execFileAsync = promisify(execFile);

export async function rabbitmqctl(...args: string[]): Promise<string> {
  const { stdout } = await execFileAsync("rabbitmqctl", args, { timeout: 30_000 });
  return stdout;
}

/**
 * The memory watermark RabbitMQ runs with now, as `set_vm_memory_high_watermark` arguments
 * that put it back exactly: a fraction (`0.4`) or `absolute <bytes>`.
 */
export async function currentMemoryWatermark(): Promise<string[]> {
  const env = await rabbitmqctl("environment");
  const fraction = /\{vm_memory_high_watermark,([0-9.]+)\}/.exec(env);
  if (fraction) return [fraction[1]];
  const absolute = /\{vm_memory_high_watermark,\{absolute,"?([0-9A-Za-z.]+)"?\}\}/.exec(env);
  if (absolute) return ["absolute", absolute[1]];
  throw new Error("cannot read vm_memory_high_watermark from rabbitmqctl environment");
}
