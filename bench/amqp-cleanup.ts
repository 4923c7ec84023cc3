import amqp from "amqplib";
import { ALL_SERVICES } from "../lib/config";
import { topologyNames } from "../lib/events/amqp-transport";
import { SERVERS } from "../test/support/servers";

/** The delivery policy DurableEvents() uses by default (its delay queues carry these delays). */
export const DEFAULT_RETRY = { maxAttempts: 6, baseDelayMs: 2000, maxDelayMs: 60_000 };

/** Deletes the RabbitMQ exchange and queues of a bench or drill namespace (the server is shared). */
export async function deleteAmqpTopology(namespace: string): Promise<void> {
  const connection = await amqp.connect(SERVERS.rabbitmq.url, { timeout: 5000 });
  try {
    for (const service of ALL_SERVICES) {
      const names = topologyNames(namespace, service, DEFAULT_RETRY);
      for (const queue of [names.queue, names.dlq, ...names.retryQueues]) {
        // A channel per delete: deleting a queue that is not there closes the channel.
        const channel = await connection.createChannel();
        channel.on("error", () => undefined);
        await channel.deleteQueue(queue).catch(() => undefined);
        await channel.close().catch(() => undefined);
      }
    }
    const channel = await connection.createChannel();
    channel.on("error", () => undefined);
    await channel.deleteExchange(`${namespace}.events`).catch(() => undefined);
    await channel.close().catch(() => undefined);
  } finally {
    await connection.close().catch(() => undefined);
  }
}
