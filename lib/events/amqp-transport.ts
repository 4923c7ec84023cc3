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
  type ReplayResult,
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
async function declareGroupTopology(
  channel: Channel,
  names: AmqpTopologyNames,
  topology: GroupTopology,
): Promise<void> {
  await channel.assertExchange(names.exchange, "topic", { durable: true });
  // Every hop of an event on the broker is a quorum queue whose dead-lettering is
  // at-least-once (the message leaves its queue only once the target confirmed it, which
  // needs overflow reject-publish): retry delays back to the queue, and the queue's
  // backstop delivery limit to the DLQ. The consumer counts lost deliveries itself
  // (AmqpConsumerGroup.redelivered), so changing redeliveryLimit changes no queue argument.
  const atLeastOnce = {
    "x-queue-type": "quorum",
    "x-dead-letter-strategy": "at-least-once",
    "x-overflow": "reject-publish",
    "x-dead-letter-exchange": "",
  };
  await channel.assertQueue(names.queue, {
    durable: true,
    arguments: {
      ...atLeastOnce,
      "x-delivery-limit": BROKER_DELIVERY_LIMIT,
      "x-dead-letter-routing-key": names.dlq,
    },
  });
  for (const type of topology.types) await channel.bindQueue(names.queue, names.exchange, type);
  await channel.assertQueue(names.dlq, { durable: true, arguments: { "x-queue-type": "quorum" } });
  for (const delay of retryDelays(topology.retry)) {
    await channel.assertQueue(names.retryQueue(delay), {
      durable: true,
      arguments: {
        ...atLeastOnce,
        "x-message-ttl": delay,
        "x-dead-letter-routing-key": names.queue,
      },
    });
  }
}

/**
 * The broker's own delivery limit on a group's queue: only a backstop far above any
 * redeliveryLimit (RabbitMQ 4 would otherwise apply its default of 20, and count the
 * deliveries a dropped connection returns — applied or not — against it).
 */
export const BROKER_DELIVERY_LIMIT = 1000;

/** What a PRECONDITION_FAILED on declare means, in one line naming the queue and argument. */
function describeDeclareError(err: unknown): string | undefined {
  const error = errorOf(err);
  if ((error as { code?: unknown }).code !== 406 && !/PRECONDITION.FAILED/.test(error.message))
    return undefined;
  const match = /inequivalent arg '([^']+)' for (queue|exchange) '([^']+)'[^:]*: (.*?)"?$/.exec(
    error.message,
  );
  if (!match) return `declaration refused by the broker: ${error.message}`;
  const [, argument, kind, name, detail] = match;
  return `${kind} ${name} exists with another ${argument} (${detail}); see docs/operating.md "Changing queue arguments"`;
}

export interface AmqpTransportOptions {
  url: string;
  namespace: string;
  logger: Logger;
  /** Shown in the RabbitMQ management UI (suffixed with ":publish" / ":consume"). */
  connectionName?: string;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /**
   * Confirms overdue by then are logged; the publish keeps waiting (its rows stay leased)
   * until the broker confirms it or the channel closes: publishing again would only
   * duplicate what the broker already holds.
   */
  confirmTimeoutMs?: number;
  heartbeatSeconds?: number;
}

const ATTEMPTS = "x-attempts";
/** Per publish, so that a returned message is matched to its publish and no other. */
const PUBLISH_ID = "x-publish-id";

function withHeartbeat(url: string, seconds: number): string {
  const parsed = new URL(url);
  if (!parsed.searchParams.has("heartbeat")) parsed.searchParams.set("heartbeat", String(seconds));
  return parsed.toString();
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

/** The broker could not route a message (mandatory publish returned): nothing holds it. */
class UnroutableError extends Error {
  constructor(exchange: string, routingKey: string, reason: string) {
    super(
      `unroutable: no queue for ${routingKey} on ${exchange || "the default exchange"} (${reason})`,
    );
    this.name = "UnroutableError";
  }
}

interface PendingPublish {
  resolve(): void;
  reject(err: Error): void;
  returned?: Error;
  overdue?: NodeJS.Timeout;
}

/**
 * One confirm channel on the publishing connection. Every publish is mandatory: a
 * message the broker returns (no queue bound) fails its publish even though the broker
 * then confirms it. The channel's write buffer is respected (a full one waits for
 * `drain`), and a publish settles only on the broker's confirm or the channel's end.
 */
class Publisher {
  private readonly pending = new Map<string, PendingPublish>();
  private drained?: Promise<void>;
  private sequence = 0;
  closed = false;

  constructor(
    private readonly channel: ConfirmChannel,
    private readonly transport: AmqpTransport,
  ) {
    channel.on("return", (msg: Message) => {
      const id = String(msg.properties.headers?.[PUBLISH_ID] ?? "");
      const entry = this.pending.get(id);
      if (entry)
        entry.returned = new UnroutableError(
          msg.fields.exchange,
          msg.fields.routingKey,
          "replyText" in msg.fields ? String(msg.fields.replyText) : "NO_ROUTE",
        );
    });
    channel.on("drain", () => this.release());
    channel.on("close", () => {
      this.closed = true;
      this.release();
      for (const [id, entry] of this.pending) {
        this.pending.delete(id);
        clearTimeout(entry.overdue);
        entry.reject(new Error("AMQP publish channel closed before the broker confirmed"));
      }
    });
  }

  get inFlight(): number {
    return this.pending.size;
  }

  async send(
    exchange: string,
    routingKey: string,
    content: Buffer,
    options: Options.Publish,
  ): Promise<void> {
    while (this.drained) await this.drained;
    if (this.closed) throw new Error("AMQP publish channel closed");
    const id = String(++this.sequence);
    return new Promise<void>((resolve, reject) => {
      const entry: PendingPublish = { resolve, reject };
      entry.overdue = setTimeout(
        () => this.transport.confirmsOverdue(this.pending.size),
        this.transport.confirmTimeoutMs,
      );
      this.pending.set(id, entry);
      let writable: boolean;
      try {
        writable = this.channel.publish(
          exchange,
          routingKey,
          content,
          { ...options, mandatory: true, headers: { ...options.headers, [PUBLISH_ID]: id } },
          err => this.settle(id, err),
        );
      } catch (err) {
        this.pending.delete(id);
        clearTimeout(entry.overdue);
        reject(errorOf(err));
        return;
      }
      if (!writable)
        this.drained ??= new Promise(done => {
          this.onDrain = done;
        });
    });
  }

  close(): Promise<void> {
    return bounded(this.channel.close(), 5000);
  }

  private onDrain?: () => void;

  private release(): void {
    const done = this.onDrain;
    this.onDrain = undefined;
    this.drained = undefined;
    done?.();
  }

  private settle(id: string, err: unknown): void {
    const entry = this.pending.get(id);
    if (!entry) return;
    this.pending.delete(id);
    clearTimeout(entry.overdue);
    if (err) entry.reject(errorOf(err));
    else if (entry.returned) entry.reject(entry.returned);
    else entry.resolve();
  }
}

/**
 * The acks of one consumer channel. What was settled during one turn of the event loop (a
 * batch committed together) goes out as one `multiple` ack for the run of settled deliveries
 * at the head of the channel's unsettled ones — a quorum queue writes each ack frame to its
 * log as a settle command of its own, so a batch of 250 costs the broker one instead of 250.
 * A settled delivery behind one still being handled is acked alone in the same turn: no ack
 * waits for another delivery's outcome, and no delivery is acked before its own outcome.
 */
export class ChannelAcks {
  /**
   * The channel's deliveries not yet acked or nacked, in the order the broker sent them (a
   * Map keeps insertion order), each with what settles it: "open" while it is handled,
   * "ack" once an ack is owed, "nacked" once it went back to the queue.
   */
  private readonly deliveries = new Map<ConsumeMessage, "open" | "ack" | "nacked">();
  private pending?: NodeJS.Immediate;

  constructor(private readonly channel: Pick<Channel, "ack" | "nack">) {}

  delivered(msg: ConsumeMessage): void {
    this.deliveries.set(msg, "open");
  }

  /** Its outcome is in the database (or it was moved elsewhere): acked within this turn. */
  ack(msg: ConsumeMessage): void {
    this.settle(msg, "ack");
  }

  /** Sends it back to the queue now (a nack is never deferred or merged). */
  requeue(msg: ConsumeMessage): void {
    try {
      this.channel.nack(msg, false, true);
    } catch {
      // Channel gone: the broker requeues it anyway.
    }
    this.settle(msg, "nacked");
  }

  /** Sends every owed ack now (before the channel closes). */
  flush(): void {
    clearImmediate(this.pending);
    this.pending = undefined;
    let upTo: ConsumeMessage | undefined;
    let atHead = true;
    const alone: ConsumeMessage[] = [];
    for (const [msg, state] of this.deliveries) {
      if (state === "open") {
        atHead = false;
        continue;
      }
      this.deliveries.delete(msg);
      // A `multiple` ack must name a delivery still unacked (a nacked one is not).
      if (state === "ack" && atHead) upTo = msg;
      else if (state === "ack") alone.push(msg);
    }
    try {
      if (upTo) this.channel.ack(upTo, true);
      for (const msg of alone) this.channel.ack(msg);
    } catch {
      // The channel died after the commit: the broker redelivers and processed_events skips it.
    }
  }

  private settle(msg: ConsumeMessage, state: "ack" | "nacked"): void {
    this.deliveries.set(msg, state);
    this.pending ??= setImmediate(() => this.flush());
  }
}

interface DeclareProblem {
  queue: string;
  message: string;
}

class AmqpConsumerGroup implements Subscription {
  readonly names: AmqpTopologyNames;
  private channel?: Channel;
  private acks?: ChannelAcks;
  private consumerTag?: string;
  private stopping = false;
  private readonly running = new Set<Promise<void>>();
  /** Deliveries that came back after a lost connection, handled one after the other. */
  private isolated: Promise<void> = Promise.resolve();
  private retryTimer?: NodeJS.Timeout;
  /** Why the broker refused this group's topology (PRECONDITION_FAILED), while it does. */
  problem?: DeclareProblem;
  attachedTo?: ChannelModel;

  constructor(
    private readonly transport: AmqpTransport,
    private readonly spec: ConsumerGroupSpec,
    namespace: string,
  ) {
    this.names = topologyNames(namespace, spec.group, spec.retry);
  }

  get topology(): GroupTopology {
    return { group: this.spec.group, types: this.spec.types, retry: this.spec.retry };
  }

  /**
   * Declares the group's topology and starts consuming. A declaration the broker refuses
   * (PRECONDITION_FAILED: the queue exists with other arguments) closes this group's
   * channel only: the group reports the problem and tries again later, the others run on.
   */
  async attach(connection: ChannelModel): Promise<void> {
    if (this.stopping || this.attachedTo === connection) return;
    this.attachedTo = connection;
    clearTimeout(this.retryTimer);
    const { names, spec } = this;
    const channel = await connection.createChannel();
    channel.on("error", (err: Error) => {
      if (!describeDeclareError(err))
        this.transport.logger.warn(`AMQP channel of ${names.queue}: ${err.message}`);
    });
    try {
      await declareGroupTopology(channel, names, spec);
    } catch (err) {
      const problem = describeDeclareError(err);
      if (!problem) throw err;
      this.refused(connection, problem);
      return;
    }
    if (this.problem) this.transport.logger.info(`${names.queue} declared; consuming again`);
    this.problem = undefined;
    channel.on("close", () => {
      if (this.channel !== channel) return;
      this.channel = undefined;
      this.acks = undefined;
      this.consumerTag = undefined;
      if (!this.stopping) this.transport.channelLost(`consumer channel of ${names.queue} closed`);
    });
    await channel.prefetch(spec.prefetch);
    const acks = new ChannelAcks(channel);
    this.channel = channel;
    this.acks = acks;
    const { consumerTag } = await channel.consume(names.queue, msg => this.onMessage(acks, msg), {
      noAck: false,
    });
    this.consumerTag = consumerTag;
  }

  private refused(connection: ChannelModel, message: string): void {
    if (this.problem?.message !== message)
      this.transport.logger.error(
        `Consumer group ${this.spec.group} not consuming: ${message}. Its events wait in RabbitMQ; the other groups run on.`,
      );
    this.problem = { queue: this.names.queue, message };
    this.attachedTo = undefined;
    // The operator may migrate the queue while we run: look again now and then.
    this.retryTimer = setTimeout(() => {
      if (!this.stopping && this.transport.isCurrent(connection))
        this.attach(connection).catch(err => this.transport.channelLost(errorOf(err).message));
    }, this.transport.maxBackoffMs);
    this.retryTimer.unref();
  }

  /** The connection is gone: unacked deliveries go back to the queue on the broker's side. */
  detach(): void {
    this.channel = undefined;
    this.acks = undefined;
    this.consumerTag = undefined;
    this.attachedTo = undefined;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.retryTimer);
    const channel = this.channel;
    if (channel && this.consumerTag) await bounded(channel.cancel(this.consumerTag), 5000);
    // In-flight handlers finish and ack on the still-open channel.
    await Promise.allSettled([...this.running]);
    this.acks?.flush();
    this.channel = undefined;
    this.acks = undefined;
    if (channel) await bounded(channel.close(), 5000);
    this.transport.removeGroup(this);
  }

  private onMessage(acks: ChannelAcks, msg: ConsumeMessage | null): void {
    if (msg === null) {
      // The broker cancelled us (queue deleted): declare everything again.
      if (!this.stopping)
        this.transport.channelLost(`consumer of ${this.names.queue} cancelled by the broker`);
      return;
    }
    acks.delivered(msg);
    const task: Promise<void> = this.process(acks, msg)
      .catch(err =>
        this.transport.logger.error(`Durable event delivery failed in ${this.names.queue}`, err),
      )
      .finally(() => this.running.delete(task));
    this.running.add(task);
  }

  private async process(acks: ChannelAcks, msg: ConsumeMessage): Promise<void> {
    const attempt = (Number(msg.properties.headers?.[ATTEMPTS]) || 0) + 1;
    let envelope: EventEnvelope;
    try {
      envelope = parseEnvelope(msg.content);
    } catch (err) {
      if (await this.forward(acks, msg, this.names.dlq, attempt, errorOf(err))) {
        this.spec.deadLettered?.(undefined, attempt, errorOf(err));
      }
      return;
    }
    if (msg.fields.redelivered && this.spec.redelivered) {
      // Back from a connection that ended before its ack: lost, maybe while handled.
      const run = this.isolated.then(() => this.redelivered(acks, msg, envelope, attempt));
      this.isolated = run.catch(() => undefined);
      return run;
    }
    await this.handle(acks, msg, envelope, attempt);
  }

  /**
   * A delivery lost with its connection counts against redeliveryLimit only if a handler
   * started on it and did not finish (a crash): one that was applied is acked, one that
   * waited in the prefetch window is not counted. From its second lost start on it runs
   * alone, so an event that kills its consumer is found without taking its batch along.
   */
  private async redelivered(
    acks: ChannelAcks,
    msg: ConsumeMessage,
    envelope: EventEnvelope,
    attempt: number,
  ): Promise<void> {
    const seen = await this.spec.redelivered?.(envelope);
    if (!seen) return this.handle(acks, msg, envelope, attempt);
    if (seen.applied) {
      acks.ack(msg);
      return;
    }
    const limit = this.spec.retry.redeliveryLimit ?? 10;
    if (seen.lostStarts > limit) {
      const error = new Error(
        `its handling was lost ${seen.lostStarts} times without an outcome (the consumer died while handling it)`,
      );
      if (await this.forward(acks, msg, this.names.dlq, attempt, error))
        this.spec.deadLettered?.(envelope, attempt, error);
      return;
    }
    const handled = this.handle(acks, msg, envelope, attempt);
    if (seen.lostStarts > 1) await handled;
  }

  private async handle(
    acks: ChannelAcks,
    msg: ConsumeMessage,
    envelope: EventEnvelope,
    attempt: number,
  ): Promise<void> {
    try {
      await this.spec.handle(envelope);
    } catch (err) {
      const error = errorOf(err);
      if (attempt >= this.spec.retry.maxAttempts) {
        if (await this.forward(acks, msg, this.names.dlq, attempt, error)) {
          this.spec.deadLettered?.(envelope, attempt, error);
        }
      } else {
        const queue = this.names.retryQueue(retryDelay(this.spec.retry, attempt));
        if (await this.forward(acks, msg, queue, attempt, error)) {
          this.spec.retried?.(envelope, attempt, error);
        }
      }
      return;
    }
    acks.ack(msg);
    this.spec.handled?.(envelope);
  }

  /**
   * Moves a failed delivery to a delay queue or the DLQ: published (mandatory, on the
   * publishing connection) and confirmed there first, then acked here.
   */
  private async forward(
    acks: ChannelAcks,
    msg: ConsumeMessage,
    queue: string,
    attempt: number,
    error: Error,
  ): Promise<boolean> {
    const headers: MessagePropertyHeaders = { ...(msg.properties.headers ?? {}) };
    delete headers["x-death"];
    delete headers[PUBLISH_ID];
    headers[ATTEMPTS] = attempt;
    headers["x-last-error"] = error.message.slice(0, 1000);
    headers["x-failed-at"] = new Date().toISOString();
    headers["x-consumer-group"] = this.spec.group;
    try {
      await this.transport.send("", queue, msg.content, republished(msg, headers));
    } catch (err) {
      this.transport.logger.warn(
        `Could not move a failed event to ${queue}: ${errorOf(err).message}`,
      );
      acks.requeue(msg);
      return false;
    }
    acks.ack(msg);
    return true;
  }
}

interface Link {
  connection?: ChannelModel;
  ready: boolean;
  failures: number;
  timer?: NodeJS.Timeout;
  opening?: Promise<void>;
}

export class AmqpTransport implements EventTransport {
  readonly publishSettles = "confirm" as const;
  readonly logger: Logger;
  readonly confirmTimeoutMs: number;
  private readonly exchange: string;
  private readonly groups = new Set<AmqpConsumerGroup>();
  /** Groups declared ahead of their consumers (declare), by group name. */
  private readonly declared = new Map<string, GroupTopology>();
  /**
   * Two connections: RabbitMQ blocks a connection that publishes while an alarm is on,
   * and a blocked connection also holds its acks — so consumers never publish on theirs.
   */
  private readonly publishing: Link = { ready: false, failures: 0 };
  private readonly consuming: Link = { ready: false, failures: 0 };
  private publisher?: Publisher;
  private blocked?: string;
  private closing = false;
  private lastOverdueWarning = 0;

  constructor(private readonly opts: AmqpTransportOptions) {
    this.logger = opts.logger;
    this.confirmTimeoutMs = opts.confirmTimeoutMs ?? 10_000;
    this.exchange = `${opts.namespace}.events`;
  }

  /** Whether a publish can go out now: connected, topology declared, and not blocked. */
  get connected(): boolean {
    return this.publishing.ready && this.publisher !== undefined && this.blocked === undefined;
  }

  get maxBackoffMs(): number {
    return this.opts.reconnectMaxMs ?? 10_000;
  }

  /**
   * For readiness: what keeps this node's events from flowing, or nothing. A blocked
   * broker is reported in the log, not here: every node would go unready at once.
   */
  problems(): string[] {
    const out: string[] = [];
    if (!this.publishing.ready) out.push("publishing connection down");
    if (this.groups.size > 0 && !this.consuming.ready) out.push("consuming connection down");
    for (const group of this.groups) if (group.problem) out.push(group.problem.message);
    return out;
  }

  /** First connection attempt; if the broker is down the node starts anyway and keeps trying. */
  async start(): Promise<void> {
    await this.connect(this.publishing);
  }

  async publish(envelope: EventEnvelope): Promise<void> {
    const content = Buffer.from(JSON.stringify(envelope));
    await this.send(this.exchange, envelope.type, content, {
      persistent: true,
      contentType: "application/json",
      messageId: envelope.id,
      type: envelope.type,
      appId: envelope.producer,
      timestamp: Math.floor(Date.parse(envelope.occurredAt) / 1000),
      headers: { [ATTEMPTS]: 0 },
    });
  }

  /** A mandatory, confirmed publish on the publishing connection. */
  async send(
    exchange: string,
    routingKey: string,
    content: Buffer,
    options: Options.Publish,
  ): Promise<void> {
    const publisher = this.publisher;
    if (!this.publishing.ready || !publisher) throw new Error("AMQP broker not connected");
    if (this.blocked) throw new Error(`AMQP broker blocked publishing (${this.blocked})`);
    await publisher.send(exchange, routingKey, content, options);
  }

  confirmsOverdue(pending: number): void {
    const now = Date.now();
    if (now - this.lastOverdueWarning < this.confirmTimeoutMs) return;
    this.lastOverdueWarning = now;
    this.logger.warn(
      `AMQP publisher confirms overdue (${pending} pending for over ${this.confirmTimeoutMs} ms); waiting for the broker to confirm or close the channel`,
    );
  }

  async subscribe(spec: ConsumerGroupSpec): Promise<Subscription> {
    const group = new AmqpConsumerGroup(this, spec, this.opts.namespace);
    this.groups.add(group);
    const link = this.consuming;
    if (link.ready && link.connection) {
      await group.attach(link.connection).catch(err => {
        this.logger.error(`Could not declare ${group.names.queue}: ${errorOf(err).message}`);
        this.channelLost("topology declaration failed");
      });
    } else {
      await this.connect(link);
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
    await this.publishing.opening;
    const connection = this.publishing.connection;
    if (this.publishing.ready && connection) await this.declareAhead(connection, groups);
  }

  async replayDeadLetters(
    group: string,
    limit: number,
    replayable: (envelope: EventEnvelope) => boolean = () => true,
  ): Promise<ReplayResult> {
    const connection = this.publishing.connection;
    if (!this.publishing.ready || !connection) throw new Error("AMQP broker not connected");
    const queue = `${this.opts.namespace}.${group}`;
    const dlq = `${queue}.dlq`;
    const channel = await connection.createChannel();
    channel.on("error", () => undefined);
    const result: ReplayResult = { replayed: 0, refused: 0 };
    try {
      // Refused ones go to the DLQ's tail: look at each message at most once.
      let left = (await channel.checkQueue(dlq)).messageCount;
      while (result.replayed < limit && left-- > 0) {
        const msg = await channel.get(dlq, { noAck: false });
        if (msg === false) break;
        const headers: MessagePropertyHeaders = { ...(msg.properties.headers ?? {}) };
        for (const key of [
          "x-death",
          "x-first-death-exchange",
          "x-first-death-queue",
          "x-first-death-reason",
          PUBLISH_ID,
        ]) {
          delete headers[key];
        }
        let envelope: EventEnvelope | undefined;
        try {
          envelope = parseEnvelope(msg.content);
        } catch {
          envelope = undefined;
        }
        const target = envelope && replayable(envelope) ? queue : dlq;
        if (target === queue) {
          headers[ATTEMPTS] = 0;
          headers["x-replayed-at"] = new Date().toISOString();
        } else {
          headers["x-replay-refused"] =
            "older than the processed-id retention: whether it was applied can no longer be told";
        }
        // Confirmed in its target before it leaves the DLQ: a crash here duplicates, never loses.
        await this.send("", target, msg.content, republished(msg, headers));
        channel.ack(msg);
        if (target === queue) result.replayed++;
        else result.refused++;
      }
    } finally {
      await bounded(channel.close(), 5000);
    }
    return result;
  }

  removeGroup(group: AmqpConsumerGroup): void {
    this.groups.delete(group);
  }

  isCurrent(connection: ChannelModel): boolean {
    return this.consuming.connection === connection;
  }

  /** A consumer channel died under a live connection: start over with a fresh connection. */
  channelLost(reason: string): void {
    if (this.closing) return;
    this.logger.warn(`AMQP ${reason}; reconnecting`);
    this.restart(this.consuming);
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const link of [this.publishing, this.consuming]) clearTimeout(link.timer);
    await Promise.allSettled([this.publishing.opening, this.consuming.opening]);
    await Promise.allSettled([...this.groups].map(group => group.stop()));
    const publisher = this.publisher;
    this.publisher = undefined;
    if (publisher) await publisher.close();
    for (const link of [this.publishing, this.consuming]) {
      const connection = link.connection;
      link.ready = false;
      link.connection = undefined;
      if (connection) await bounded(connection.close(), 5000);
    }
  }

  private restart(link: Link): void {
    const connection = link.connection;
    if (connection) {
      this.dropped(link, connection);
      connection.close().catch(() => undefined);
    }
  }

  private connect(link: Link): Promise<void> {
    link.opening ??= this.open(link)
      .catch(err => {
        link.failures++;
        const delay = this.reconnectDelay(link);
        this.logger.warn(
          `AMQP broker unreachable (${errorOf(err).message}); retrying in ${delay} ms`,
        );
        this.scheduleReconnect(link, delay);
      })
      .finally(() => {
        link.opening = undefined;
      });
    return link.opening;
  }

  private async open(link: Link): Promise<void> {
    if (this.closing) return;
    const role = link === this.publishing ? "publish" : "consume";
    const connection = await amqp.connect(
      withHeartbeat(this.opts.url, this.opts.heartbeatSeconds ?? 10),
      {
        clientProperties: {
          connection_name: `${this.opts.connectionName ?? `lingomesh-${this.opts.namespace}`}:${role}`,
        },
        // A black-holed broker must not hold the node's start for the OS's TCP timeout.
        timeout: 5000,
      },
    );
    connection.on("error", (err: Error) =>
      this.logger.warn(`AMQP ${role} connection error: ${err.message}`),
    );
    connection.on("close", () => {
      if (link.connection === connection) {
        this.logger.warn(`AMQP ${role} connection closed`);
        this.dropped(link, connection);
      }
    });
    if (this.closing) {
      await connection.close().catch(() => undefined);
      return;
    }
    link.connection = connection;
    try {
      if (link === this.publishing) await this.openPublisher(connection);
      // A Set iterator also visits groups subscribed while this loop awaits.
      else for (const group of this.groups) await group.attach(connection);
    } catch (err) {
      if (link.connection === connection) this.dropped(link, connection, false);
      await connection.close().catch(() => undefined);
      throw err;
    }
    if (link.connection !== connection)
      throw new Error("connection lost while declaring the topology");
    link.ready = true;
    if (link.failures > 0) this.logger.info(`AMQP ${role} connection restored`);
    link.failures = 0;
  }

  private async openPublisher(connection: ChannelModel): Promise<void> {
    connection.on("blocked", (reason: string) => {
      this.blocked = reason || "resource alarm";
      this.logger.warn(`AMQP broker blocked publishing (${this.blocked}); the outbox holds events`);
    });
    connection.on("unblocked", () => {
      this.blocked = undefined;
      this.logger.info("AMQP broker unblocked publishing");
    });
    this.blocked = undefined;
    const channel = await connection.createConfirmChannel();
    channel.on("error", (err: Error) =>
      this.logger.warn(`AMQP publish channel error: ${err.message}`),
    );
    const publisher = new Publisher(channel, this);
    channel.on("close", () => {
      if (this.publisher === publisher && !this.closing) {
        this.logger.warn("AMQP publish channel closed; reconnecting");
        this.restart(this.publishing);
      }
    });
    await channel.assertExchange(this.exchange, "topic", { durable: true });
    // Before the first publish on this connection: what is published has a queue to wait in.
    // This node's own groups first: were the catalog's siblings declared before them, a
    // producer's retry could be routed to the siblings only (and confirmed) in between.
    const own = [...this.groups].map(group => group.topology);
    await this.declareAhead(connection, [...own, ...this.declared.values()]);
    this.publisher = publisher;
  }

  /**
   * Declares groups ahead of their consumers, each on a channel of its own: a group its
   * consumer declared with other settings is the consumer's to define — the broker
   * refuses ours, which closes only that channel, and we go on.
   */
  private async declareAhead(connection: ChannelModel, groups: GroupTopology[]): Promise<void> {
    for (const topology of groups) {
      const names = topologyNames(this.opts.namespace, topology.group, topology.retry);
      const channel = await connection.createChannel();
      channel.on("error", () => undefined);
      try {
        await declareGroupTopology(channel, names, topology);
      } catch (err) {
        if (this.publishing.connection !== connection) throw err;
        this.logger.warn(
          `Could not declare ${names.queue} ahead of its consumer: ${describeDeclareError(err) ?? errorOf(err).message}`,
        );
      } finally {
        await bounded(channel.close(), 5000);
      }
    }
  }

  /** The connection is gone (or going): forget it and its channels, and come back later. */
  private dropped(link: Link, connection: ChannelModel, reconnect = true): void {
    if (link.connection !== connection) return;
    link.ready = false;
    link.connection = undefined;
    if (link === this.publishing) {
      this.publisher = undefined;
      this.blocked = undefined;
    } else {
      for (const group of this.groups) group.detach();
    }
    if (this.closing || !reconnect) return;
    link.failures++;
    this.scheduleReconnect(link, this.reconnectDelay(link));
  }

  private reconnectDelay(link: Link): number {
    const min = this.opts.reconnectMinMs ?? 200;
    const max = this.maxBackoffMs;
    const base = Math.min(max, min * 2 ** Math.max(0, link.failures - 1));
    // Jitter, so the nodes of a cluster do not all knock at once after a broker restart.
    return Math.round(base * (0.75 + Math.random() * 0.5));
  }

  private scheduleReconnect(link: Link, delay: number): void {
    if (this.closing) return;
    clearTimeout(link.timer);
    link.timer = setTimeout(() => void this.connect(link), delay);
  }
}
