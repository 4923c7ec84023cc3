import amqp, {
  type Channel,
  type ChannelModel,
  type ConfirmChannel,
  type ConsumeMessage,
  type Message,
  type MessagePropertyHeaders,
  type Options,
} from "amqplib";
import type { Logger } from "moleculer";
import type { EventEnvelope } from "../../models/events.model";
import { parseEnvelope } from "./envelope";
import {
  errorOf,
  retryDelay,
  retryDelays,
  type ConsumerGroupSpec,
  type EventTransport,
  type GroupTopology,
  type RetryPolicy,
  type Subscription,
} from "./transport";

/** The properties a message keeps when it is published again (delay queue, DLQ, replay). */
function republished(msg: Message, headers: MessagePropertyHeaders): Options.Publish {
  return {
    persistent: true,
    contentType: msg.properties.contentType,
    messageId: msg.properties.messageId,
    type: msg.properties.type,
    appId: msg.properties.appId,
    timestamp: msg.properties.timestamp,
    headers,
  };
}

/**
 * Durable events on RabbitMQ, on amqplib directly:
 *   <ns>.events                 durable topic exchange, routing key = event type
 *   <ns>.<service>              one durable (quorum) queue per consuming service (its consumer group)
 *   <ns>.<service>.retry.<d>ms  delay queues: TTL d, then dead-lettered back to the queue
 *   <ns>.<service>.dlq          events that failed every attempt, with the last error
 * Messages are persistent and published on confirm channels (a publish resolves on
 * the broker's ack); consumers ack by hand after the handler's transaction committed,
 * with a bounded prefetch. The connection is re-opened with back-off when it drops,
 * and the topology is declared again before consuming resumes.
 */

export interface AmqpTopologyNames {
  exchange: string;
  queue: string;
  dlq: string;
  retryQueue(delayMs: number): string;
  retryQueues: string[];
}

export function topologyNames(
  namespace: string,
  group: string,
  retry: RetryPolicy,
): AmqpTopologyNames {
  const queue = `${namespace}.${group}`;
  const retryQueue = (delayMs: number) => `${queue}.retry.${delayMs}ms`;
  return {
    exchange: `${namespace}.events`,
    queue,
    dlq: `${queue}.dlq`,
    retryQueue,
    retryQueues: retryDelays(retry).map(retryQueue),
  };
}

/**
 * Declares a consumer group's topology: the exchange, the group's queue bound to its types,
 * its DLQ and delay queues. Its consumers and the producers declaring it ahead of them
 * (EventTransport.declare) both run this, so their declarations always agree: RabbitMQ
 * refuses to re-declare a queue with other arguments.
 */
export async function declareGroupTopology(
  channel: Channel,
  names: AmqpTopologyNames,
  topology: GroupTopology,
): Promise<void> {
  await channel.assertExchange(names.exchange, "topic", { durable: true });
  // A quorum queue counts deliveries lost with their consumer (x-delivery-count) and
  // dead-letters the event once the limit is reached; failures that reach our code are
  // retried through the delay queues instead, which does not count against it.
  await channel.assertQueue(names.queue, {
    durable: true,
    arguments: {
      "x-queue-type": "quorum",
      "x-delivery-limit": topology.retry.redeliveryLimit ?? 10,
      "x-dead-letter-exchange": "",
      "x-dead-letter-routing-key": names.dlq,
    },
  });
  for (const type of topology.types) await channel.bindQueue(names.queue, names.exchange, type);
  await channel.assertQueue(names.dlq, { durable: true });
  for (const delay of retryDelays(topology.retry)) {
    await channel.assertQueue(names.retryQueue(delay), {
      durable: true,
      arguments: {
        "x-message-ttl": delay,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": names.queue,
      },
    });
  }
}

export interface AmqpTransportOptions {
  url: string;
  namespace: string;
  logger: Logger;
  /** Shown in the RabbitMQ management UI. */
  connectionName?: string;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** A publish the broker has not confirmed by then counts as failed (the outbox retries it). */
  confirmTimeoutMs?: number;
  heartbeatSeconds?: number;
}

const ATTEMPTS = "x-attempts";

function withHeartbeat(url: string, seconds: number): string {
  const parsed = new URL(url);
  if (!parsed.searchParams.has("heartbeat")) parsed.searchParams.set("heartbeat", String(seconds));
  return parsed.toString();
}

function confirmed(send: (cb: (err: unknown) => void) => void, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("publisher confirm timed out")), timeoutMs);
    try {
      send(err => {
        clearTimeout(timer);
        if (err) reject(errorOf(err));
        else resolve();
      });
    } catch (err) {
      clearTimeout(timer);
      reject(errorOf(err));
    }
  });
}

/** For broker round trips on stop: a half-open connection must not hold the shutdown. */
function bounded(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.then(
      () => undefined,
      () => undefined,
    ),
    new Promise<void>(resolve => {
      timer = setTimeout(resolve, ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

class AmqpConsumerGroup implements Subscription {
  readonly names: AmqpTopologyNames;
  private channel?: ConfirmChannel;
  private consumerTag?: string;
  private stopping = false;
  private readonly running = new Set<Promise<void>>();
  attachedTo?: ChannelModel;

  constructor(
    private readonly transport: AmqpTransport,
    private readonly spec: ConsumerGroupSpec,
    namespace: string,
  ) {
    this.names = topologyNames(namespace, spec.group, spec.retry);
  }

  async attach(connection: ChannelModel): Promise<void> {
    if (this.stopping || this.attachedTo === connection) return;
    this.attachedTo = connection;
    const { names, spec } = this;
    const channel = await connection.createConfirmChannel();
    channel.on("error", (err: Error) =>
      this.transport.logger.warn(`AMQP channel of ${names.queue}: ${err.message}`),
    );
    channel.on("close", () => {
      if (this.channel !== channel) return;
      this.channel = undefined;
      this.consumerTag = undefined;
      if (!this.stopping) this.transport.channelLost(`consumer channel of ${names.queue} closed`);
    });
    await declareGroupTopology(channel, names, spec);
    await channel.prefetch(spec.prefetch);
    this.channel = channel;
    const { consumerTag } = await channel.consume(
      names.queue,
      msg => this.onMessage(channel, msg),
      {
        noAck: false,
      },
    );
    this.consumerTag = consumerTag;
  }

  /** The connection is gone: unacked deliveries go back to the queue on the broker's side. */
  detach(): void {
    this.channel = undefined;
    this.consumerTag = undefined;
    this.attachedTo = undefined;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const channel = this.channel;
    if (channel && this.consumerTag) await bounded(channel.cancel(this.consumerTag), 5000);
    // In-flight handlers finish and ack on the still-open channel.
    await Promise.allSettled([...this.running]);
    this.channel = undefined;
    if (channel) await bounded(channel.close(), 5000);
    this.transport.removeGroup(this);
  }

  private onMessage(channel: ConfirmChannel, msg: ConsumeMessage | null): void {
    if (msg === null) {
      // The broker cancelled us (queue deleted): declare everything again.
      if (!this.stopping)
        this.transport.channelLost(`consumer of ${this.names.queue} cancelled by the broker`);
      return;
    }
    const task: Promise<void> = this.process(channel, msg)
      .catch(err =>
        this.transport.logger.error(`Durable event delivery failed in ${this.names.queue}`, err),
      )
      .finally(() => this.running.delete(task));
    this.running.add(task);
  }

  private async process(channel: ConfirmChannel, msg: ConsumeMessage): Promise<void> {
    const headers: MessagePropertyHeaders = { ...(msg.properties.headers ?? {}) };
    const attempt = (Number(headers[ATTEMPTS]) || 0) + 1;
    let envelope: EventEnvelope;
    try {
      envelope = parseEnvelope(msg.content);
    } catch (err) {
      if (await this.forward(channel, msg, this.names.dlq, attempt, errorOf(err))) {
        this.spec.deadLettered?.(undefined, attempt, errorOf(err));
      }
      return;
    }
    try {
      await this.spec.handle(envelope);
    } catch (err) {
      const error = errorOf(err);
      if (attempt >= this.spec.retry.maxAttempts) {
        if (await this.forward(channel, msg, this.names.dlq, attempt, error)) {
          this.spec.deadLettered?.(envelope, attempt, error);
        }
      } else {
        const queue = this.names.retryQueue(retryDelay(this.spec.retry, attempt));
        if (await this.forward(channel, msg, queue, attempt, error)) {
          this.spec.retried?.(envelope, attempt, error);
        }
      }
      return;
    }
    try {
      channel.ack(msg);
    } catch {
      // The channel died after the commit: the broker redelivers and processed_events skips it.
    }
    this.spec.handled?.(envelope);
  }

  /** Moves a failed delivery to a delay queue or the DLQ: confirmed there first, then acked here. */
  private async forward(
    channel: ConfirmChannel,
    msg: ConsumeMessage,
    queue: string,
    attempt: number,
    error: Error,
  ): Promise<boolean> {
    const headers: MessagePropertyHeaders = { ...(msg.properties.headers ?? {}) };
    delete headers["x-death"];
    headers[ATTEMPTS] = attempt;
    headers["x-last-error"] = error.message.slice(0, 1000);
    headers["x-failed-at"] = new Date().toISOString();
    headers["x-consumer-group"] = this.spec.group;
    const options = republished(msg, headers);
    try {
      await confirmed(
        cb => channel.sendToQueue(queue, msg.content, options, cb),
        this.transport.confirmTimeoutMs,
      );
    } catch (err) {
      this.transport.logger.warn(
        `Could not move a failed event to ${queue}: ${errorOf(err).message}`,
      );
      try {
        channel.nack(msg, false, true);
      } catch {
        // Channel gone: the broker requeues it anyway.
      }
      return false;
    }
    try {
      channel.ack(msg);
    } catch {
      // Channel gone after the copy was confirmed: a duplicate, which processed_events absorbs.
    }
    return true;
  }
}

export class AmqpTransport implements EventTransport {
  readonly kind = "amqp" as const;
  readonly logger: Logger;
  readonly confirmTimeoutMs: number;
  private readonly exchange: string;
  private readonly groups = new Set<AmqpConsumerGroup>();
  /** Groups declared ahead of their consumers (declare), by group name. */
  private readonly declared = new Map<string, GroupTopology>();
  private connection?: ChannelModel;
  private publisher?: ConfirmChannel;
  private ready = false;
  private closing = false;
  private failures = 0;
  private reconnectTimer?: NodeJS.Timeout;
  private connecting?: Promise<void>;

  constructor(private readonly opts: AmqpTransportOptions) {
    this.logger = opts.logger;
    this.confirmTimeoutMs = opts.confirmTimeoutMs ?? 10_000;
    this.exchange = `${opts.namespace}.events`;
  }

  get connected(): boolean {
    return this.ready;
  }

  /** First connection attempt; if the broker is down the node starts anyway and keeps trying. */
  async start(): Promise<void> {
    await this.connect();
  }

  async publish(envelope: EventEnvelope): Promise<void> {
    const channel = this.publisher;
    if (!this.ready || !channel) throw new Error("AMQP broker not connected");
    const content = Buffer.from(JSON.stringify(envelope));
    await confirmed(
      cb =>
        channel.publish(
          this.exchange,
          envelope.type,
          content,
          {
            persistent: true,
            contentType: "application/json",
            messageId: envelope.id,
            type: envelope.type,
            appId: envelope.producer,
            timestamp: Math.floor(Date.parse(envelope.occurredAt) / 1000),
            headers: { [ATTEMPTS]: 0 },
          },
          cb,
        ),
      this.confirmTimeoutMs,
    );
  }

  async subscribe(spec: ConsumerGroupSpec): Promise<Subscription> {
    const group = new AmqpConsumerGroup(this, spec, this.opts.namespace);
    this.groups.add(group);
    if (this.ready && this.connection) {
      const connection = this.connection;
      await group.attach(connection).catch(err => {
        this.logger.error(`Could not declare ${group.names.queue}: ${errorOf(err).message}`);
        this.channelLost("topology declaration failed");
      });
    }
    return group;
  }

  async declare(groups: GroupTopology[]): Promise<void> {
    for (const topology of groups) {
      const known = this.declared.get(topology.group);
      const types = [...new Set([...(known?.types ?? []), ...topology.types])];
      this.declared.set(topology.group, { ...topology, types });
    }
    // A connection being opened may have declared its groups before these were added.
    await this.connecting;
    const connection = this.connection;
    if (this.ready && connection) await this.declareAhead(connection, groups);
  }

  async replayDeadLetters(group: string, limit: number): Promise<number> {
    const connection = this.connection;
    if (!this.ready || !connection) throw new Error("AMQP broker not connected");
    const queue = `${this.opts.namespace}.${group}`;
    const channel = await connection.createConfirmChannel();
    channel.on("error", () => undefined);
    let moved = 0;
    try {
      while (moved < limit) {
        const msg = await channel.get(`${queue}.dlq`, { noAck: false });
        if (msg === false) break;
        const headers: MessagePropertyHeaders = { ...(msg.properties.headers ?? {}) };
        for (const key of [
          "x-death",
          "x-first-death-exchange",
          "x-first-death-queue",
          "x-first-death-reason",
        ]) {
          delete headers[key];
        }
        headers[ATTEMPTS] = 0;
        headers["x-replayed-at"] = new Date().toISOString();
        await confirmed(
          cb => channel.sendToQueue(queue, msg.content, republished(msg, headers), cb),
          this.confirmTimeoutMs,
        );
        // Confirmed in the queue before it leaves the DLQ: a crash here duplicates, never loses.
        channel.ack(msg);
        moved++;
      }
    } finally {
      await bounded(channel.close(), 5000);
    }
    return moved;
  }

  removeGroup(group: AmqpConsumerGroup): void {
    this.groups.delete(group);
  }

  /** A channel died under a live connection: start over with a fresh connection. */
  channelLost(reason: string): void {
    if (this.closing) return;
    this.logger.warn(`AMQP ${reason}; reconnecting`);
    const connection = this.connection;
    if (connection) {
      this.dropped(connection);
      connection.close().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.reconnectTimer);
    await this.connecting?.catch(() => undefined);
    await Promise.allSettled([...this.groups].map(group => group.stop()));
    const connection = this.connection;
    this.ready = false;
    this.connection = undefined;
    this.publisher = undefined;
    if (connection) await bounded(connection.close(), 5000);
  }

  private connect(): Promise<void> {
    this.connecting ??= this.open()
      .catch(err => {
        this.failures++;
        const delay = this.reconnectDelay();
        this.logger.warn(
          `AMQP broker unreachable (${errorOf(err).message}); retrying in ${delay} ms`,
        );
        this.scheduleReconnect(delay);
      })
      .finally(() => {
        this.connecting = undefined;
      });
    return this.connecting;
  }

  private async open(): Promise<void> {
    if (this.closing) return;
    const connection = await amqp.connect(
      withHeartbeat(this.opts.url, this.opts.heartbeatSeconds ?? 10),
      {
        clientProperties: {
          connection_name: this.opts.connectionName ?? `lingomesh-${this.opts.namespace}`,
        },
        // A black-holed broker must not hold the node's start for the OS's TCP timeout.
        timeout: 5000,
      },
    );
    connection.on("error", (err: Error) =>
      this.logger.warn(`AMQP connection error: ${err.message}`),
    );
    connection.on("close", () => {
      if (this.connection === connection) {
        this.logger.warn("AMQP connection closed");
        this.dropped(connection);
      }
    });
    if (this.closing) {
      await connection.close().catch(() => undefined);
      return;
    }
    this.connection = connection;
    try {
      const publisher = await connection.createConfirmChannel();
      publisher.on("error", (err: Error) =>
        this.logger.warn(`AMQP publish channel error: ${err.message}`),
      );
      publisher.on("close", () => {
        if (this.publisher === publisher) this.channelLost("publish channel closed");
      });
      await publisher.assertExchange(this.exchange, "topic", { durable: true });
      // Before the first publish on this connection: what is published has a queue to wait in.
      await this.declareAhead(connection, [...this.declared.values()]);
      this.publisher = publisher;
      // A Set iterator also visits groups subscribed while this loop awaits.
      for (const group of this.groups) await group.attach(connection);
    } catch (err) {
      if (this.connection === connection) {
        this.connection = undefined;
        this.publisher = undefined;
        for (const group of this.groups) group.detach();
      }
      await connection.close().catch(() => undefined);
      throw err;
    }
    if (this.connection !== connection)
      throw new Error("connection lost while declaring the topology");
    this.ready = true;
    if (this.failures > 0) this.logger.info("AMQP broker connection restored");
    this.failures = 0;
  }

  /**
   * Declares groups ahead of their consumers, each on a channel of its own: a group its
   * consumer declared with other settings (another retry policy) is the consumer's to
   * define — the broker refuses ours, which closes only that channel, and we go on.
   */
  private async declareAhead(connection: ChannelModel, groups: GroupTopology[]): Promise<void> {
    for (const topology of groups) {
      const names = topologyNames(this.opts.namespace, topology.group, topology.retry);
      const channel = await connection.createChannel();
      channel.on("error", () => undefined);
      try {
        await declareGroupTopology(channel, names, topology);
      } catch (err) {
        if (this.connection !== connection) throw err;
        this.logger.warn(
          `Could not declare ${names.queue} ahead of its consumer: ${errorOf(err).message}`,
        );
      } finally {
        await bounded(channel.close(), 5000);
      }
    }
  }

  /** The connection is gone (or going): forget it and its channels, and come back later. */
  private dropped(connection: ChannelModel): void {
    if (this.connection !== connection) return;
    this.ready = false;
    this.connection = undefined;
    this.publisher = undefined;
    for (const group of this.groups) group.detach();
    if (this.closing) return;
    this.failures++;
    this.scheduleReconnect(this.reconnectDelay());
  }

  private reconnectDelay(): number {
    const min = this.opts.reconnectMinMs ?? 200;
    const max = this.opts.reconnectMaxMs ?? 10_000;
    const base = Math.min(max, min * 2 ** Math.max(0, this.failures - 1));
    // Jitter, so the nodes of a cluster do not all knock at once after a broker restart.
    return Math.round(base * (0.75 + Math.random() * 0.5));
  }

  private scheduleReconnect(delay: number): void {
    if (this.closing) return;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => void this.connect(), delay);
  }
}
