import type { Logger } from "moleculer";
import type { EventEnvelope } from "../../models/events.model";
import {
  errorOf,
  retryDelay,
  type ConsumerGroupSpec,
  type EventTransport,
  type GroupTopology,
  type Subscription,
} from "./transport";

/**
 * The embedded stand-in for RabbitMQ (AMQP_URL unset): an in-process bus per
 * namespace with the same semantics the AMQP transport gives — one queue per
 * consuming service shared by every broker of that service in this process
 * (consumer group), bounded concurrency, retry with exponential back-off and a
 * dead-letter list after the delivery limit.
 *
 * A publish resolves only once every bound group has settled the event (handled or
 * dead-lettered), so the outbox row stays unsent until then: a process that exits
 * with events still queued here re-publishes them from the outbox at its next start.
 *
 * A group declared ahead of its consumer (EventTransport.declare) that no consumer has
 * joined yet keeps what is published for it until one does, without holding the publish:
 * its consumer may not run in this process at all (SERVICES), and the outbox rows — and
 * the other groups' deliveries behind them — must not wait for it. At most
 * AWAITING_CONSUMER_LIMIT such events are kept per group (the oldest go first).
 */

/** Events a group that no consumer has joined yet keeps for it, at most. */
export const AWAITING_CONSUMER_LIMIT = 10_000;

export interface DeadLetter {
  envelope: EventEnvelope;
  attempts: number;
  error: string;
  failedAt: string;
}

interface Message {
  envelope: EventEnvelope;
  attempts: number;
  settle(): void;
}

interface Consumer {
  spec: ConsumerGroupSpec;
  inFlight: number;
  active: boolean;
  running: Set<Promise<void>>;
}

export class MemoryGroup {
  readonly bindings = new Set<string>();
  readonly deadLetters: DeadLetter[] = [];
  private readonly ready: Message[] = [];
  private readonly consumers: Consumer[] = [];
  private cursor = 0;
  /** Whether a consumer has joined: until then the group only keeps events for it. */
  private joined = false;
  /** Events dropped while waiting for the first consumer (over AWAITING_CONSUMER_LIMIT). */
  dropped = 0;
  private warn?: (message: string) => void;

  constructor(readonly name: string) {}

  /** Binds types ahead of the group's first consumer (a producer declaring its consumers). */
  declare(types: string[], warn?: (message: string) => void): void {
    for (const type of types) this.bindings.add(type);
    this.warn ??= warn;
  }

  /** Events waiting for a free consumer (not counting those waiting out a retry delay). */
  get depth(): number {
    return this.ready.length;
  }

  enqueue(envelope: EventEnvelope): Promise<void> {
    if (!this.joined) {
      if (this.ready.length >= AWAITING_CONSUMER_LIMIT) {
        this.ready.shift();
        if (this.dropped++ % AWAITING_CONSUMER_LIMIT === 0) {
          this.warn?.(
            `In-process consumer group ${this.name} never started: dropping its oldest waiting events`,
          );
        }
      }
      this.ready.push({ envelope, attempts: 0, settle: () => undefined });
      return Promise.resolve();
    }
    return new Promise(resolve => {
      this.ready.push({ envelope, attempts: 0, settle: resolve });
      this.dispatch();
    });
  }

  /** Puts dead letters back in the queue with a fresh attempt count. */
  replay(limit: number): number {
    const replayed = this.deadLetters.splice(0, limit);
    for (const dead of replayed) {
      // Settled already (its outbox row is sent): nobody waits for this second run.
      this.ready.push({ envelope: dead.envelope, attempts: 0, settle: () => undefined });
    }
    this.dispatch();
    return replayed.length;
  }

  addConsumer(spec: ConsumerGroupSpec): Subscription {
    const consumer: Consumer = { spec, inFlight: 0, active: true, running: new Set() };
    for (const type of spec.types) this.bindings.add(type);
    this.joined = true;
    this.consumers.push(consumer);
    this.dispatch();
    return {
      stop: async () => {
        consumer.active = false;
        await Promise.allSettled([...consumer.running]);
        const index = this.consumers.indexOf(consumer);
        if (index >= 0) this.consumers.splice(index, 1);
        // What it left queued goes to the others.
        this.dispatch();
      },
    };
  }

  private pick(): Consumer | undefined {
    for (let i = 0; i < this.consumers.length; i++) {
      const consumer = this.consumers[(this.cursor + i) % this.consumers.length];
      if (consumer.active && consumer.inFlight < consumer.spec.prefetch) {
        this.cursor = (this.cursor + i + 1) % this.consumers.length;
        return consumer;
      }
    }
    return undefined;
  }

  private dispatch(): void {
    while (this.ready.length > 0) {
      const consumer = this.pick();
      if (!consumer) return;
      this.run(consumer, this.ready.shift() as Message);
    }
  }

  private run(consumer: Consumer, message: Message): void {
    consumer.inFlight++;
    message.attempts++;
    const { spec } = consumer;
    const task = Promise.resolve()
      .then(() => spec.handle(message.envelope))
      .then(
        () => {
          spec.handled?.(message.envelope);
          message.settle();
        },
        (err: unknown) => this.failed(spec, message, errorOf(err)),
      )
      .finally(() => {
        consumer.inFlight--;
        consumer.running.delete(task);
        this.dispatch();
      });
    consumer.running.add(task);
  }

  private failed(spec: ConsumerGroupSpec, message: Message, error: Error): void {
    if (message.attempts >= spec.retry.maxAttempts) {
      this.deadLetters.push({
        envelope: message.envelope,
        attempts: message.attempts,
        error: error.message,
        failedAt: new Date().toISOString(),
      });
      spec.deadLettered?.(message.envelope, message.attempts, error);
      message.settle();
      return;
    }
    spec.retried?.(message.envelope, message.attempts, error);
    // unref: a pending retry must not keep a stopping process alive (the outbox replays it).
    setTimeout(
      () => {
        this.ready.push(message);
        this.dispatch();
      },
      retryDelay(spec.retry, message.attempts),
    ).unref();
  }
}

export class MemoryBus {
  private readonly groups = new Map<string, MemoryGroup>();

  group(name: string): MemoryGroup {
    let group = this.groups.get(name);
    if (!group) {
      group = new MemoryGroup(name);
      this.groups.set(name, group);
    }
    return group;
  }

  /** Like a topic exchange: every group bound to the type gets its own copy. */
  async publish(envelope: EventEnvelope): Promise<void> {
    const deliveries: Promise<void>[] = [];
    for (const group of this.groups.values()) {
      if (group.bindings.has(envelope.type)) deliveries.push(group.enqueue(envelope));
    }
    await Promise.all(deliveries);
  }
}

const buses = new Map<string, MemoryBus>();

/** The process-wide bus of a namespace (several brokers of one namespace share it). */
export function memoryBus(namespace: string): MemoryBus {
  let bus = buses.get(namespace);
  if (!bus) {
    bus = new MemoryBus();
    buses.set(namespace, bus);
  }
  return bus;
}

export class MemoryTransport implements EventTransport {
  readonly kind = "memory" as const;
  private closed = false;
  private readonly bus: MemoryBus;

  constructor(
    namespace: string,
    private readonly logger?: Logger,
  ) {
    this.bus = memoryBus(namespace);
  }

  get connected(): boolean {
    return !this.closed;
  }

  publish(envelope: EventEnvelope): Promise<void> {
    if (this.closed) return Promise.reject(new Error("in-process event bus closed"));
    return this.bus.publish(envelope);
  }

  async subscribe(spec: ConsumerGroupSpec): Promise<Subscription> {
    return this.bus.group(spec.group).addConsumer(spec);
  }

  async declare(groups: GroupTopology[]): Promise<void> {
    const warn = this.logger && ((message: string) => this.logger?.warn(message));
    for (const { group, types } of groups) this.bus.group(group).declare(types, warn);
  }

  async replayDeadLetters(group: string, limit: number): Promise<number> {
    return this.bus.group(group).replay(limit);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
